// Sends one owed notice (the mail worker's job of kind "notice"): the row is claimed FOR UPDATE
// SKIP LOCKED and marked sent in the same transaction as the sending, as the answer emails are;
// a transient failure rolls it back (owed still, the job retries), a permanent one marks it done
// and fails the job for good. What the email says is composed by the notice's kind.
import { UnrecoverableError } from 'bullmq';
import { sql } from 'kysely';
import type pg from 'pg';
import { inTransaction, qb, type Queryable } from '../db/db.ts';
import { classifySendError, type Mailer } from '../mail/mailer.ts';
import type { RenderedMail } from '../mail/render.ts';
import { mailDomain } from '../signature/confirmation.service.ts';
import { composeThresholdNotice, type NoticeToCompose } from '../delivery/threshold.service.ts';
import { composeUpdateNotice } from '../action/update.service.ts';
import { memberMail, memberMessage } from './member-mail.ts';
import type { TokenDeps } from './supporter.service.ts';
import { openRecipient } from '../privacy/personal-data.ts';

export interface NoticeMailDeps extends TokenDeps {
  pool: pg.Pool;
  mailer: Mailer;
  mailFrom: string;
  publicBaseUrl: string;
}

export type NoticeOutcome = 'sent' | 'not-owed' | 'dropped';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Composer = (db: Queryable, n: NoticeToCompose, links: { publicBaseUrl: string; footer: Record<string, string> }) => Promise<RenderedMail | null>;
const COMPOSERS: Record<string, Composer> = { threshold: composeThresholdNotice, update: composeUpdateNotice };

export async function sendMemberNotice(deps: NoticeMailDeps, noticeId: string): Promise<NoticeOutcome> {
  if (!UUID.test(noticeId)) return 'not-owed';
  const outcome = await inTransaction(deps.pool, async (client): Promise<NoticeOutcome | { refused: string }> => {
    const db = qb(client);
    const n = await db
      .selectFrom('member_notices as n')
      .innerJoin('supporters as p', 'p.id', 'n.supporter_id')
      .select((eb) => [
        'n.id',
        'n.kind',
        'n.subject_id as subjectId',
        'n.event',
        'n.locale',
        'p.id as supporterId',
        'p.email',
        'p.name',
        'p.data_key as dataKey',
        eb.and([eb('p.erased_at', 'is', null), eb('p.unsubscribed_at', 'is', null), eb('p.email', 'is not', null)]).as('eligible'),
      ])
      .where('n.id', '=', noticeId)
      .where('n.sent_at', 'is', null)
      .forUpdate('n')
      .skipLocked()
      .executeTakeFirst();
    if (!n) return 'not-owed';
    const done = () => db.updateTable('member_notices').set({ sent_at: sql<Date>`now()` }).where('id', '=', n.id).execute();
    const compose = COMPOSERS[n.kind];
    // unsubscribed or erased since it was owed, or of a kind this version does not know: owed no more
    if (!n.eligible || !compose) {
      await done();
      return 'dropped';
    }
    const recipient = openRecipient(n.supporterId, n.dataKey, n.email, n.name);
    const member = memberMail(deps, n.supporterId, n.locale);
    const mail = await compose(client, { id: n.id, subjectId: n.subjectId, event: n.event, locale: n.locale, firstName: recipient.firstName }, { publicBaseUrl: deps.publicBaseUrl, footer: member.vars });
    if (!mail) {
      await done();
      return 'dropped';
    }
    try {
      await deps.mailer.sendMail(memberMessage(deps.mailFrom, recipient.email!, mail, member, `<notice.${n.id}@${mailDomain(deps.mailFrom)}>`));
    } catch (err) {
      const failure = classifySendError(err);
      if (!failure.permanent) throw err;
      await done();
      return { refused: failure.reason };
    }
    await done();
    return 'sent';
  });
  if (typeof outcome === 'object') throw new UnrecoverableError(`notice email refused: ${outcome.refused}`);
  return outcome;
}
