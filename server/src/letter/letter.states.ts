import type { LetterStatus } from '../generated/kysely/enums.ts';
import { stateMachine } from '../shared/states.ts';

/**
 * PENDING: owed. SUBMITTING: a worker is handing it to SMTP (a stale SUBMITTING row is
 * re-claimed after a crash and resent with the same Message-ID). SENT: accepted by the
 * receiving server. FAILED: permanently refused. BOUNCED: accepted, then returned.
 */
export const letterStates = stateMachine<LetterStatus>({
  PENDING: ['SUBMITTING'],
  SUBMITTING: ['SENT', 'PENDING', 'FAILED', 'SUBMITTING'],
  SENT: ['BOUNCED'],
  FAILED: ['PENDING'],
  BOUNCED: [],
});
