// When an action's confirmed, undelivered signatures become a delivery.
import type { DeliveryPolicy } from '../generated/prisma/enums.ts';

export interface PolicyInput {
  policy: DeliveryPolicy;
  everyN: number;
  /** confirmed signatures not yet in any batch */
  undelivered: number;
  status: 'DRAFT' | 'PUBLISHED' | 'CLOSED' | 'ARCHIVED';
}

/**
 * Which deliveries are due now. IMMEDIATE and EVERY_N are decided here from counts alone;
 * DAILY_DIGEST, MILESTONES and ON_CLOSE need the target's clock and the action's history
 * and are not delivered automatically yet (they wait for the delivery-engine work).
 */
export function deliveryDue(p: PolicyInput): boolean {
  if (p.undelivered <= 0 || p.status === 'DRAFT' || p.status === 'ARCHIVED') return false;
  switch (p.policy) {
    case 'IMMEDIATE':
      return true;
    case 'EVERY_N':
      // on a closed action the remainder goes out even below N, so no signature is stranded
      return p.undelivered >= p.everyN || p.status === 'CLOSED';
    default:
      return false;
  }
}
