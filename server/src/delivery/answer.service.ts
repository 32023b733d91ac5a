// Answers from officials, after they reach us on the packet page: staff review them, publish
// (optionally with a public summary) or reject them. Publishing makes the answer visible on
// the public action page and tells every signer who asked to hear from us.
//
// The "answer published" emails go through an outbox, like confirmations: publishing writes
// one answer_notifications row per (answer, supporter) in the same transaction, and the mail
// worker sends what has no sent_at. The unique (response_id, supporter_id) key means
// publishing again (or twice at once) owes nobody a second email; the worker claims a row
// with FOR UPDATE SKIP LOCKED and marks it sent in the same transaction, so two workers never
// both send it. At-least-once across a crash between SMTP acceptance and the commit, with the
// same Message-ID, as for letters.
import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { z } from 'zod';
import { inTransaction } from '../db/db.ts';
import { classifySendError, type Mailer } from '../mail/mailer.ts';
import { render } from '../mail/render.ts';
import type { Queues } from '../queue/queue.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { blockText } from '../shared/text.ts';
import { mailDomain } from '../signature/confirmation.service.ts';
import { recordAudit } from '../staff/audit.ts';
import { memberMail, memberMessage, memberPageUrl } from '../supporter/member-mail.ts';
import type { TokenDeps } from '../supporter/supporter.service.ts';

export const answerStatuses = ['RECEIVED', 'PUBLISHED', 'REJECTED'] as const;

export const publishInputSchema = z.strictObject({
  publicSummary: blockText(5_000, 'publicSummary').optional(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function mustBeUuid(id: string, what: string): void {
  if (!UUID.test(id)) throw notFound(`${what}_not_found`, `No ${what} ${JSON.stringify(id.slice(0, 60))}`);
}

export interface AnswerRow {
  id: string;
  status: (typeof answerStatuses)[number];
  body: string;
  publicSummary: string | null;
  receivedAt: Date;
  publishedAt: Date | null;
  reviewedAt: Date | null;
  reviewerEmail: string | null;
  action: { id: string; slug: string; title: string };
  target: { id: string; name: string; title: string; organisation: string };
  letterId: string | null;
  letterSentAt: Date | null;
  /** seconds from the first letter of the batch accepted to this answer */
  responseSeconds: number | null;
  attachments: { id: string; filename: string; contentType: string; size: number }[];
  notifications: { owed: number; sent: number };
}

export async function listAnswers(pool: pg.Pool, filter: { status?: AnswerRow['status']; actionId?: string; limit: number }): Promise<AnswerRow[]> {
  if (filter.actionId) mustBeUuid(filter.actionId, 'action');
  return queryAnswers(pool, `($1::"ResponseStatus" IS NULL OR r.status = $1) AND ($2::uuid IS NULL OR r.action_id = $2)`, [
    filter.status ?? null,
    filter.actionId ?? null,
    filter.limit,
  ]);
}

export async function getAnswer(pool: pg.Pool, id: string): Promise<AnswerRow> {
  mustBeUuid(id, 'answer');
  const rows = await queryAnswers(pool, `r.id = $1`, [id, 1]);
  if (!rows[0]) throw notFound('answer_not_found', 'No such answer');
  return rows[0];
}

async function queryAnswers(pool: pg.Pool, where: string, params: unknown[]): Promise<AnswerRow[]> {
  const limitParam = `$${params.length}`;
  const { rows } = await pool.query<AnswerRow>(
    `SELECT r.id, r.status, r.body, r.public_summary AS "publicSummary", r.received_at AS "receivedAt", r.published_at AS "publishedAt",
            r.reviewed_at AS "reviewedAt", s.email AS "reviewerEmail",
            json_build_object('id', a.id, 'slug', a.slug,
              'title', COALESCE((SELECT title FROM action_texts t WHERE t.action_id = a.id ORDER BY (t.locale = a.default_locale) DESC LIMIT 1), a.slug)) AS action,
            json_build_object('id', g.id, 'name', g.name, 'title', g.title, 'organisation', g.organisation) AS target,
            r.letter_id AS "letterId", l.sent_at AS "letterSentAt",
            CASE WHEN l.id IS NULL THEN NULL ELSE
              round(extract(epoch FROM (r.received_at - (SELECT min(f.sent_at) FROM letters f WHERE f.batch_id = l.batch_id))))::int END AS "responseSeconds",
            COALESCE((SELECT json_agg(json_build_object('id', x.id, 'filename', x.filename, 'contentType', x.content_type, 'size', x.size) ORDER BY x.created_at)
                      FROM response_attachments x WHERE x.response_id = r.id), '[]') AS attachments,
            json_build_object(
              'owed', (SELECT count(*)::int FROM answer_notifications n WHERE n.response_id = r.id AND n.sent_at IS NULL),
              'sent', (SELECT count(*)::int FROM answer_notifications n WHERE n.response_id = r.id AND n.sent_at IS NOT NULL)) AS notifications
     FROM responses r
     JOIN actions a ON a.id = r.action_id
     JOIN targets g ON g.id = r.target_id
     LEFT JOIN letters l ON l.id = r.letter_id
     LEFT JOIN staff_users s ON s.id = r.reviewed_by
     WHERE ${where}
     ORDER BY (r.status = 'RECEIVED') DESC, r.received_at DESC LIMIT ${limitParam}`,
    params,
  );
  return rows;
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
    const { rows } = await client.query<{ status: string; public_summary: string | null; action_id: string; published_at: Date | null }>(
      `SELECT status, public_summary, action_id, published_at FROM responses WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const r = rows[0];
    if (!r) throw notFound('answer_not_found', 'No such answer');
    if (r.status === 'REJECTED') throw conflict('answer_rejected', 'This answer was rejected; it cannot be published');
    const summary = input.publicSummary === undefined ? r.public_summary : input.publicSummary.trim() || null;
    await client.query(
      `UPDATE responses SET status = 'PUBLISHED', published_at = COALESCE(published_at, $2), public_summary = $3, reviewed_by = $4, reviewed_at = $2
       WHERE id = $1`,
      [id, now, summary, staffId],
    );
    // the latest CONTACT consent decides; the signature's language is the email's
    const owed = await client.query<{ id: string }>(
      `INSERT INTO answer_notifications (response_id, supporter_id, locale, requested_at)
       SELECT $1, s.supporter_id, s.locale, $3
       FROM signatures s JOIN supporters p ON p.id = s.supporter_id
       WHERE s.action_id = $2 AND s.status = 'CONFIRMED'
         AND p.email IS NOT NULL AND p.erased_at IS NULL AND p.unsubscribed_at IS NULL
         AND (SELECT c.granted FROM consents c WHERE c.supporter_id = p.id AND c.purpose = 'CONTACT'
              ORDER BY c.created_at DESC, c.id DESC LIMIT 1)
       ON CONFLICT (response_id, supporter_id) DO NOTHING
       RETURNING id`,
      [id, r.action_id, now],
    );
    await recordAudit(client, {
      staffId,
      verb: r.status === 'PUBLISHED' ? 'answer_updated' : 'answer_published',
      entity: 'response',
      entityId: id,
      before: { status: r.status, publicSummary: r.public_summary },
      after: { status: 'PUBLISHED', publicSummary: summary, notificationsOwed: owed.rows.length },
      at: now,
    });
    return { ids: owed.rows.map((o) => o.id) };
  });
  await deps.queues?.enqueueAnswerNotifications(result.ids).catch(() => {
    // owed in the database: the sweeper enqueues them
  });
  await deps.refreshPublic?.().catch(() => {});
  return { status: 'PUBLISHED' as const, notificationsOwed: result.ids.length };
}

/** Rejects an answer: never shown publicly (withdrawn if it was), nobody is emailed. */
export async function rejectAnswer(deps: AnswerDeps, staffId: string, id: string) {
  mustBeUuid(id, 'answer');
  await inTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<{ status: string }>(`SELECT status FROM responses WHERE id = $1 FOR UPDATE`, [id]);
    if (!rows[0]) throw notFound('answer_not_found', 'No such answer');
    if (rows[0].status === 'REJECTED') return;
    await client.query(`UPDATE responses SET status = 'REJECTED', reviewed_by = $2, reviewed_at = $3 WHERE id = $1`, [id, staffId, deps.clock()]);
    // emails not yet sent for a withdrawn answer are no longer owed
    await client.query(`DELETE FROM answer_notifications WHERE response_id = $1 AND sent_at IS NULL`, [id]);
    await recordAudit(client, {
      staffId,
      verb: 'answer_rejected',
      entity: 'response',
      entityId: id,
      before: { status: rows[0].status },
      after: { status: 'REJECTED' },
      at: deps.clock(),
    });
  });
  await deps.refreshPublic?.().catch(() => {});
  return { status: 'REJECTED' as const };
}

export async function getAttachment(pool: pg.Pool, answerId: string, attachmentId: string, opts: { publishedOnly: boolean }) {
  mustBeUuid(answerId, 'answer');
  mustBeUuid(attachmentId, 'attachment');
  const { rows } = await pool.query<{ filename: string; content_type: string; data: Buffer }>(
    `SELECT x.filename, x.content_type, x.data FROM response_attachments x JOIN responses r ON r.id = x.response_id
     WHERE x.id = $1 AND r.id = $2 AND (NOT $3::bool OR r.status = 'PUBLISHED')`,
    [attachmentId, answerId, opts.publishedOnly],
  );
  if (!rows[0]) throw notFound('attachment_not_found', 'No such attachment');
  return { filename: rows[0].filename, contentType: rows[0].content_type, data: rows[0].data };
}

export interface AnswerMailDeps extends TokenDeps {
  pool: pg.Pool;
  mailer: Mailer;
  mailFrom: string;
  publicBaseUrl: string;
}

export type AnswerMailOutcome = 'sent' | 'not-owed' | 'dropped';

/** Sends one owed "answer published" email (the mail worker's job for kind "answer"). */
export async function sendAnswerNotification(deps: AnswerMailDeps, notificationId: string): Promise<AnswerMailOutcome> {
  if (!UUID.test(notificationId)) return 'not-owed';
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{
      id: string;
      locale: string;
      supporter_id: string;
      email: string | null;
      first_name: string | null;
      eligible: boolean;
      status: string;
      body: string;
      public_summary: string | null;
      slug: string;
      title: string;
      target: string;
    }>(
      `SELECT n.id, n.locale, p.id AS supporter_id, p.email, p.first_name, r.status, r.body, r.public_summary, a.slug,
              (p.erased_at IS NULL AND p.unsubscribed_at IS NULL AND p.email IS NOT NULL) AS eligible,
              COALESCE((SELECT title FROM action_texts t WHERE t.action_id = a.id ORDER BY (t.locale = n.locale) DESC, (t.locale = a.default_locale) DESC LIMIT 1), a.slug) AS title,
              concat_ws(', ', NULLIF(g.name, ''), NULLIF(g.title, ''), NULLIF(g.organisation, '')) AS target
       FROM answer_notifications n
       JOIN supporters p ON p.id = n.supporter_id
       JOIN responses r ON r.id = n.response_id
       JOIN actions a ON a.id = r.action_id
       JOIN targets g ON g.id = r.target_id
       WHERE n.id = $1 AND n.sent_at IS NULL
       FOR UPDATE OF n SKIP LOCKED`,
      [notificationId],
    );
    const n = rows[0];
    if (!n) {
      await client.query('ROLLBACK');
      return 'not-owed';
    }
    // unsubscribed, erased or withdrawn since publishing: owed no more
    if (!n.eligible || n.status !== 'PUBLISHED') {
      await client.query(`UPDATE answer_notifications SET sent_at = now() WHERE id = $1`, [n.id]);
      await client.query('COMMIT');
      return 'dropped';
    }
    const member = memberMail(deps, n.supporter_id, n.locale);
    const mail = render('answer-published', n.locale, {
      firstName: n.first_name ?? '',
      action: { title: n.title },
      target: n.target,
      answer: n.public_summary || n.body,
      actionUrl: memberPageUrl(deps.publicBaseUrl, n.locale, `/actions/${n.slug}`),
      ...member.vars,
    });
    try {
      await deps.mailer.sendMail(memberMessage(deps.mailFrom, n.email!, mail, member, `<answer.${n.id}@${mailDomain(deps.mailFrom)}>`));
    } catch (err) {
      const failure = classifySendError(err);
      if (!failure.permanent) throw err;
      // a refused address will not start working: owed no more
      await client.query(`UPDATE answer_notifications SET sent_at = now() WHERE id = $1`, [n.id]);
      await client.query('COMMIT');
      throw new UnrecoverableError(`answer email refused: ${failure.reason}`);
    }
    await client.query(`UPDATE answer_notifications SET sent_at = now() WHERE id = $1`, [n.id]);
    await client.query('COMMIT');
    return 'sent';
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** What the sweeper re-enqueues: answer emails owed for longer than graceMs. */
export async function owedAnswerNotifications(pool: pg.Pool, before: Date, limit = 5000): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM answer_notifications WHERE sent_at IS NULL AND requested_at < $1 ORDER BY requested_at LIMIT $2`,
    [before, limit],
  );
  return rows.map((r) => r.id);
}

export function assertKnownStatus(s: string | undefined): asserts s is AnswerRow['status'] | undefined {
  if (s !== undefined && !answerStatuses.includes(s as AnswerRow['status'])) throw new AppError(422, 'validation_failed', 'unknown status');
}
