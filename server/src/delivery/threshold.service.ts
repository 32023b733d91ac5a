// Answers owed by a date. Staff set thresholds on an action (1,000 signatures, 10,000, ...);
// when the public count reaches one, every target of the action is sent a formal request to
// answer within the action's number of days, and the clock starts at that moment. The public
// page and the API then show, per threshold, when it was reached and the date to answer by,
// and per target when it was asked and whether it answered, or by how many days it is late.
//
// - The request is a letter of its own (a delivery batch whose reason is "threshold", with no
//   signatures of its own to deliver), so it is sent, retried, bounced and answered through
//   the packet link like every letter. The public ledger of deliveries leaves it out: it is
//   shown with its threshold.
// - A target has answered when an answer of theirs to the action came in after the request was
//   written and was not rejected by staff; its text is public once staff publish it.
// - Signers who opted in to hear from the campaign (CONTACT consent, not unsubscribed, not
//   erased) are emailed once when a threshold is reached and once per target whose date passes
//   unanswered, through the member_notices outbox; an answer reaches them as every published
//   answer does (answer.service.ts).
import { randomUUID } from 'node:crypto';
import { expressionBuilder, sql, type Expression, type RawBuilder } from 'kysely';
import { jsonArrayFrom, jsonBuildObject } from 'kysely/helpers/postgres';
import type pg from 'pg';
import { z } from 'zod';
import { ActionStatus, AnswerStatus, LetterStatus, inTransaction, qb, type DB, type Queryable } from '../db/db.ts';
import { render, type RenderedMail } from '../mail/render.ts';
import type { Queues } from '../queue/queue.ts';
import { conflict, notFound } from '../shared/errors.ts';
import { recordAudit } from '../staff/audit.ts';
import { oweNotices } from '../supporter/member-notices.ts';
import { memberPageUrl } from '../supporter/member-mail.ts';
import { localTargetLine, localTargetName, type LocalTargetName, type NamedTarget } from '../target/target-names.ts';
import { actionTitle } from './action-title.ts';
import { ACKNOWLEDGEMENT_MARK } from '../shared/acknowledgement.ts';

/** The reason of the delivery batch that holds a threshold's requests. */
export const THRESHOLD_BATCH_REASON = 'threshold';

const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const thresholdsInputSchema = z.strictObject({
  counts: z
    .array(z.number().int('a threshold is a whole number of signatures').min(1).max(100_000_000))
    .max(10, 'at most 10 thresholds')
    .describe('the confirmed counts at which every target is asked to answer; a reached threshold cannot be removed'),
  respondWithinDays: z.number().int().min(1).max(365).describe('days a target has to answer, from the moment a threshold is reached'),
});

export interface ThresholdDeps {
  pool: pg.Pool;
  clock: () => Date;
  mailDomain: string;
  queues?: Pick<Queues, 'enqueueLetters' | 'enqueueNotices'>;
  /** refreshes the public pages' cache after a change, so a reached threshold shows at once */
  refreshPublic?: () => Promise<void>;
}

/** Sets an action's thresholds and days to answer. A threshold already reached stays: its clock is public. */
export async function setThresholds(deps: Pick<ThresholdDeps, 'pool' | 'clock' | 'refreshPublic'>, staffId: string, actionId: string, input: z.infer<typeof thresholdsInputSchema>) {
  if (!UUID.test(actionId)) throw notFound('action_not_found', 'No such action');
  const counts = [...new Set(input.counts)].sort((a, b) => a - b);
  const now = deps.clock();
  await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const action = await db.selectFrom('actions').select(['respond_within_days']).where('id', '=', actionId).forUpdate().executeTakeFirst();
    if (!action) throw notFound('action_not_found', 'No such action');
    const before = await db.selectFrom('action_thresholds').select(['count', 'reached_at']).where('action_id', '=', actionId).orderBy('count').execute();
    const reachedGone = before.filter((t) => t.reached_at !== null && !counts.includes(t.count));
    if (reachedGone.length > 0) {
      throw conflict('threshold_reached', `A reached threshold cannot be removed: ${reachedGone.map((t) => t.count).join(', ')}`);
    }
    await db.deleteFrom('action_thresholds').where('action_id', '=', actionId).where('reached_at', 'is', null).where('count', 'not in', counts.length ? counts : [0]).execute();
    if (counts.length > 0) {
      await db
        .insertInto('action_thresholds')
        .values(counts.map((count) => ({ action_id: actionId, count, created_at: now })))
        .onConflict((oc) => oc.columns(['action_id', 'count']).doNothing())
        .execute();
    }
    await db.updateTable('actions').set({ respond_within_days: input.respondWithinDays, updated_at: now }).where('id', '=', actionId).execute();
    await recordAudit(client, {
      staffId,
      verb: 'thresholds_set',
      entity: 'action',
      entityId: actionId,
      before: { counts: before.map((t) => t.count), respondWithinDays: action.respond_within_days },
      after: { counts, respondWithinDays: input.respondWithinDays },
      at: now,
    });
  });
  await deps.refreshPublic?.().catch(() => {});
  return actionThresholds(deps.pool, actionId, deps.clock(), 'en');
}

/** An action's thresholds as staff see them: the public view, with the days to answer. */
export async function actionThresholds(pool: pg.Pool, actionId: string, now: Date, locale: string) {
  if (!UUID.test(actionId)) throw notFound('action_not_found', 'No such action');
  const a = await qb(pool)
    .selectFrom('actions as a')
    .select((e) => ['a.respond_within_days', thresholdsOf(e.ref('a.id')).as('thresholds')])
    .where('a.id', '=', actionId)
    .executeTakeFirst();
  if (!a) throw notFound('action_not_found', 'No such action');
  return { respondWithinDays: a.respond_within_days, thresholds: publicThresholds(a.thresholds, a.respond_within_days, now, locale) };
}

/** An answer of the target to the action, after the request was written, that staff have not rejected. */
function answerTo(eb: ReturnType<typeof expressionBuilder<DB, never>>, actionId: Expression<string>, targetId: Expression<string>, since: Expression<Date>) {
  return eb
    .selectFrom('answers as r')
    .where('r.action_id', '=', actionId)
    .where('r.target_id', '=', targetId)
    .where('r.received_at', '>=', since)
    .where('r.status', '<>', AnswerStatus.REJECTED)
    // an acknowledgement of receipt is not an answer: the clock goes on (packet.service.ts marks it)
    .where('r.body', 'not like', `${ACKNOWLEDGEMENT_MARK}%`);
}

/** The event of an overdue notice: the moment its offices were marked late (ISO 8601) follows. */
const OVERDUE_AT = 'overdue-at:';

export interface ThresholdCheck {
  reached: { actionId: string; count: number; letters: number; notices: number }[];
  /** per threshold: the requests marked late at this look, and the notices owed for them together */
  overdue: { actionId: string; count: number; targetIds: string[]; notices: number }[];
}

/**
 * The worker's periodic look at the clock: thresholds the public count has reached get their
 * requests (letters) and their signers' notices; requests whose date has passed unanswered are
 * marked overdue once, with their notices. Safe to run from several workers at once: every
 * step claims its rows.
 */
export async function checkThresholds(deps: ThresholdDeps): Promise<ThresholdCheck> {
  const now = deps.clock();
  const out: ThresholdCheck = { reached: [], overdue: [] };
  const letterJobs: { id: string; attempts: number }[] = [];
  const noticeIds: string[] = [];

  const due = await qb(deps.pool)
    .selectFrom('action_thresholds as t')
    .innerJoin('actions as a', 'a.id', 't.action_id')
    .innerJoin('action_stats as s', 's.action_id', 't.action_id')
    .select(['t.id', 't.action_id', 't.count'])
    .where('t.reached_at', 'is', null)
    .where('a.status', 'in', [ActionStatus.PUBLISHED, ActionStatus.CLOSED])
    // the public count: confirmed signatures and those counted from paper
    .where((eb) => eb(eb('s.confirmed_count', '+', eb.ref('s.paper_count')), '>=', eb.ref('t.count')))
    .orderBy('t.count')
    .execute();
  for (const t of due) {
    const done = await inTransaction(deps.pool, async (client) => {
      const db = qb(client);
      // claimed once: a second worker finds it reached
      const claimed = await db
        .updateTable('action_thresholds')
        .set({ reached_at: now })
        .where('id', '=', t.id)
        .where('reached_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (!claimed) return null;
      const { default_locale, locales, confirmed } = await db
        .selectFrom('actions as a')
        .select((eb) => [
          'a.default_locale',
          sql<string[]>`ARRAY(${eb.selectFrom('action_texts as x').select('x.locale').whereRef('x.action_id', '=', 'a.id')})`.as('locales'),
          eb.selectFrom('action_stats').select((e) => e('confirmed_count', '+', e.ref('paper_count')).as('n')).whereRef('action_id', '=', 'a.id').$asScalar().as('confirmed'),
        ])
        .where('a.id', '=', t.action_id)
        .executeTakeFirstOrThrow();
      const targets = await db
        .selectFrom('action_targets as at')
        .innerJoin('targets as g', 'g.id', 'at.target_id')
        .select(['g.id', 'g.language'])
        .where('at.action_id', '=', t.action_id)
        .where('g.disabled_at', 'is', null)
        .orderBy('at.position')
        .execute();
      const batchId = randomUUID();
      await db
        .insertInto('delivery_batches')
        .values({ id: batchId, action_id: t.action_id, reason: THRESHOLD_BATCH_REASON, signature_count: 0, total_count: Math.max(t.count, confirmed ?? 0), created_at: now })
        .execute();
      const letters = targets.map((g) => ({ id: randomUUID(), target: g.id, locale: locales.includes(g.language) ? g.language : default_locale }));
      if (letters.length > 0) {
        await db
          .insertInto('letters')
          .values(letters.map((l) => ({ id: l.id, batch_id: batchId, target_id: l.target, signature_count: 0, locale: l.locale, message_id: `<threshold.${l.id}@${deps.mailDomain}>`, next_attempt_at: now, created_at: now })))
          .execute();
        await db
          .insertInto('threshold_requests')
          .values(letters.map((l) => ({ threshold_id: t.id, target_id: l.target, letter_id: l.id, created_at: now })))
          .execute();
      }
      const notices = await oweNotices(client, 'threshold', t.id, 'reached', t.action_id, now);
      return { letters: letters.map((l) => l.id), notices };
    });
    if (!done) continue;
    letterJobs.push(...done.letters.map((id) => ({ id, attempts: 0 })));
    noticeIds.push(...done.notices);
    out.reached.push({ actionId: t.action_id, count: t.count, letters: done.letters.length, notices: done.notices.length });
  }

  // requests whose date has passed: their letter was delivered, and no answer came
  const eb = expressionBuilder<DB, never>();
  const late = await qb(deps.pool)
    .selectFrom('threshold_requests as q')
    .innerJoin('action_thresholds as t', 't.id', 'q.threshold_id')
    .innerJoin('actions as a', 'a.id', 't.action_id')
    .innerJoin('letters as l', 'l.id', 'q.letter_id')
    .select(['q.id', 'q.target_id', 't.id as threshold_id', 't.action_id', 't.count'])
    .where('q.overdue_at', 'is', null)
    .where('l.status', '=', LetterStatus.SENT)
    .where(sql<Date>`t.reached_at + make_interval(days => a.respond_within_days)`, '<', now)
    .where((w) => w.not(w.exists(answerTo(eb, w.ref('t.action_id'), w.ref('q.target_id'), w.ref('l.created_at')).select(sql.lit(1).as('one')))))
    .execute();
  // the requests of one threshold that fell late together make one notice per signer, naming
  // every late office, not one email each: its event names the moment they were marked
  const lateByThreshold = new Map<string, typeof late>();
  for (const q of late) lateByThreshold.set(q.threshold_id, [...(lateByThreshold.get(q.threshold_id) ?? []), q]);
  for (const group of lateByThreshold.values()) {
    const q = group[0]!;
    const done = await inTransaction(deps.pool, async (client) => {
      const claimed = await qb(client)
        .updateTable('threshold_requests')
        .set({ overdue_at: now })
        .where('id', 'in', group.map((r) => r.id))
        .where('overdue_at', 'is', null)
        .returning('target_id')
        .execute();
      if (claimed.length === 0) return null;
      const notices = await oweNotices(client, 'threshold', q.threshold_id, `${OVERDUE_AT}${now.toISOString()}`, q.action_id, now);
      return { targets: claimed.map((c) => c.target_id), notices };
    });
    if (!done) continue;
    noticeIds.push(...done.notices);
    out.overdue.push({ actionId: q.action_id, count: q.count, targetIds: done.targets.sort(), notices: done.notices.length });
  }

  if (letterJobs.length > 0) await deps.queues?.enqueueLetters(letterJobs).catch(() => {});
  if (noticeIds.length > 0) await deps.queues?.enqueueNotices(noticeIds).catch(() => {});
  if (out.reached.length > 0 || out.overdue.length > 0) await deps.refreshPublic?.().catch(() => {});
  return out;
}

/** A threshold as the public actions' query loads it (thresholdsOf). */
export interface ThresholdRow {
  count: number;
  reachedAt: string | null;
  requests: {
    target: NamedTarget & { slug: string };
    letterStatus: LetterStatus;
    sentAt: string | null;
    answer: { receivedAt: string; published: boolean; text: string | null; summary: boolean } | null;
  }[];
}

const iso = (e: Expression<Date | null>) => sql<string | null>`to_char(${e} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The thresholds of an action as JSON, for the query that loads the public actions. */
export function thresholdsOf(actionId: Expression<string>): RawBuilder<ThresholdRow[]> {
  const eb = expressionBuilder<DB, never>();
  return jsonArrayFrom(
    eb
      .selectFrom('action_thresholds as t')
      .select((e) => [
        't.count',
        iso(e.ref('t.reached_at')).as('reachedAt'),
        jsonArrayFrom(
          e
            .selectFrom('threshold_requests as q')
            .innerJoin('letters as l', 'l.id', 'q.letter_id')
            .innerJoin('targets as g', 'g.id', 'q.target_id')
            .leftJoinLateral(
              (x) =>
                answerTo(eb, x.ref('t.action_id'), x.ref('q.target_id'), x.ref('l.created_at'))
                  .select(['r.received_at', 'r.status', 'r.body', 'r.public_summary'])
                  .orderBy('r.received_at')
                  .limit(1)
                  .as('r'),
              (join) => join.onTrue(),
            )
            .select((x) => [
              jsonBuildObject({
                slug: x.ref('g.slug'),
                name: x.ref('g.name'),
                title: x.ref('g.title'),
                organisation: x.ref('g.organisation'),
                language: x.ref('g.language'),
                names: x.ref('g.names'),
                nameIsOfficial: x.ref('g.name_is_official'),
              }).as('target'),
              'l.status as letterStatus',
              iso(x.ref('l.sent_at')).as('sentAt'),
              sql<ThresholdRow['requests'][number]['answer']>`CASE WHEN r.received_at IS NULL THEN NULL ELSE json_build_object(
                'receivedAt', ${iso(x.ref('r.received_at'))},
                'published', r.status = 'PUBLISHED',
                'text', CASE WHEN r.status = 'PUBLISHED' THEN coalesce(nullif(r.public_summary, ''), r.body) END,
                'summary', r.status = 'PUBLISHED' AND coalesce(r.public_summary, '') <> '') END`.as('answer'),
            ])
            .whereRef('q.threshold_id', '=', 't.id')
            .orderBy('g.name'),
        ).as('requests'),
      ])
      .where('t.action_id', '=', actionId)
      .orderBy('t.count'),
  );
}

export type RequestState = 'sending' | 'waiting' | 'answered' | 'overdue' | 'undelivered';

export interface PublicThreshold {
  count: number;
  reachedAt: string | null;
  /** reachedAt plus the action's days to answer */
  respondBy: string | null;
  targets: {
    slug: string;
    target: LocalTargetName;
    state: RequestState;
    /** when the request was delivered */
    askedAt: string | null;
    respondBy: string;
    answeredAt: string | null;
    /** the published answer (or staff's summary of it, `summary` true); null until published */
    answer: string | null;
    summary: boolean;
    /** whole days past the date: without an answer (overdue), or when the answer came (answered late) */
    overdueDays: number;
    /** the date passed before an answer came, or has passed without one */
    late: boolean;
  }[];
}

/** The thresholds as the public sees them at `now`: dates to answer by, and who is late by how many days. */
export function publicThresholds(rows: readonly ThresholdRow[], respondWithinDays: number, now: Date, locale: string): PublicThreshold[] {
  return rows.map((t) => {
    const respondBy = t.reachedAt ? new Date(Date.parse(t.reachedAt) + respondWithinDays * DAY_MS) : null;
    return {
      count: t.count,
      reachedAt: t.reachedAt,
      respondBy: respondBy?.toISOString() ?? null,
      targets: respondBy
        ? t.requests.map((q) => {
            const answered = q.answer !== null;
            const late = !answered && q.letterStatus === LetterStatus.SENT && now.getTime() > respondBy.getTime();
            const answeredLate = answered && Date.parse(q.answer!.receivedAt) > respondBy.getTime();
            const state: RequestState = answered
              ? 'answered'
              : q.letterStatus === LetterStatus.FAILED || q.letterStatus === LetterStatus.BOUNCED
                ? 'undelivered'
                : q.letterStatus !== LetterStatus.SENT
                  ? 'sending'
                  : late
                    ? 'overdue'
                    : 'waiting';
            return {
              slug: q.target.slug,
              target: localTargetName(q.target, locale),
              state,
              askedAt: q.sentAt,
              respondBy: respondBy.toISOString(),
              answeredAt: q.answer?.receivedAt ?? null,
              answer: q.answer?.text ?? null,
              summary: q.answer?.summary ?? false,
              overdueDays: late
                ? Math.floor((now.getTime() - respondBy.getTime()) / DAY_MS)
                : answeredLate
                  ? Math.floor((Date.parse(q.answer!.receivedAt) - respondBy.getTime()) / DAY_MS)
                  : 0,
              late: late || answeredLate,
            };
          })
        : [],
    };
  });
}

/** What a threshold's request letter says beyond an ordinary letter: the threshold, the days and the date. */
export async function thresholdOfLetter(db: Queryable, letterId: string) {
  return qb(db)
    .selectFrom('threshold_requests as q')
    .innerJoin('action_thresholds as t', 't.id', 'q.threshold_id')
    .innerJoin('actions as a', 'a.id', 't.action_id')
    .select(['t.count', 't.reached_at as reachedAt', 'a.respond_within_days as days'])
    .where('q.letter_id', '=', letterId)
    .executeTakeFirst();
}

/** For staff: every request of every reached threshold, overdue first (most days late first), then waiting by date. */
export async function owedAnswers(pool: pg.Pool, now: Date, locale: string) {
  const rows = await qb(pool)
    .selectFrom('action_thresholds as t')
    .innerJoin('actions as a', 'a.id', 't.action_id')
    .select((e) => ['a.id', 'a.slug', 'a.respond_within_days as days', actionTitle({ id: e.ref('a.id'), defaultLocale: e.ref('a.default_locale'), slug: e.ref('a.slug') }, e.val(locale)).as('title'), thresholdsOf(e.ref('a.id')).as('thresholds')])
    .where('t.reached_at', 'is not', null)
    .groupBy('a.id')
    .execute();
  const list = rows.flatMap((a) =>
    publicThresholds(a.thresholds.filter((t) => t.reachedAt !== null), a.days, now, locale).flatMap((t) =>
      t.targets.map(({ slug: targetSlug, ...q }) => ({ actionId: a.id, slug: a.slug, title: a.title, count: t.count, reachedAt: t.reachedAt!, targetSlug, ...q })),
    ),
  );
  const rank: Record<RequestState, number> = { overdue: 0, undelivered: 1, sending: 2, waiting: 3, answered: 4 };
  return list.sort((x, y) => rank[x.state] - rank[y.state] || y.overdueDays - x.overdueDays || x.respondBy.localeCompare(y.respondBy) || x.title.localeCompare(y.title));
}

/** A notice of kind "threshold" as the notice mailer hands it over (supporter/notice-mail.ts). */
export interface NoticeToCompose {
  id: string;
  subjectId: string;
  event: string;
  locale: string;
  firstName: string;
}

/**
 * The email of a threshold notice: "reached" (the date to answer by and who was asked) or
 * "overdue:<target>" (that official let the date pass). Null when it is owed no more: the
 * threshold is gone, or the late official has answered since.
 */
export async function composeThresholdNotice(db: Queryable, n: NoticeToCompose, links: { publicBaseUrl: string; footer: Record<string, string> }): Promise<RenderedMail | null> {
  const t = await qb(db)
    .selectFrom('action_thresholds as t')
    .innerJoin('actions as a', 'a.id', 't.action_id')
    .select((eb) => [
      't.count',
      't.reached_at as reachedAt',
      'a.slug',
      'a.respond_within_days as days',
      actionTitle({ id: eb.ref('a.id'), defaultLocale: eb.ref('a.default_locale'), slug: eb.ref('a.slug') }, eb.val(n.locale)).as('title'),
    ])
    .where('t.id', '=', n.subjectId)
    .executeTakeFirst();
  if (!t?.reachedAt) return null;
  const respondBy = new Date(t.reachedAt.getTime() + t.days * DAY_MS);
  const targets = await qb(db)
    .selectFrom('threshold_requests as q')
    .innerJoin('targets as g', 'g.id', 'q.target_id')
    .innerJoin('letters as l', 'l.id', 'q.letter_id')
    .innerJoin('action_thresholds as t', 't.id', 'q.threshold_id')
    .select((eb) => [
      'g.id',
      'g.name',
      'g.title',
      'g.organisation',
      'g.language',
      'g.names',
      'g.name_is_official as nameIsOfficial',
      'q.overdue_at as overdueAt',
      eb.exists(answerTo(expressionBuilder<DB, never>(), eb.ref('t.action_id'), eb.ref('q.target_id'), eb.ref('l.created_at')).select(sql.lit(1).as('one'))).as('answered'),
    ])
    .where('q.threshold_id', '=', n.subjectId)
    .orderBy('g.name')
    .execute();
  const line = (g: (typeof targets)[number]) => localTargetLine(g, n.locale);
  const overdue = n.event.startsWith(OVERDUE_AT) || n.event.startsWith('overdue:');
  // the offices this notice is about and that have still not answered: those marked late at the
  // event's moment (or, for a notice owed before notices were grouped, its one office)
  let late: typeof targets = [];
  if (n.event.startsWith(OVERDUE_AT)) {
    const at = new Date(n.event.slice(OVERDUE_AT.length)).getTime();
    late = targets.filter((g) => !g.answered && g.overdueAt?.getTime() === at);
  } else if (n.event.startsWith('overdue:')) {
    late = targets.filter((g) => !g.answered && g.id === n.event.slice('overdue:'.length));
  }
  if (overdue && late.length === 0) return null;
  return render(overdue ? 'threshold-overdue' : 'threshold-reached', n.locale, {
    firstName: n.firstName,
    action: { title: t.title },
    count: t.count,
    days: t.days,
    respondBy: new Intl.DateTimeFormat(n.locale, { dateStyle: 'long', timeZone: 'UTC' }).format(respondBy),
    targets: targets.map(line),
    late: late.map(line),
    actionUrl: memberPageUrl(links.publicBaseUrl, n.locale, `/actions/${t.slug}`),
    ...links.footer,
  });
}
