// The sweeper reads what the database says is still owed and enqueues it again. Jobs are
// deduplicated by id, and processors re-check state, so sweeping too often is harmless;
// sweeping at all is what makes a lost job, a dead worker or a flushed Redis lose nothing.
import type pg from 'pg';
import { confirmationJobId, letterJobId, type Queues } from '../queue/queue.ts';

export interface SweepDeps {
  pool: pg.Pool;
  queues: Pick<Queues, 'enqueueConfirmations' | 'enqueueLetters' | 'forgetFinished'>;
  clock: () => Date;
  /** leave fresh work to the normal path for this long */
  graceMs: number;
  /** a SUBMITTING letter older than this belongs to a dead worker */
  staleSubmittingMs: number;
}

export async function sweep(deps: SweepDeps): Promise<{ confirmations: number; letters: number }> {
  const now = deps.clock().getTime();
  const owedMail = await deps.pool.query<{ id: string; requested_at: Date }>(
    `SELECT id, confirmation_requested_at AS requested_at FROM signatures
     WHERE (confirmation_sent_at IS NULL OR confirmation_requested_at > confirmation_sent_at)
       AND status <> 'INVALIDATED' AND confirmation_requested_at < $1
     ORDER BY confirmation_requested_at LIMIT 5000`,
    [new Date(now - deps.graceMs)],
  );
  // still owed after the grace time: a finished job of the same id did not do it, and would
  // swallow the enqueue below as its duplicate
  await deps.queues.forgetFinished('mail', owedMail.rows.map((r) => confirmationJobId(r.id, r.requested_at)));
  await deps.queues.enqueueConfirmations(owedMail.rows.map((r) => ({ signatureId: r.id, requestedAt: r.requested_at })));

  const owedLetters = await deps.pool.query<{ id: string; attempts: number }>(
    `SELECT id, attempts FROM letters
     WHERE (status = 'PENDING' AND next_attempt_at < $1) OR (status = 'SUBMITTING' AND submitting_at < $2)
     ORDER BY next_attempt_at LIMIT 5000`,
    [new Date(now - deps.graceMs), new Date(now - deps.staleSubmittingMs)],
  );
  await deps.queues.forgetFinished('delivery', owedLetters.rows.map((r) => letterJobId(r.id, r.attempts)));
  await deps.queues.enqueueLetters(owedLetters.rows);
  return { confirmations: owedMail.rows.length, letters: owedLetters.rows.length };
}
