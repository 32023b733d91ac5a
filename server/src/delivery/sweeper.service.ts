// The sweeper reads what the database says is still owed and enqueues it again. Jobs are
// deduplicated by id, and processors re-check state, so sweeping too often is harmless;
// sweeping at all is what makes a lost job, a dead worker or a flushed Redis lose nothing.
import type pg from 'pg';
import { confirmationJobId, letterJobId, type Queues } from '../queue/queue.ts';
import { budgetWindowStart, type ConfirmationBudget } from '../signature/confirmation.service.ts';

export interface SweepDeps {
  pool: pg.Pool;
  queues: Pick<Queues, 'enqueueConfirmations' | 'enqueueLetters' | 'forgetFinished'>;
  clock: () => Date;
  /** leave fresh work to the normal path for this long */
  graceMs: number;
  /** a SUBMITTING letter older than this belongs to a dead worker */
  staleSubmittingMs: number;
  /**
   * the per-address budget of confirmation emails (signature/confirmation.service.ts): an owed
   * email not yet let go, of an address whose budget for this window is used up, waits for the
   * next window (its job is delayed to then), so the sweeper leaves it alone until then
   */
  confirmationBudget?: ConfirmationBudget;
}

export async function sweep(deps: SweepDeps): Promise<{ confirmations: number; letters: number }> {
  const now = deps.clock().getTime();
  const budget = deps.confirmationBudget;
  const owedMail = await deps.pool.query<{ id: string; requested_at: Date }>(
    `SELECT e.signature_id AS id, e.requested_at FROM confirmation_emails e
     JOIN signatures s ON s.id = e.signature_id JOIN supporters p ON p.id = e.supporter_id
     WHERE (e.sent_at IS NULL OR e.requested_at > e.sent_at)
       AND s.status <> 'INVALIDATED' AND e.requested_at < $1
       AND ($2::timestamptz IS NULL OR e.released_at >= e.requested_at
            OR p.confirmation_window_at IS DISTINCT FROM $2 OR p.confirmation_window_sent < $3)
     ORDER BY e.requested_at LIMIT 5000`,
    [new Date(now - deps.graceMs), budget ? budgetWindowStart(deps.clock(), budget.windowMs) : null, budget?.perWindow ?? 0],
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
