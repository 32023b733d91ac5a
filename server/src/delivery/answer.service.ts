// Answers from officials, after they reach us on the packet page: staff review them, publish
// (optionally with a public summary) or reject them. Publishing makes the answer visible on
// the public action page and tells every signer who asked to hear from us.
//
// The "answer published" emails go through an outbox, like confirmations: publishing writes
// one answer_notifications row per (answer, supporter) in the same transaction, and the mail
// worker sends what has no sent_at. The unique (answer_id, supporter_id) key means
// publishing again (or twice at once) owes nobody a second email; the worker claims a row
// with FOR UPDATE SKIP LOCKED and marks it sent in the same transaction, so two workers never
// both send it. At-least-once across a crash between SMTP acceptance and the commit, with the
// same Message-ID, as for letters.
import { isAcknowledgement } from '../shared/acknowledgement.ts';
import { UnrecoverableError } from 'bullmq';
import { sql } from 'kysely';
import { jsonArrayFrom, jsonBuildObject } from 'kysely/helpers/postgres';
import type pg from 'pg';
import { z } from 'zod';
import { AnswerStatus, SignatureStatus, inTransaction, qb, type Queryable } from '../db/db.ts';
import { classifySendError, type Mailer } from '../mail/mailer.ts';
import { render } from '../mail/render.ts';
import type { Queues } from '../queue/queue.ts';
import { conflict, notFound } from '../shared/errors.ts';
import { blockText } from '../shared/text.ts';
import { mailDomain } from '../signature/confirmation.service.ts';
import { recordAudit } from '../staff/audit.ts';
import { memberMail, memberMessage, memberPageUrl } from '../supporter/member-mail.ts';
import type { TokenDeps } from '../supporter/supporter.service.ts';
import { actionTitle } from './action-title.ts';
import { batchFirstSent, secondsBetween } from './ledger.ts';
import { latestContactConsent } from '../supporter/consent.ts';
import { localTargetLine } from '../target/target-names.ts';
import { openRecipient } from '../privacy/personal-data.ts';


export const publishInputSchema = z.strictObject({
  publicSummary: blockText(5_000, 'publicSummary').optional(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function mustBeUuid(id: string, what: string): void {
  if (!UUID.test(id)) throw notFound(`${what}_not_found`, `No ${what} ${JSON.stringify(id.slice(0, 60))}`);
}

/**
 * Answers as staff review them: the answer, its action and target, the letter it answers and
 * how long after the delivery it came (responseSeconds: from the first letter of the batch
 * accepted to this answer), its attachments, and the "an official answered" emails it owes
 * and has sent. Those awaiting review first, then newest first.
 */
function answerRows(db: Queryable) {
  return qb(db)
    .selectFrom('answers as r')
    .innerJoin('actions as a', 'a.id', 'r.action_id')
    .innerJoin('targets as g', 'g.id', 'r.target_id')
    .leftJoin('letters as l', 'l.id', 'r.letter_id')
    .leftJoin('staff_users as s', 's.id', 'r.reviewed_by')
    .select((eb) => {
      const notifications = (sent: boolean) =>
        eb
          .selectFrom('answer_notifications as n')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('n.answer_id', '=', 'r.id')
          .where('n.sent_at', sent ? 'is not' : 'is', null)
          .$asScalar();
      return [
        'r.id',
        'r.status',
        'r.body',
        'r.public_summary as publicSummary',
        'r.received_at as receivedAt',
        'r.published_at as publishedAt',
        'r.reviewed_at as reviewedAt',
        's.email as reviewerEmail',
        jsonBuildObject({
          id: eb.ref('a.id'),
          slug: eb.ref('a.slug'),
          title: actionTitle({ id: eb.ref('a.id'), defaultLocale: eb.ref('a.default_locale'), slug: eb.ref('a.slug') }),
        }).as('action'),
        jsonBuildObject({ id: eb.ref('g.id'), name: eb.ref('g.name'), title: eb.ref('g.title'), organisation: eb.ref('g.organisation') }).as('target'),
        'r.letter_id as letterId',
        'l.sent_at as letterSentAt',
        // null without a letter (its batch is null, and so is its first sending)
        secondsBetween(batchFirstSent(eb.ref('l.batch_id')), eb.ref('r.received_at')).as('responseSeconds'),
        jsonArrayFrom(
          eb
            .selectFrom('answer_attachments as x')
            .select(['x.id', 'x.filename', 'x.content_type as contentType', 'x.size'])
            .whereRef('x.answer_id', '=', 'r.id')
            .orderBy('x.created_at'),
        ).as('attachments'),
        jsonBuildObject({ owed: notifications(false), sent: notifications(true) }).as('notifications'),
      ];
    })
    .orderBy((eb) => eb('r.status', '=', AnswerStatus.RECEIVED), 'desc')
    .orderBy('r.received_at', 'desc');
}

export type AnswerRow = Awaited<ReturnType<ReturnType<typeof answerRows>['execute']>>[number];

export async function listAnswers(pool: pg.Pool, filter: { status?: AnswerStatus; actionId?: string; limit: number }): Promise<AnswerRow[]> {
  if (filter.actionId) mustBeUuid(filter.actionId, 'action');
  return answerRows(pool)
    .$if(filter.status !== undefined, (q) => q.where('r.status', '=', filter.status!))
    .$if(Boolean(filter.actionId), (q) => q.where('r.action_id', '=', filter.actionId!))
    .limit(filter.limit)
    .execute();
}

export async function getAnswer(pool: pg.Pool, id: string): Promise<AnswerRow> {
  mustBeUuid(id, 'answer');
  const row = await answerRows(pool).where('r.id', '=', id).limit(1).executeTakeFirst();
  if (!row) throw notFound('answer_not_found', 'No such answer');
  return row;
}

export interface AnswerDeps {
  pool: pg.Pool;
  clock: () => Date;
  queues?: Pick<Queues, 'enqueueAnswerNotifications'>;
  /** refreshes the public pages' cache after a change, so the answer shows at once */
  refreshPublic?: () => Promise<void>;
}

/**
 * Publishes an answer (or updates the summary of a published one) and owes the email to
 * every confirmed signer of the action who opted in to contact, is not unsubscribed and not
 * erased. Returns how many emails this call newly owes (0 on a second publish).
 */
export async function publishAnswer(deps: AnswerDeps, staffId: string, id: string, input: z.infer<typeof publishInputSchema>) {
  mustBeUuid(id, 'answer');
  const now = deps.clock();
  const result = await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const r = await db
      .selectFrom('answers')
      .select(['status', 'public_summary', 'action_id', 'published_at', 'body'])
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (!r) throw notFound('answer_not_found', 'No such answer');
    if (r.status === AnswerStatus.REJECTED) throw conflict('answer_rejected', 'This answer was rejected; it cannot be published');
    const summary = input.publicSummary === undefined ? r.public_summary : input.publicSummary.trim() || null;
    await db
      .updateTable('answers')
      .set((eb) => ({
        status: AnswerStatus.PUBLISHED,
        published_at: eb.fn.coalesce('published_at', eb.val(now)),
        public_summary: summary,
        reviewed_by: staffId,
        reviewed_at: now,
      }))
      .where('id', '=', id)
      .execute();
    // the latest CONTACT consent decides; the signature's language is the email's. An
    // acknowledgement of receipt is shown on the page but emails nobody: it is not an answer
    const owed = isAcknowledgement(r.body)
      ? []
      : await db
        .insertInto('answer_notifications')
        .columns(['answer_id', 'supporter_id', 'locale', 'requested_at'])
        .expression((eb) =>
          eb
            .selectFrom('signatures as s')
            .innerJoin('supporters as p', 'p.id', 's.supporter_id')
            .select([eb.val(id).as('answer_id'), 's.supporter_id', 's.locale', eb.val(now).as('requested_at')])
            .where('s.action_id', '=', r.action_id)
            .where('s.status', '=', SignatureStatus.CONFIRMED)
            .where('p.email', 'is not', null)
            .where('p.erased_at', 'is', null)
            .where('p.unsubscribed_at', 'is', null)
            // the signer's latest choice is to be contacted (supporter/consent.ts)
            .where((w) => latestContactConsent(w.ref('p.id'))),
        )
        .onConflict((oc) => oc.columns(['answer_id', 'supporter_id']).doNothing())
        .returning('id')
        .execute();
    await recordAudit(client, {
      staffId,
      verb: r.status === AnswerStatus.PUBLISHED ? 'answer_updated' : 'answer_published',
      entity: 'answer',
      entityId: id,
      before: { status: r.status, publicSummary: r.public_summary },
      after: { status: AnswerStatus.PUBLISHED, publicSummary: summary, notificationsOwed: owed.length },
      at: now,
    });
    return { ids: owed.map((o) => o.id) };
  });
  await deps.queues?.enqueueAnswerNotifications(result.ids).catch(() => {
    // owed in the database: the sweeper enqueues them
  });
  await deps.refreshPublic?.().catch(() => {});
  return { status: AnswerStatus.PUBLISHED, notificationsOwed: result.ids.length };
}

/** Rejects an answer: never shown publicly (withdrawn if it was), nobody is emailed. */
export async function rejectAnswer(deps: AnswerDeps, staffId: string, id: string) {
  mustBeUuid(id, 'answer');
  await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const r = await db.selectFrom('answers').select('status').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!r) throw notFound('answer_not_found', 'No such answer');
    if (r.status === AnswerStatus.REJECTED) return;
    await db.updateTable('answers').set({ status: AnswerStatus.REJECTED, reviewed_by: staffId, reviewed_at: deps.clock() }).where('id', '=', id).execute();
    // emails not yet sent for a withdrawn answer are no longer owed
    await db.deleteFrom('answer_notifications').where('answer_id', '=', id).where('sent_at', 'is', null).execute();
    await recordAudit(client, {
      staffId,
      verb: 'answer_rejected',
      entity: 'answer',
      entityId: id,
      before: { status: r.status },
      after: { status: AnswerStatus.REJECTED },
      at: deps.clock(),
    });
  });
  await deps.refreshPublic?.().catch(() => {});
  return { status: AnswerStatus.REJECTED };
}

export async function getAttachment(pool: pg.Pool, answerId: string, attachmentId: string, opts: { publishedOnly: boolean }) {
  mustBeUuid(answerId, 'answer');
  mustBeUuid(attachmentId, 'attachment');
  const row = await qb(pool)
    .selectFrom('answer_attachments as x')
    .innerJoin('answers as r', 'r.id', 'x.answer_id')
    .select(['x.filename', 'x.content_type as contentType', 'x.data'])
    .where('x.id', '=', attachmentId)
    .where('r.id', '=', answerId)
    .$if(opts.publishedOnly, (q) => q.where('r.status', '=', AnswerStatus.PUBLISHED))
    .executeTakeFirst();
  if (!row) throw notFound('attachment_not_found', 'No such attachment');
  return row;
}

export interface AnswerMailDeps extends TokenDeps {
  pool: pg.Pool;
  mailer: Mailer;
  mailFrom: string;
  publicBaseUrl: string;
}

export type AnswerMailOutcome = 'sent' | 'not-owed' | 'dropped';

/**
 * Sends one owed "answer published" email (the mail worker's job for kind "answer"). The row is
 * claimed (FOR UPDATE SKIP LOCKED) and marked sent in one transaction around the sending; a
 * transient failure rolls it back (owed still, the job retries), a permanent one commits it as
 * done and then fails the job for good.
 */
/** The language of an answer, named in the email's language where it is another: `answerLanguage`, and `answerLang` for its `lang`. */
function answerLanguage(answerLocale: string, emailLocale: string): { answerLanguage?: string; answerLang?: string } {
  if (answerLocale === emailLocale) return {};
  const name = new Intl.DisplayNames([emailLocale], { type: 'language', fallback: 'code' }).of(answerLocale) ?? answerLocale;
  return { answerLanguage: name, answerLang: answerLocale };
}

export async function sendAnswerNotification(deps: AnswerMailDeps, notificationId: string): Promise<AnswerMailOutcome> {
  if (!UUID.test(notificationId)) return 'not-owed';
  const outcome = await inTransaction(deps.pool, async (client): Promise<AnswerMailOutcome | { refused: string }> => {
    const db = qb(client);
    const n = await db
      .selectFrom('answer_notifications as n')
      .innerJoin('supporters as p', 'p.id', 'n.supporter_id')
      .innerJoin('answers as r', 'r.id', 'n.answer_id')
      .innerJoin('actions as a', 'a.id', 'r.action_id')
      .innerJoin('targets as g', 'g.id', 'r.target_id')
      .select((eb) => [
        'n.id',
        'n.locale',
        'p.id as supporterId',
        'p.email',
        'p.name',
        'p.data_key as dataKey',
        'r.status',
        'r.body',
        'r.public_summary as publicSummary',
        'a.slug',
        eb.and([eb('p.erased_at', 'is', null), eb('p.unsubscribed_at', 'is', null), eb('p.email', 'is not', null)]).as('eligible'),
        actionTitle({ id: eb.ref('a.id'), defaultLocale: eb.ref('a.default_locale'), slug: eb.ref('a.slug') }, eb.ref('n.locale')).as('title'),
        'g.name as targetName',
        'g.title as targetTitle',
        'g.organisation as targetOrganisation',
        'g.language as targetLanguage',
        'g.names as targetNames',
        'g.name_is_official as targetNameIsOfficial',
        'a.default_locale as defaultLocale',
      ])
      .where('n.id', '=', notificationId)
      .where('n.sent_at', 'is', null)
      .forUpdate('n')
      .skipLocked()
      .executeTakeFirst();
    if (!n) return 'not-owed';
    const done = () => db.updateTable('answer_notifications').set({ sent_at: sql<Date>`now()` }).where('id', '=', n.id).execute();
    // unsubscribed, erased or withdrawn since publishing: owed no more
    if (!n.eligible || n.status !== AnswerStatus.PUBLISHED) {
      await done();
      return 'dropped';
    }
    const recipient = openRecipient(n.supporterId, n.dataKey, n.email, n.name);
    const member = memberMail(deps, n.supporterId, n.locale);
    const mail = render('answer-published', n.locale, {
      firstName: recipient.firstName,
      action: { title: n.title },
      // the official as the directory names them in the member's language (target-names.ts)
      target: localTargetLine(
        { name: n.targetName, title: n.targetTitle, organisation: n.targetOrganisation, language: n.targetLanguage, names: n.targetNames, nameIsOfficial: n.targetNameIsOfficial },
        n.locale,
      ),
      answer: n.publicSummary || n.body,
      // staff's summary is never passed off as the official's words; an answer in another language
      // than the email's is named (the same rule as the action page: the official's language for
      // their own words, the action's default language for a summary)
      summary: Boolean(n.publicSummary),
      ...answerLanguage(n.publicSummary ? n.defaultLocale : n.targetLanguage, n.locale),
      actionUrl: memberPageUrl(deps.publicBaseUrl, n.locale, `/actions/${n.slug}`),
      ...member.vars,
    });
    try {
      await deps.mailer.sendMail(memberMessage(deps.mailFrom, recipient.email!, mail, member, `<answer.${n.id}@${mailDomain(deps.mailFrom)}>`));
    } catch (err) {
      const failure = classifySendError(err);
      if (!failure.permanent) throw err;
      // a refused address will not start working: owed no more
      await done();
      return { refused: failure.reason };
    }
    await done();
    return 'sent';
  });
  if (typeof outcome === 'object') throw new UnrecoverableError(`answer email refused: ${outcome.refused}`);
  return outcome;
}

/** What the sweeper re-enqueues: answer emails owed for longer than graceMs. */
export async function owedAnswerNotifications(pool: pg.Pool, before: Date, limit = 5000): Promise<string[]> {
  const rows = await qb(pool)
    .selectFrom('answer_notifications')
    .select('id')
    .where('sent_at', 'is', null)
    .where('requested_at', '<', before)
    .orderBy('requested_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}
