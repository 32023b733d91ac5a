import type { SignatureStatus } from '../generated/prisma/enums.ts';
import { stateMachine } from '../shared/states.ts';

/** A signature counts only once confirmed; staff may invalidate one at any time. */
export const signatureStates = stateMachine<SignatureStatus>({
  PENDING: ['CONFIRMED', 'INVALIDATED'],
  CONFIRMED: ['INVALIDATED'],
  INVALIDATED: [],
});
