// What staff do with an action's delivery: choose its policy, pause and resume it, send what
// is owed now, preview the next delivery, read the full ledger, and retry a failed letter.
// Every change is audited in the transaction that makes it. The preview writes nothing: it
// builds the next batch with the batcher's own code (writeBatch) inside a transaction,
// renders each letter with the delivery's own renderer (renderLetter), and rolls back.
import type pg from 'pg';
import { z } from 'zod';
import { inTransaction } from '../db/db.ts';
import { renderLetter, type PacketLinkOptions } from '../letter/letter.service.ts';
import { letterStates } from '../letter/letter.states.ts';
import type { Queues } from '../queue/queue.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { recordAudit } from '../staff/audit.ts';
import { buildBatch, writeBatch } from './batch.service.ts';
import { owedAndHeldSql } from './country-minimum.ts';
import { sendsInOfficeHours } from './delivery.policy.ts';

export interface DeliveryAdminDeps {
  pool: pg.Pool;
  queues?: Pick<Queues, 'enqueueLetters'>;
  mailDomain: string;
  organisation: string;
  clock: () => Date;
  packet: PacketLinkOptions;
  /** PUBLIC_COUNTRY_MIN: the country minimum of BY_SIGNER_COUNTRY actions (country-minimum.ts) */
  countryMin: number;
}

export const POLICIES = ['IMMEDIATE', 'EVERY_N', 'DAILY_DIGEST', 'MILESTONES', 'ON_CLOSE'] as const;

export const policyInputSchema = z.strictObject({
  policy: z.enum(POLICIES, { error: `policy must be one of ${POLICIES.join(', ')}` }),
  everyN: z.coerce.number({ error: 'everyN must be a number' }).int('everyN must be a whole number').min(1).max(1_000_000).optional(),
  milestones: z
    .array(z.coerce.number().int('milestones are whole numbers').min(1).max(100_000_000))
    .max(50, 'at most 50 milestones')
    .optional(),
});
export type PolicyInput = z.infer<typeof policyInputSchema>;

/** What a last_error says, in one word staff can filter on. */
export type ErrorClass = 'smtp-permanent' | 'smtp-transient' | 'timeout' | 'connection' | 'gave-up' | 'other';

export function classifyError(lastError: string | null): ErrorClass | null {
  if (!lastError) return null;
  if (/^gave up after/.test(lastError)) return 'gave-up';
  if (/^5\d\d\b/.test(lastError)) return 'smtp-permanent';
  if (/^4\d\d\b/.test(lastError)) return 'smtp-transient';
  if (/timeout|ETIMEDOUT/i.test(lastError)) return 'timeout';
  if (/ECONNREFUSED|ECONNRESET|ESOCKET|ECONNECTION|EPIPE|closed/i.test(lastError)) return 'connection';
  return 'other';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function mustBeUuid(id: string, what: string): void {
  if (!UUID.test(id)) throw notFound(`${what}_not_found`, `No ${what} ${JSON.stringify(id.slice(0, 60))}`);
}

export interface DeliveryActionSummary {
  id: string;
  slug: string;
  title: string;
  status: string;
  policy: string;
  everyN: number;
  paused: boolean;
  /** confirmed signatures in no batch yet that a delivery made now would carry */
  owed: number;
  /**
   * confirmed signatures in no batch yet that wait for their country to reach the minimum
   * (BY_SIGNER_COUNTRY actions only, country-minimum.ts); an action closed with some held
   * delivers nothing for them
   */
  held: number;
  pendingLetters: number;
  failedLetters: number;
  staleTargets: number;
  lastBatchAt: Date | null;
}

export async function listDeliveryActions(pool: pg.Pool, countryMin: number): Promise<DeliveryActionSummary[]> {
  const { rows } = await pool.query<DeliveryActionSummary>(
    `SELECT a.id, a.slug, a.status, a.delivery_policy AS policy, a.delivery_every_n AS "everyN", a.delivery_paused AS paused,
            COALESCE((SELECT title FROM action_texts t WHERE t.action_id = a.id ORDER BY (t.locale = a.default_locale) DESC LIMIT 1), a.slug) AS title,
            oh.owed, oh.held,
            (SELECT count(*)::int FROM letters l JOIN delivery_batches b ON b.id = l.batch_id
              WHERE b.action_id = a.id AND l.status IN ('PENDING', 'SUBMITTING')) AS "pendingLetters",
            (SELECT count(*)::int FROM letters l JOIN delivery_batches b ON b.id = l.batch_id
              WHERE b.action_id = a.id AND l.status IN ('FAILED', 'BOUNCED')) AS "failedLetters",
            (SELECT count(*)::int FROM action_targets at JOIN targets g ON g.id = at.target_id
              WHERE at.action_id = a.id AND g.contact_status = 'STALE') AS "staleTargets",
            (SELECT max(created_at) FROM delivery_batches b WHERE b.action_id = a.id) AS "lastBatchAt"
     FROM actions a CROSS JOIN LATERAL (${owedAndHeldSql('a.id', 'a.target_mode', '$1::int')}) oh
     WHERE a.status IN ('PUBLISHED', 'CLOSED')
     ORDER BY a.published_at DESC NULLS LAST, a.slug`,
    [countryMin],
  );
  return rows;
}

export interface LedgerLetter {
  id: string;
  target: { id: string; name: string; organisation: string; email: string; contactStatus: string };
  status: string;
  locale: string;
  signatureCount: number;
  attempts: number;
  lastError: string | null;
  errorClass: ErrorClass | null;
  nextAttemptAt: Date | null;
  messageId: string;
  smtpResponse: string | null;
  createdAt: Date;
  sentAt: Date | null;
  bouncedAt: Date | null;
  openedAt: Date | null;
  answeredAt: Date | null;
  /** seconds from the first letter of the batch accepted to this target's first answer */
  responseSeconds: number | null;
}

export interface DeliveryDetail {
  action: DeliveryActionSummary & { milestones: number[]; defaultLocale: string };
  targets: {
    id: string;
    name: string;
    organisation: string;
    email: string;
    language: string;
    timezone: string;
    officeOpensAt: number;
    officeClosesAt: number;
    contactStatus: string;
    bounceCount: number;
    /** median seconds from delivery to an answer over this action's answered letters */
    medianResponseSeconds: number | null;
    answered: number;
  }[];
  batches: { id: string; reason: string; signatureCount: number; totalCount: number; createdAt: Date; letters: LedgerLetter[] }[];
  failures: LedgerLetter[];
  /** PUBLIC_COUNTRY_MIN, the country minimum behind `action.held` */
  countryMin: number;
}

const BATCH_PAGE = 100;

export async function deliveryDetail(pool: pg.Pool, actionId: string, countryMin: number): Promise<DeliveryDetail> {
  mustBeUuid(actionId, 'action');
  const summary = (await listOne(pool, actionId, countryMin))!;
  const targets = await pool.query<DeliveryDetail['targets'][number]>(
    `SELECT g.id, g.name, g.organisation, g.email, g.language, g.timezone, g.office_opens_at AS "officeOpensAt",
            g.office_closes_at AS "officeClosesAt", g.contact_status AS "contactStatus", g.bounce_count AS "bounceCount",
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x.secs) FROM (${responseSecondsSql('$1', 'g.id')}) x)::float8 AS "medianResponseSeconds",
            (SELECT count(*)::int FROM (${responseSecondsSql('$1', 'g.id')}) x) AS answered
     FROM action_targets at JOIN targets g ON g.id = at.target_id
     WHERE at.action_id = $1 ORDER BY at.position, g.name`,
    [actionId],
  );
  const batches = await pool.query<{ id: string; reason: string; signatureCount: number; totalCount: number; createdAt: Date }>(
    `SELECT id, reason, signature_count AS "signatureCount", total_count AS "totalCount", created_at AS "createdAt"
     FROM delivery_batches WHERE action_id = $1 ORDER BY created_at DESC, id LIMIT ${BATCH_PAGE}`,
    [actionId],
  );
  const letters = await ledgerLetters(pool, 'b.action_id = $1 AND b.id = ANY($2::uuid[])', [actionId, batches.rows.map((b) => b.id)]);
  const failures = await ledgerLetters(pool, `b.action_id = $1 AND (l.status IN ('FAILED', 'BOUNCED') OR g.contact_status = 'STALE')`, [actionId]);
  return {
    action: summary,
    targets: targets.rows.map((t) => ({ ...t, medianResponseSeconds: t.medianResponseSeconds === null ? null : Math.round(t.medianResponseSeconds) })),
    batches: batches.rows.map((b) => ({ ...b, letters: letters.filter((l) => l.batchId === b.id).map(({ batchId: _b, ...l }) => l) })),
    failures: failures.map(({ batchId: _b, ...l }) => l),
    countryMin,
  };
}

/**
 * Seconds from delivery to answer for one action and target: per answered letter, from the
 * first letter of its batch accepted by a mail server to the first answer received.
 */
function responseSecondsSql(actionParam: string, targetExpr: string): string {
  return `SELECT extract(epoch FROM (min(r.received_at) - (SELECT min(f.sent_at) FROM letters f WHERE f.batch_id = l2.batch_id)))::float8 AS secs
          FROM letters l2 JOIN delivery_batches b2 ON b2.id = l2.batch_id JOIN responses r ON r.letter_id = l2.id
          WHERE b2.action_id = ${actionParam} AND l2.target_id = ${targetExpr} AND l2.sent_at IS NOT NULL
            AND r.status <> 'REJECTED'
          GROUP BY l2.id, l2.batch_id`;
}

async function listOne(pool: pg.Pool, actionId: string, countryMin: number) {
  const { rows } = await pool.query<DeliveryActionSummary & { milestones: number[]; defaultLocale: string }>(
    `SELECT a.id, a.slug, a.status, a.delivery_policy AS policy, a.delivery_every_n AS "everyN", a.delivery_paused AS paused,
            a.milestones, a.default_locale AS "defaultLocale",
            COALESCE((SELECT title FROM action_texts t WHERE t.action_id = a.id ORDER BY (t.locale = a.default_locale) DESC LIMIT 1), a.slug) AS title,
            oh.owed, oh.held,
            (SELECT count(*)::int FROM letters l JOIN delivery_batches b ON b.id = l.batch_id
              WHERE b.action_id = a.id AND l.status IN ('PENDING', 'SUBMITTING')) AS "pendingLetters",
            (SELECT count(*)::int FROM letters l JOIN delivery_batches b ON b.id = l.batch_id
              WHERE b.action_id = a.id AND l.status IN ('FAILED', 'BOUNCED')) AS "failedLetters",
            (SELECT count(*)::int FROM action_targets at JOIN targets g ON g.id = at.target_id
              WHERE at.action_id = a.id AND g.contact_status = 'STALE') AS "staleTargets",
            (SELECT max(created_at) FROM delivery_batches b WHERE b.action_id = a.id) AS "lastBatchAt"
     FROM actions a CROSS JOIN LATERAL (${owedAndHeldSql('a.id', 'a.target_mode', '$2::int')}) oh
     WHERE a.id = $1`,
    [actionId, countryMin],
  );
  if (!rows[0]) throw notFound('action_not_found', 'No such action');
  return rows[0];
}

async function ledgerLetters(pool: pg.Pool, where: string, params: unknown[]): Promise<(LedgerLetter & { batchId: string })[]> {
  const { rows } = await pool.query<{
    id: string;
    batch_id: string;
    target_id: string;
    name: string;
    organisation: string;
    email: string;
    contact_status: string;
    status: string;
    locale: string;
    signature_count: number;
    attempts: number;
    last_error: string | null;
    next_attempt_at: Date;
    message_id: string;
    smtp_response: string | null;
    created_at: Date;
    sent_at: Date | null;
    bounced_at: Date | null;
    opened_at: Date | null;
    answered_at: Date | null;
    first_sent: Date | null;
  }>(
    `SELECT l.id, l.batch_id, l.target_id, g.name, g.organisation, g.email, g.contact_status, l.status, l.locale, l.signature_count,
            l.attempts, l.last_error, l.next_attempt_at, l.message_id, l.smtp_response, l.created_at, l.sent_at, l.bounced_at, l.opened_at,
            (SELECT min(r.received_at) FROM responses r WHERE r.letter_id = l.id AND r.status <> 'REJECTED') AS answered_at,
            (SELECT min(f.sent_at) FROM letters f WHERE f.batch_id = l.batch_id) AS first_sent
     FROM letters l JOIN delivery_batches b ON b.id = l.batch_id JOIN targets g ON g.id = l.target_id
     WHERE ${where}
     ORDER BY l.created_at DESC, g.name LIMIT 1000`,
    params,
  );
  return rows.map((r) => ({
    id: r.id,
    batchId: r.batch_id,
    target: { id: r.target_id, name: r.name, organisation: r.organisation, email: r.email, contactStatus: r.contact_status },
    status: r.status,
    locale: r.locale,
    signatureCount: r.signature_count,
    attempts: r.attempts,
    lastError: r.last_error,
    errorClass: classifyError(r.last_error),
    nextAttemptAt: r.status === 'PENDING' ? r.next_attempt_at : null,
    messageId: r.message_id,
    smtpResponse: r.smtp_response,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    bouncedAt: r.bounced_at,
    openedAt: r.opened_at,
    answeredAt: r.answered_at,
    responseSeconds: r.answered_at && r.first_sent ? Math.max(0, Math.round((r.answered_at.getTime() - r.first_sent.getTime()) / 1000)) : null,
  }));
}

export async function setPolicy(deps: DeliveryAdminDeps, staffId: string, actionId: string, input: PolicyInput) {
  mustBeUuid(actionId, 'action');
  if (input.policy === 'EVERY_N' && input.everyN === undefined) throw new AppError(422, 'validation_failed', 'everyN is required for EVERY_N');
  if (input.policy === 'MILESTONES' && !input.milestones?.length) throw new AppError(422, 'validation_failed', 'milestones are required for MILESTONES');
  return inTransaction(deps.pool, async (client) => {
    const before = await client.query<{ policy: string; everyN: number; milestones: number[] }>(
      `SELECT delivery_policy AS policy, delivery_every_n AS "everyN", milestones FROM actions WHERE id = $1 FOR UPDATE`,
      [actionId],
    );
    if (!before.rows[0]) throw notFound('action_not_found', 'No such action');
    const prev = before.rows[0];
    const after = {
      policy: input.policy,
      everyN: input.everyN ?? prev.everyN,
      milestones: input.milestones ? [...new Set(input.milestones)].sort((a, b) => a - b) : prev.milestones,
    };
    await client.query(`UPDATE actions SET delivery_policy = $2, delivery_every_n = $3, milestones = $4, updated_at = $5 WHERE id = $1`, [
      actionId,
      after.policy,
      after.everyN,
      after.milestones,
      deps.clock(),
    ]);
    await recordAudit(client, { staffId, verb: 'delivery_policy_set', entity: 'action', entityId: actionId, before: prev, after, at: deps.clock() });
    return after;
  });
}

export async function setPaused(deps: DeliveryAdminDeps, staffId: string, actionId: string, paused: boolean) {
  mustBeUuid(actionId, 'action');
  return inTransaction(deps.pool, async (client) => {
    const before = await client.query<{ paused: boolean }>(`SELECT delivery_paused AS paused FROM actions WHERE id = $1 FOR UPDATE`, [actionId]);
    if (!before.rows[0]) throw notFound('action_not_found', 'No such action');
    if (before.rows[0].paused !== paused) {
      await client.query(`UPDATE actions SET delivery_paused = $2, updated_at = $3 WHERE id = $1`, [actionId, paused, deps.clock()]);
      await recordAudit(client, {
        staffId,
        verb: paused ? 'delivery_paused' : 'delivery_resumed',
        entity: 'action',
        entityId: actionId,
        before: { paused: before.rows[0].paused },
        after: { paused },
        at: deps.clock(),
      });
    }
    return { paused };
  });
}

/**
 * "Send now": a batch of everything owed, built at once and sent at once (not held for
 * office hours), whatever the policy, and even while paused (staff chose to). Exactly once:
 * the batcher's advisory lock and the signatures' batch_id make a second press find nothing.
 */
export async function sendNow(deps: DeliveryAdminDeps, staffId: string, actionId: string) {
  mustBeUuid(actionId, 'action');
  const action = await listOne(deps.pool, actionId, deps.countryMin);
  if (action.status !== 'PUBLISHED' && action.status !== 'CLOSED') {
    throw conflict('action_not_live', `Only a published or closed action delivers; this one is ${action.status}`);
  }
  const built = await buildBatch(
    {
      pool: deps.pool,
      // without queues in this process the letters wait, PENDING, for the sweeper
      queues: deps.queues ?? { enqueueLetters: async () => {} },
      mailDomain: deps.mailDomain,
      clock: deps.clock,
      countryMin: deps.countryMin,
    },
    actionId,
    'send-now',
    {
      officeHours: false,
      onWritten: (client, batch) =>
        recordAudit(client, {
          staffId,
          verb: 'delivery_sent_now',
          entity: 'action',
          entityId: actionId,
          after: { batchId: batch.batchId, signatureCount: batch.signatureCount, letters: batch.letterIds.length },
          at: deps.clock(),
        }),
    },
  );
  if (!built) throw conflict('nothing_owed', 'Nothing is owed to the targets of this action right now');
  return built;
}

export interface DeliveryPreview {
  /** false when nothing is owed: the rest is then empty */
  owed: boolean;
  policy: string;
  paused: boolean;
  /** when the batcher would send it under the policy, null for "not by itself" (paused, at close) */
  heldForOfficeHours: boolean;
  signatureCount: number;
  totalCount: number;
  /** confirmed signatures this delivery leaves waiting for their country to reach the minimum (country-minimum.ts) */
  held: number;
  countries: { country: string; count: number }[];
  letters: { target: { name: string; organisation: string; email: string }; locale: string; signatureCount: number; subject: string; text: string; html: string; sendAt: Date }[];
}

/** The next delivery as it would be built right now, rendered by the delivery's own code; nothing is kept. */
export async function previewNextDelivery(deps: DeliveryAdminDeps, actionId: string): Promise<DeliveryPreview> {
  mustBeUuid(actionId, 'action');
  const action = await listOne(deps.pool, actionId, deps.countryMin);
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    const officeHours = sendsInOfficeHours(action.policy as (typeof POLICIES)[number]);
    const built = await writeBatch(client, { mailDomain: deps.mailDomain, clock: deps.clock, countryMin: deps.countryMin }, actionId, 'preview', { officeHours });
    const empty: DeliveryPreview = {
      owed: false,
      policy: action.policy,
      paused: action.paused,
      heldForOfficeHours: officeHours,
      signatureCount: 0,
      totalCount: 0,
      held: action.held,
      countries: [],
      letters: [],
    };
    if (!built) {
      if (action.owed > 0) throw conflict('batch_in_progress', 'A delivery of this action is being built right now; try again in a moment');
      return empty;
    }
    const batch = await client.query<{ total_count: number }>(`SELECT total_count FROM delivery_batches WHERE id = $1`, [built.batchId]);
    const countries = await client.query<{ country: string; count: number }>(
      `SELECT country, count(*)::int AS count FROM signatures WHERE batch_id = $1 GROUP BY country ORDER BY count(*) DESC, country`,
      [built.batchId],
    );
    const letters: DeliveryPreview['letters'] = [];
    for (const id of built.letterIds) {
      const rendered = await renderLetter(client, id, deps.organisation, { ...deps.packet, now: deps.clock() });
      if (!rendered) continue;
      const due = await client.query<{ next_attempt_at: Date; name: string; organisation: string; email: string }>(
        `SELECT l.next_attempt_at, g.name, g.organisation, g.email FROM letters l JOIN targets g ON g.id = l.target_id WHERE l.id = $1`,
        [id],
      );
      const d = due.rows[0]!;
      letters.push({
        target: { name: d.name, organisation: d.organisation, email: d.email },
        locale: rendered.letter.locale,
        signatureCount: rendered.letter.signature_count,
        subject: rendered.mail.subject,
        text: rendered.mail.text,
        html: rendered.mail.html,
        sendAt: d.next_attempt_at,
      });
    }
    return {
      ...empty,
      owed: true,
      signatureCount: built.signatureCount,
      totalCount: batch.rows[0]!.total_count,
      countries: countries.rows,
      letters,
    };
  } finally {
    // the preview is never kept: everything above is undone here
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}

/** A FAILED letter owed again: back to PENDING, due now, and enqueued. Audited. */
export async function retryLetter(deps: DeliveryAdminDeps, staffId: string, letterId: string) {
  mustBeUuid(letterId, 'letter');
  const result = await inTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<{ status: 'PENDING' | 'SUBMITTING' | 'SENT' | 'FAILED' | 'BOUNCED'; attempts: number; last_error: string | null; action_id: string }>(
      `SELECT l.status, l.attempts, l.last_error, b.action_id FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE l.id = $1 FOR UPDATE OF l`,
      [letterId],
    );
    const l = rows[0];
    if (!l) throw notFound('letter_not_found', 'No such letter');
    if (l.status !== 'FAILED' || !letterStates.can(l.status, 'PENDING')) {
      throw conflict('letter_not_failed', `Only a FAILED letter can be retried; this one is ${l.status}`);
    }
    await client.query(`UPDATE letters SET status = 'PENDING', next_attempt_at = $2 WHERE id = $1 AND status = 'FAILED'`, [letterId, deps.clock()]);
    await recordAudit(client, {
      staffId,
      verb: 'letter_retried',
      entity: 'letter',
      entityId: letterId,
      before: { status: l.status, attempts: l.attempts, lastError: l.last_error },
      after: { status: 'PENDING' },
      at: deps.clock(),
    });
    return { actionId: l.action_id, attempts: l.attempts };
  });
  await deps.queues?.enqueueLetters([{ id: letterId, attempts: result.attempts }]).catch(() => {
    // PENDING and due: the sweeper enqueues it
  });
  return { status: 'PENDING' as const, actionId: result.actionId };
}
