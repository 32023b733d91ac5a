// The sweeper reads what the database says is still owed and enqueues it again. Jobs are
// deduplicated by id, and processors re-check state, so sweeping too often is harmless;
// sweeping at all is what makes a lost job, a dead worker or a flushed Redis lose nothing.
import type pg from 'pg';
import { LetterStatus, SignatureStatus, qb } from '../db/db.ts';
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
  const windowStart = budget ? budgetWindowStart(deps.clock(), budget.windowMs) : null;
  const owedMail = await qb(deps.pool)
    .selectFrom('confirmation_emails as e')
    .innerJoin('signatures as s', 's.id', 'e.signature_id')
    .innerJoin('supporters as p', 'p.id', 'e.supporter_id')
    .select(['e.signature_id as id', 'e.requested_at as requestedAt'])
    .where((eb) => eb.or([eb('e.sent_at', 'is', null), eb('e.requested_at', '>', eb.ref('e.sent_at'))]))
    .where('s.status', '<>', SignatureStatus.INVALIDATED)
    .where('e.requested_at', '<', new Date(now - deps.graceMs))
    // with a budget, not one whose address has used up this window's emails (unless already let go)
    .$if(budget !== undefined, (q) =>
      q.where((eb) =>
        eb.or([
          eb('e.released_at', '>=', eb.ref('e.requested_at')),
          eb('p.confirmation_window_at', 'is distinct from', windowStart),
          eb('p.confirmation_window_sent', '<', budget!.perWindow),
        ]),
      ),
    )
    .orderBy('e.requested_at')
    .limit(5000)
    .execute();
  // still owed after the grace time: a finished job of the same id did not do it, and would
  // swallow the enqueue below as its duplicate
  await deps.queues.forgetFinished('mail', owedMail.map((r) => confirmationJobId(r.id, r.requestedAt)));
  await deps.queues.enqueueConfirmations(owedMail.map((r) => ({ signatureId: r.id, requestedAt: r.requestedAt })));

  const owedLetters = await qb(deps.pool)
    .selectFrom('letters')
    .select(['id', 'attempts'])
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', LetterStatus.PENDING), eb('next_attempt_at', '<', new Date(now - deps.graceMs))]),
        eb.and([eb('status', '=', LetterStatus.SUBMITTING), eb('submitting_at', '<', new Date(now - deps.staleSubmittingMs))]),
      ]),
    )
    .orderBy('next_attempt_at')
    .limit(5000)
    .execute();
  await deps.queues.forgetFinished('delivery', owedLetters.map((r) => letterJobId(r.id, r.attempts)));
  await deps.queues.enqueueLetters(owedLetters);
  return { confirmations: owedMail.length, letters: owedLetters.length };
}
