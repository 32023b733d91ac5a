import type { SignatureStatus } from '../generated/kysely/enums.ts';
import { stateMachine } from '../shared/states.ts';

/**
 * A signature counts only once confirmed; staff may invalidate one at any time, and its owner
 * may discard a pending one ("This was not me"). INVALIDATED -> PENDING only for a signature
 * never confirmed (confirmed_at IS NULL), when a clean sign-up with the same address replaces
 * a flagged or discarded one (signature.repository.ts): a forged sign-up never blocks the
 * person whose address it used. A signature once confirmed and then invalidated stays so.
 */
export const signatureStates = stateMachine<SignatureStatus>({
  PENDING: ['CONFIRMED', 'INVALIDATED'],
  CONFIRMED: ['INVALIDATED'],
  INVALIDATED: ['PENDING'],
});
