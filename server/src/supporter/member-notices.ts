// The outbox of emails to signers about what came of their action: a threshold reached, an
// official's date passed without an answer (delivery/threshold.service.ts), a case update
// (action/update.service.ts). The change that owes them writes one member_notices row per
// (kind, subject, event, supporter) in its own transaction; the unique key means doing it
// twice owes nobody a second email. The mail worker sends what has no sent_at (notice-mail.ts),
// and the sweeper enqueues again what stayed owed.
import type pg from 'pg';
import { SignatureStatus, qb, type Queryable } from '../db/db.ts';
import { latestContactConsent } from './consent.ts';

export type NoticeKind = 'threshold' | 'update';

/** The confirmed signers of an action who chose to hear from the campaign, as the answer emails have them. */
export function optedInSigners(db: Queryable, actionId: string) {
  return qb(db)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .where('s.action_id', '=', actionId)
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .where('p.email', 'is not', null)
    .where('p.erased_at', 'is', null)
    .where('p.unsubscribed_at', 'is', null)
    .where((w) => latestContactConsent(w.ref('p.id')));
}

/** Owes every opted-in signer of the action one notice of `event` about `subjectId` (once each, whatever happens twice). */
export async function oweNotices(db: Queryable, kind: NoticeKind, subjectId: string, event: string, actionId: string, now: Date): Promise<string[]> {
  const rows = await qb(db)
    .insertInto('member_notices')
    .columns(['kind', 'subject_id', 'event', 'supporter_id', 'locale', 'requested_at'])
    .expression((eb) =>
      optedInSigners(db, actionId).select([eb.val(kind).as('kind'), eb.val(subjectId).as('subject_id'), eb.val(event).as('event'), 's.supporter_id', 's.locale', eb.val(now).as('requested_at')]),
    )
    .onConflict((oc) => oc.columns(['kind', 'subject_id', 'event', 'supporter_id']).doNothing())
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** What the sweeper re-enqueues: notices owed for longer than the grace time. */
export async function owedNotices(pool: pg.Pool, before: Date, limit = 5000): Promise<string[]> {
  const rows = await qb(pool).selectFrom('member_notices').select('id').where('sent_at', 'is', null).where('requested_at', '<', before).orderBy('requested_at').limit(limit).execute();
  return rows.map((r) => r.id);
}
