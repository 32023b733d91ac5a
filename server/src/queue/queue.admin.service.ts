// The staff console's queue view, from the database's side: the work it says is owed (to set
// beside what BullMQ holds in Redis, so an admin sees whether the workers keep up), and pausing
// or resuming a queue, audited.
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { sql } from 'kysely';
import { LetterStatus, qb, SignatureStatus, type Queryable } from '../db/db.ts';
import { recordAudit } from '../staff/audit.ts';

export interface OwedWork {
  /** confirmation emails owed: pending signatures never emailed, or asked for again since */
  confirmations: number;
  /** letters PENDING or SUBMITTING */
  letters: number;
  /** of those, PENDING and due now */
  lettersDue: number;
}

const count = sql<number>`count(*)::int`;

export async function owedWork(db: Queryable): Promise<OwedWork> {
  const row = await qb(db)
    .selectNoFrom((eb) => [
      eb
        .selectFrom('confirmation_emails as e')
        .innerJoin('signatures as s', 's.id', 'e.signature_id')
        .select(count.as('n'))
        .where((w) => w.or([w('e.sent_at', 'is', null), w('e.requested_at', '>', w.ref('e.sent_at'))]))
        .where('s.status', '=', SignatureStatus.PENDING)
        .as('confirmations'),
      eb
        .selectFrom('letters')
        .select(count.as('n'))
        .where('status', 'in', [LetterStatus.PENDING, LetterStatus.SUBMITTING])
        .as('letters'),
      eb
        .selectFrom('letters')
        .select(count.as('n'))
        .where('status', '=', LetterStatus.PENDING)
        .where('next_attempt_at', '<=', sql<Date>`now()`)
        .as('lettersDue'),
    ])
    .executeTakeFirstOrThrow();
  return { confirmations: row.confirmations ?? 0, letters: row.letters ?? 0, lettersDue: row.lettersDue ?? 0 };
}

/** Pauses (workers take no new jobs; those under way finish) or resumes a queue, audited with its state before. */
export async function switchQueue(pool: pg.Pool, queue: Queue, staffId: string, verb: 'pause' | 'resume'): Promise<{ name: string; paused: boolean }> {
  const before = await queue.isPaused();
  if (verb === 'pause') await queue.pause();
  else await queue.resume();
  const paused = verb === 'pause';
  await recordAudit(pool, { staffId, verb: `queue_${verb}d`, entity: 'queue', entityId: queue.name, before: { paused: before }, after: { paused } });
  return { name: queue.name, paused };
}
