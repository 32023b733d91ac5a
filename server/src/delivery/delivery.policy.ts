// When an action's confirmed, undelivered signatures become a delivery.
import { ActionStatus, DeliveryPolicy } from '../db/db.ts';

export interface PolicyInput {
  policy: DeliveryPolicy;
  everyN: number;
  milestones: readonly number[];
  /** confirmed signatures not yet in any batch */
  undelivered: number;
  /** confirmed signatures in all */
  confirmedTotal: number;
  /** when the last batch was made, and the confirmed total it reported */
  lastBatchAt: Date | null;
  lastBatchTotal: number;
  status: ActionStatus;
  now: Date;
  /** whether the office of one of the action's officials is open now (true for an action with none) */
  anyOfficeOpen: boolean;
}

/** A daily digest waits this long after the last one (a little under a day, so it does not drift later). */
export const DIGEST_GAP_MS = 23 * 3_600_000;

export function deliveryDue(p: PolicyInput): boolean {
  if (p.undelivered <= 0 || p.status === ActionStatus.DRAFT || p.status === ActionStatus.ARCHIVED) return false;
  // whatever the policy, closing an action sends what is left, so no signature is stranded
  if (p.status === ActionStatus.CLOSED) return true;
  switch (p.policy) {
    case DeliveryPolicy.IMMEDIATE:
      return true;
    case DeliveryPolicy.EVERY_N:
      return p.undelivered >= p.everyN;
    case DeliveryPolicy.DAILY_DIGEST:
      // once a day, made while an office of the action's officials is open (the letters to the
      // others wait for theirs): the digest carries the signatures up to an opening, not up to
      // whenever the day's gap ran out, and its time stays at the opening instead of drifting
      // an hour a day round the clock
      return (p.lastBatchAt === null || p.now.getTime() - p.lastBatchAt.getTime() >= DIGEST_GAP_MS) && p.anyOfficeOpen;
    case DeliveryPolicy.MILESTONES:
      return p.milestones.some((m) => p.confirmedTotal >= m && p.lastBatchTotal < m);
    case DeliveryPolicy.ON_CLOSE:
      return false;
  }
}

/** Daily digests reach each official inside office hours; every other policy sends at once. */
export function sendsInOfficeHours(policy: DeliveryPolicy): boolean {
  return policy === DeliveryPolicy.DAILY_DIGEST;
}
