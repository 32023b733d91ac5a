// Case updates: what happened next to the people an action is about (released, moved, tried,
// still held). Staff write one per language on an action and publish it; it appears on the
// action page, newest first, and in the API; endpoints subscribed to `update.published` are
// told; and every confirmed signer who opted in to hear from the campaign is emailed once, in
// the language they signed in (the update's text in that language, else in the action's
// default language), through the member_notices outbox. A published update is not edited:
// a correction is a new update, as a newsroom would do it.
import { sql, type Expression, type RawBuilder } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type pg from 'pg';
import { z } from 'zod';
import { inTransaction, qb, type DB, type Queryable } from '../db/db.ts';
import { expressionBuilder } from 'kysely';
import { render, type RenderedMail } from '../mail/render.ts';
import type { Queues } from '../queue/queue.ts';
import { notFound } from '../shared/errors.ts';
import { LOCALES } from '../shared/locales.ts';
import { documentText, lineText } from '../shared/text.ts';
import { recordAudit } from '../staff/audit.ts';
import { memberPageUrl } from '../supporter/member-mail.ts';
import { optedInSigners, oweNotices } from '../supporter/member-notices.ts';
import { emitEvent } from '../webhook/webhook.service.ts';
import { actionTitle } from '../delivery/action-title.ts';
import type { NoticeToCompose } from '../delivery/threshold.service.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const updateText = z.strictObject({
  title: lineText(200, 'title'),
  // an update may cite a court decision or a news report by its address: shown as text, never as a link
  body: documentText(10_000, 'body'),
});

export const updateInputSchema = z.strictObject({
  texts: z
    .partialRecord(z.enum(LOCALES), updateText)
    .refine((t) => Object.keys(t).length > 0, { message: 'Write the update in at least one language' })
    .describe('the update in each language it is written in: a signer reads it in theirs, else in the action’s default language'),
});

export interface UpdateDeps {
  pool: pg.Pool;
  clock: () => Date;
  queues?: Pick<Queues, 'enqueueNotices'>;
  refreshPublic?: () => Promise<void>;
}

/** Publishes a case update now: shown at once, emailed once to the signers who opted in. */
export async function publishUpdate(deps: UpdateDeps, staffId: string, actionId: string, input: z.infer<typeof updateInputSchema>) {
  if (!UUID.test(actionId)) throw notFound('action_not_found', 'No such action');
  const now = deps.clock();
  const result = await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const action = await db.selectFrom('actions').select(['id']).where('id', '=', actionId).executeTakeFirst();
    if (!action) throw notFound('action_not_found', 'No such action');
    const { id } = await db.insertInto('action_updates').values({ action_id: actionId, published_at: now, created_by: staffId }).returning('id').executeTakeFirstOrThrow();
    const texts = Object.entries(input.texts).flatMap(([locale, t]) => (t ? [{ update_id: id, locale, title: t.title, body: t.body }] : []));
    await db.insertInto('action_update_texts').values(texts).execute();
    await emitEvent(client, 'update.published', { updateId: id, actionId, locales: texts.map((t) => t.locale) });
    const notices = await oweNotices(client, 'update', id, 'published', actionId, now);
    await recordAudit(client, {
      staffId,
      verb: 'update_published',
      entity: 'action',
      entityId: actionId,
      before: null,
      after: { updateId: id, locales: texts.map((t) => t.locale), notificationsOwed: notices.length },
      at: now,
    });
    return { id, notices };
  });
  await deps.queues?.enqueueNotices(result.notices).catch(() => {
    // owed in the database: the sweeper enqueues them
  });
  await deps.refreshPublic?.().catch(() => {});
  return { id: result.id, publishedAt: now.toISOString(), notificationsOwed: result.notices.length };
}

/** How many signers of the action a new update would email now (the console says it before publishing). */
export async function updateAudience(pool: pg.Pool, actionId: string): Promise<number> {
  if (!UUID.test(actionId)) throw notFound('action_not_found', 'No such action');
  const row = await optedInSigners(pool, actionId)
    .select((eb) => eb.fn.count<string>(sql`DISTINCT s.supporter_id`).as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** For staff: every update of the action with all its texts, newest first, and the signers a new one would email. */
export async function staffUpdates(pool: pg.Pool, actionId: string) {
  const audience = await updateAudience(pool, actionId);
  const row = await qb(pool)
    .selectFrom('actions as a')
    .select((e) => updatesOf(e.ref('a.id')).as('updates'))
    .where('a.id', '=', actionId)
    .executeTakeFirst();
  if (!row) throw notFound('action_not_found', 'No such action');
  return { audience, updates: row.updates };
}

/** An update as the actions' query loads it: every language's text. */
export interface UpdateRow {
  id: string;
  publishedAt: string;
  texts: { locale: string; title: string; body: string }[];
}

/** The action's updates, newest first, as JSON for the query that loads the public actions (at most 50). */
export function updatesOf(actionId: Expression<string>): RawBuilder<UpdateRow[]> {
  const eb = expressionBuilder<DB, never>();
  return jsonArrayFrom(
    eb
      .selectFrom('action_updates as u')
      .select((e) => [
        'u.id',
        sql<string>`to_char(${e.ref('u.published_at')} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.as('publishedAt'),
        jsonArrayFrom(e.selectFrom('action_update_texts as x').select(['x.locale', 'x.title', 'x.body']).whereRef('x.update_id', '=', 'u.id').orderBy('x.locale')).as('texts'),
      ])
      .where('u.action_id', '=', actionId)
      .orderBy('u.published_at', 'desc')
      // two published at the same moment of a test clock: the later written first
      .orderBy('u.created_at', 'desc')
      .orderBy('u.id')
      .limit(50),
  );
}

export interface PublicUpdate {
  id: string;
  title: string;
  body: string;
  /** the language of title and body: the reader's where the update has it, else the action's default, else any */
  locale: string;
  publishedAt: string;
}

function textIn<T extends { locale: string }>(texts: readonly T[], locale: string, defaultLocale: string): T | undefined {
  return texts.find((t) => t.locale === locale) ?? texts.find((t) => t.locale === defaultLocale) ?? texts[0];
}

export function publicUpdates(rows: readonly UpdateRow[], locale: string, defaultLocale: string): PublicUpdate[] {
  return rows.flatMap((u) => {
    const text = textIn(u.texts, locale, defaultLocale);
    return text ? [{ id: u.id, title: text.title, body: text.body, locale: text.locale, publishedAt: u.publishedAt }] : [];
  });
}

/** The email of an update notice, in the signer's language where the update has it. */
export async function composeUpdateNotice(db: Queryable, n: NoticeToCompose, links: { publicBaseUrl: string; footer: Record<string, string> }): Promise<RenderedMail | null> {
  const u = await qb(db)
    .selectFrom('action_updates as u')
    .innerJoin('actions as a', 'a.id', 'u.action_id')
    .select((eb) => [
      'a.slug',
      'a.default_locale as defaultLocale',
      actionTitle({ id: eb.ref('a.id'), defaultLocale: eb.ref('a.default_locale'), slug: eb.ref('a.slug') }, eb.val(n.locale)).as('title'),
      jsonArrayFrom(eb.selectFrom('action_update_texts as x').select(['x.locale', 'x.title', 'x.body']).whereRef('x.update_id', '=', 'u.id')).as('texts'),
    ])
    .where('u.id', '=', n.subjectId)
    .executeTakeFirst();
  const text = u && textIn(u.texts, n.locale, u.defaultLocale);
  if (!u || !text) return null;
  const otherLanguage = text.locale !== n.locale ? (new Intl.DisplayNames([n.locale], { type: 'language', fallback: 'code' }).of(text.locale) ?? text.locale) : '';
  return render('action-update', n.locale, {
    firstName: n.firstName,
    action: { title: u.title },
    update: { title: text.title, body: text.body },
    updateLanguage: otherLanguage,
    updateLang: otherLanguage ? text.locale : '',
    actionUrl: memberPageUrl(links.publicBaseUrl, n.locale, `/actions/${u.slug}`),
    ...links.footer,
  });
}
