// Webhooks: signed HTTP POSTs to the endpoints admins register, one per event they subscribe
// to. The database is the outbox: emitEvent() writes the event and one delivery per subscribed
// endpoint in the caller's transaction, so an event exists exactly when its change committed.
// The webhook loop (workers/main.ts) enqueues what is due, a BullMQ worker delivers it, every
// attempt is recorded, failures are retried with exponential backoff and jitter, and a
// flushed Redis loses nothing: the next sweep finds the owed deliveries again.
//
// Signature: header `Chorus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
// Payloads carry ids and counts, never emails or names.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queue } from 'bullmq';
import { sql, type QueryCreator, type UpdateQueryBuilder, type UpdateResult } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type pg from 'pg';
import { z } from 'zod';
import { inTransaction, qb, WebhookDeliveryStatus, type DB, type Queryable } from '../db/db.ts';
import { invalid, notFound } from '../shared/errors.ts';
import { checkOutboundUrl, outboundPolicy, postOutbound, type OutboundPolicy } from '../shared/outbound.ts';
import { seal, unseal } from '../shared/seal.ts';
import { recordAudit } from '../staff/audit.ts';
import { webhookDeliveries } from '../shared/metrics.ts';

export const WEBHOOK_EVENTS = ['signature.confirmed', 'letter.delivered', 'letter.bounced', 'answer.published', 'update.published'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
export type LetterEventType = Extract<WebhookEventType, 'letter.delivered' | 'letter.bounced'>;

// --- emitting -------------------------------------------------------------------------------

/** The active endpoints subscribed to `type`. */
const subscribers = (q: QueryCreator<DB>, type: WebhookEventType) =>
  q
    .selectFrom('webhook_endpoints')
    .select('id')
    .where('disabled_at', 'is', null)
    .where((eb) => eb(eb.val<string>(type), '=', eb.fn.any('events')));

/**
 * Records an event for every active endpoint subscribed to `type`, in one statement (nothing is
 * written when no endpoint listens). Call it with the transaction client of the change the
 * event reports, so both commit or neither does. `payload` must hold ids and counts only:
 * no emails, no names. Returns the event id, or null when no endpoint listens.
 *
 *   await inTransaction(pool, async (tx) => {
 *     await qb(tx).updateTable('answers').set({ status: AnswerStatus.PUBLISHED }).where('id', '=', id).execute();
 *     await emitEvent(tx, 'answer.published', { responseId: id, actionId, targetId });
 *   });
 */
export async function emitEvent(db: Queryable, type: WebhookEventType, payload: Record<string, unknown>): Promise<string | null> {
  const row = await qb(db)
    .with('ep', (q) => subscribers(q, type))
    .with('ev', (q) =>
      q
        .insertInto('webhook_events')
        .columns(['type', 'payload'])
        .expression(
          q
            .selectNoFrom((eb) => [eb.val(type).as('type'), eb.cast(eb.val(JSON.stringify(payload)), 'jsonb').as('payload')])
            .where((eb) => eb.exists(eb.selectFrom('ep').select('ep.id'))),
        )
        .returning('id'),
    )
    .insertInto('webhook_deliveries')
    .columns(['event_id', 'endpoint_id'])
    .expression((eb) => eb.selectFrom('ev').crossJoin('ep').select(['ev.id as event_id', 'ep.id as endpoint_id']))
    .returning('event_id')
    .executeTakeFirst();
  return row?.event_id ?? null;
}

/** letter.delivered / letter.bounced for one letter: ids and the count it carried. */
export async function emitLetterEvent(db: Queryable, type: LetterEventType, letterId: string): Promise<string | null> {
  const l = await qb(db)
    .selectFrom('letters as l')
    .innerJoin('delivery_batches as b', 'b.id', 'l.batch_id')
    .innerJoin('actions as a', 'a.id', 'b.action_id')
    .select((eb) => ['b.action_id', 'a.slug', 'l.target_id', 'l.batch_id', 'l.signature_count', eb.fn.coalesce('l.bounced_at', 'l.sent_at').as('at')])
    .where('l.id', '=', letterId)
    .executeTakeFirst();
  if (!l) return null;
  return emitEvent(db, type, {
    letterId,
    batchId: l.batch_id,
    actionId: l.action_id,
    action: l.slug,
    targetId: l.target_id,
    signatureCount: l.signature_count,
    at: l.at?.toISOString() ?? null,
  });
}

/** An UPDATE of letters, as updateLetterWithEvent() is given it: what to set, and where. */
export type LetterUpdate = UpdateQueryBuilder<DB, 'letters', 'letters', UpdateResult>;

/**
 * Changes a letter and emits its event in one statement, so the change and its event are one
 * round trip and one snapshot: `update` sets and narrows an UPDATE of letters (it returns what
 * the event needs). The event carries what emitLetterEvent's carries. Answers whether a letter
 * changed (no event when none did).
 *
 *   await updateLetterWithEvent(pool, 'letter.delivered', (letters) =>
 *     letters.set({ status: LetterStatus.SENT, sent_at: now }).where('id', '=', id).where('status', '=', LetterStatus.SUBMITTING));
 */
export async function updateLetterWithEvent(db: Queryable, type: LetterEventType, update: (letters: LetterUpdate) => LetterUpdate): Promise<boolean> {
  const row = await qb(db)
    .with('ep', (q) => subscribers(q, type))
    .with('changed', (q) =>
      update(q.updateTable('letters')).returning(['id', 'batch_id', 'target_id', 'signature_count', 'bounced_at', 'sent_at']),
    )
    .with('ev', (q) =>
      q
        .insertInto('webhook_events')
        .columns(['type', 'payload'])
        .expression((eb) =>
          eb
            .selectFrom('changed as c')
            .innerJoin('delivery_batches as b', 'b.id', 'c.batch_id')
            .innerJoin('actions as a', 'a.id', 'b.action_id')
            .select([
              eb.cast<string>(eb.val(type), 'varchar').as('type'),
              // the same fields as emitLetterEvent's, `at` as toISOString() writes it
              sql<unknown>`jsonb_build_object(
                'letterId', ${sql.ref('c.id')}, 'batchId', ${sql.ref('c.batch_id')}, 'actionId', ${sql.ref('b.action_id')},
                'action', ${sql.ref('a.slug')}, 'targetId', ${sql.ref('c.target_id')}, 'signatureCount', ${sql.ref('c.signature_count')},
                'at', to_char(COALESCE(${sql.ref('c.bounced_at')}, ${sql.ref('c.sent_at')}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`.as(
                'payload',
              ),
            ])
            .where(eb.exists(eb.selectFrom('ep').select('ep.id'))),
        )
        .returning('id'),
    )
    .with('dl', (q) =>
      q
        .insertInto('webhook_deliveries')
        .columns(['event_id', 'endpoint_id'])
        .expression((eb) => eb.selectFrom('ev').crossJoin('ep').select(['ev.id as event_id', 'ep.id as endpoint_id'])),
    )
    .selectFrom('changed')
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('changed'))
    .executeTakeFirst();
  return (row?.changed ?? 0) > 0;
}

// --- signing ----------------------------------------------------------------------------------

export function signatureHeader(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/** What a receiver does: recompute the HMAC over "<t>.<raw body>", compare in constant time, refuse old timestamps. */
export function verifySignature(secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const m = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureHeader(secret, t, body).split('v1=')[1]!, 'hex');
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

// --- endpoint secrets, sealed at rest (shared/seal.ts: AES-256-GCM under SECRET_KEY) -------------

const SEAL_PURPOSE = 'webhook-endpoint-secret';

export function sealSecret(appSecret: string, plain: string): string {
  return seal(appSecret, SEAL_PURPOSE, plain);
}

export function openSecret(appSecret: string, sealed: string): string {
  const plain = unseal(appSecret, SEAL_PURPOSE, sealed);
  if (plain === null) throw new Error('unreadable webhook secret (was SECRET_KEY changed?)');
  return plain;
}

// --- endpoints (admin) ---------------------------------------------------------------------------

export const endpointInputSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'url must be an http(s) address' })
      .max(2000, 'url must be at most 2000 characters'),
    description: z.string().trim().max(200).default(''),
    events: z.array(z.enum(WEBHOOK_EVENTS, { error: `events are ${WEBHOOK_EVENTS.join(', ')}` })).min(1, 'Choose at least one event').max(WEBHOOK_EVENTS.length),
  })
  .strict()
  .meta({ examples: [{ url: 'https://crm.example.org/hooks/chorus', description: 'CRM', events: ['signature.confirmed'] }] });

export const endpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string(),
  events: z.array(z.string()),
  createdAt: z.date(),
  createdBy: z.string().nullable(),
  disabledAt: z.date().nullable(),
});
export type EndpointView = z.infer<typeof endpointSchema>;

/** Endpoints with the email of the admin who made each, as the console shows them. */
const endpoints = (db: Queryable) =>
  qb(db)
    .selectFrom('webhook_endpoints as e')
    .leftJoin('staff_users as u', 'u.id', 'e.created_by')
    .select(['e.id', 'e.url', 'e.description', 'e.events', 'e.created_at as createdAt', 'u.email as createdBy', 'e.disabled_at as disabledAt']);

export async function listEndpoints(pool: pg.Pool): Promise<EndpointView[]> {
  return endpoints(pool)
    .orderBy((eb) => eb('e.disabled_at', 'is not', null))
    .orderBy('e.created_at', 'desc')
    .execute();
}

export async function createEndpoint(
  pool: pg.Pool,
  appSecret: string,
  input: z.output<typeof endpointInputSchema>,
  staffId: string,
  /** WEBHOOK_ALLOW_PRIVATE: internal ranges that may be registered (an internal CRM) */
  policy: OutboundPolicy = outboundPolicy(),
): Promise<{ endpoint: EndpointView; secret: string }> {
  // no endpoint on an internal address (shared/outbound.ts); checked again at every delivery
  const refusal = await checkOutboundUrl(input.url, policy);
  if (refusal) {
    const message = `url must be a public address: ${refusal}. Internal receivers must be listed in WEBHOOK_ALLOW_PRIVATE`;
    throw invalid('webhook_url_internal', message, [{ path: 'url', code: 'internal_address', message }]);
  }
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  const events = [...new Set(input.events)];
  return inTransaction(pool, async (client) => {
    const { id } = await qb(client)
      .insertInto('webhook_endpoints')
      .values({ url: input.url, description: input.description, events, secret: sealSecret(appSecret, secret), created_by: staffId })
      .returning('id')
      .executeTakeFirstOrThrow();
    await recordAudit(client, { staffId, verb: 'created', entity: 'webhook_endpoint', entityId: id, after: { url: input.url, events } });
    const endpoint = await endpoints(client).where('e.id', '=', id).executeTakeFirstOrThrow();
    return { endpoint, secret };
  });
}

export async function disableEndpoint(pool: pg.Pool, id: string, staffId: string, at: Date): Promise<EndpointView> {
  return inTransaction(pool, async (client) => {
    const before = await endpoints(client).where('e.id', '=', id).forUpdate('e').executeTakeFirst();
    if (!before) throw notFound('webhook_endpoint_not_found', 'No such webhook endpoint');
    if (!before.disabledAt) {
      await qb(client).updateTable('webhook_endpoints').set({ disabled_at: at }).where('id', '=', id).execute();
      await recordAudit(client, { staffId, verb: 'disabled', entity: 'webhook_endpoint', entityId: id, before: { url: before.url }, after: { url: before.url, disabledAt: at } });
    }
    return endpoints(client).where('e.id', '=', id).executeTakeFirstOrThrow();
  });
}

// --- deliveries ------------------------------------------------------------------------------------

export const deliverySchema = z.object({
  id: z.string(),
  eventId: z.string(),
  event: z.string(),
  endpointId: z.string(),
  url: z.string(),
  status: z.enum(WebhookDeliveryStatus),
  attempts: z.number().int(),
  nextAttemptAt: z.date(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: z.date().nullable(),
  createdAt: z.date(),
  attemptLog: z.array(
    z.object({ at: z.date(), durationMs: z.number().int(), status: z.number().int().nullable(), error: z.string().nullable(), ok: z.boolean() }),
  ),
});
export type DeliveryView = z.infer<typeof deliverySchema>;

export async function listDeliveries(pool: pg.Pool, opts: { endpointId?: string; limit: number }): Promise<DeliveryView[]> {
  const rows = await qb(pool)
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as v', 'v.id', 'd.event_id')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .select((eb) => [
      'd.id',
      'd.event_id as eventId',
      'v.type as event',
      'd.endpoint_id as endpointId',
      'e.url',
      'd.status',
      'd.attempts',
      'd.next_attempt_at as nextAttemptAt',
      'd.last_status as lastStatus',
      'd.last_error as lastError',
      'd.delivered_at as deliveredAt',
      'd.created_at as createdAt',
      jsonArrayFrom(
        eb
          .selectFrom('webhook_attempts as a')
          .select(['a.attempted_at as at', 'a.duration_ms as durationMs', 'a.status', 'a.error', 'a.ok'])
          .whereRef('a.delivery_id', '=', 'd.id')
          .orderBy('a.attempted_at'),
      ).as('log'),
    ])
    .$if(opts.endpointId != null, (q) => q.where('d.endpoint_id', '=', opts.endpointId!))
    .orderBy('d.created_at', 'desc')
    .orderBy('d.id')
    .limit(opts.limit)
    .execute();
  // JSON carries the attempt times as text
  return rows.map(({ log, ...r }) => ({ ...r, attemptLog: log.map((a) => ({ ...a, at: new Date(a.at) })) }));
}

/** Staff: send a delivery again (whatever became of it), with a fresh budget of attempts. */
export async function replayDelivery(pool: pg.Pool, id: string, staffId: string, at: Date): Promise<void> {
  await inTransaction(pool, async (client) => {
    const replayed = await qb(client)
      .updateTable('webhook_deliveries')
      .set({ status: WebhookDeliveryStatus.PENDING, attempts: 0, next_attempt_at: at, locked_at: null })
      .where('id', '=', id)
      .where('status', '<>', WebhookDeliveryStatus.DELIVERING)
      .returning('id')
      .executeTakeFirst();
    if (!replayed) {
      const exists = await qb(client).selectFrom('webhook_deliveries').select('id').where('id', '=', id).executeTakeFirst();
      if (!exists) throw notFound('webhook_delivery_not_found', 'No such webhook delivery');
      return; // being delivered right now: nothing to do
    }
    await recordAudit(client, { staffId, verb: 'replayed', entity: 'webhook_delivery', entityId: id, after: { status: WebhookDeliveryStatus.PENDING } });
  });
}

// --- the worker side -------------------------------------------------------------------------------

export interface WebhookJob {
  deliveryId: string;
}

export interface WebhookDeps {
  pool: pg.Pool;
  /** SECRET_KEY: opens the endpoints' sealed secrets */
  appSecret: string;
  clock: () => Date;
  /** first retry after about this long, doubling each time (default 10 s) */
  backoffBaseMs?: number;
  /** at most this long between retries (default 6 hours) */
  backoffMaxMs?: number;
  /** attempts before a delivery is FAILED (default 12, about two days) */
  maxAttempts?: number;
  /** per request (default 10 s) */
  timeoutMs?: number;
  random?: () => number;
  /** internal ranges that may be reached (WEBHOOK_ALLOW_PRIVATE); default none */
  outbound?: OutboundPolicy;
}

export function webhookRetryDelayMs(attempts: number, deps: Pick<WebhookDeps, 'backoffBaseMs' | 'backoffMaxMs' | 'random'>): number {
  const base = deps.backoffBaseMs ?? 10_000;
  const cap = deps.backoffMaxMs ?? 6 * 3_600_000;
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempts - 1));
  // "equal jitter": half fixed, half random, so retries of many deliveries spread out
  return Math.round(exp / 2 + (deps.random ?? Math.random)() * (exp / 2));
}

export type WebhookOutcome = 'delivered' | 'retry-scheduled' | 'failed' | 'not-owed';

export async function deliverWebhook(deps: WebhookDeps, deliveryId: string): Promise<WebhookOutcome> {
  const now = deps.clock();
  const d = await qb(deps.pool)
    .updateTable('webhook_deliveries as d')
    .from(['webhook_endpoints as e', 'webhook_events as v'])
    .set((eb) => ({ status: WebhookDeliveryStatus.DELIVERING, locked_at: now, attempts: eb('d.attempts', '+', 1) }))
    .where('d.id', '=', deliveryId)
    .whereRef('e.id', '=', 'd.endpoint_id')
    .whereRef('v.id', '=', 'd.event_id')
    .where('d.status', '=', WebhookDeliveryStatus.PENDING)
    .where('d.next_attempt_at', '<=', now)
    .where('e.disabled_at', 'is', null)
    .returning(['d.attempts', 'e.url', 'e.secret', 'v.type', 'v.payload', 'v.id as event_id', 'v.created_at'])
    .executeTakeFirst();
  if (!d) return 'not-owed';

  const body = JSON.stringify({ id: d.event_id, type: d.type, createdAt: d.created_at.toISOString(), data: d.payload });
  const timestamp = Math.floor(now.getTime() / 1000);
  const started = performance.now();
  let status: number | null = null;
  let error: string | null = null;
  // resolved once, every address checked, connected to a checked one, no redirects followed
  // (shared/outbound.ts); a refused target is not connected to, so the log cannot tell an
  // open port from a closed one there
  const result = await postOutbound(d.url, {
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Chorus-Webhooks/1',
      'chorus-event': d.type,
      'chorus-delivery': deliveryId,
      'chorus-signature': signatureHeader(openSecret(deps.appSecret, d.secret), timestamp, body),
    },
    body,
    timeoutMs: deps.timeoutMs ?? 10_000,
    policy: deps.outbound ?? outboundPolicy(),
  });
  if (result.kind === 'answered') {
    status = result.status;
    if (status < 200 || status >= 300) error = `answered ${status}`;
  } else if (result.kind === 'refused') {
    error = `refused: ${result.refusal}`;
  } else {
    error = result.error;
  }
  const durationMs = Math.round(performance.now() - started);
  const ok = error === null;
  const maxAttempts = deps.maxAttempts ?? 12;
  const next = ok ? null : new Date(deps.clock().getTime() + webhookRetryDelayMs(d.attempts, deps));
  // a refused target fails at once: trying again would only ask the same question
  const finalStatus = ok
    ? WebhookDeliveryStatus.SUCCEEDED
    : d.attempts >= maxAttempts || result.kind === 'refused'
      ? WebhookDeliveryStatus.FAILED
      : WebhookDeliveryStatus.PENDING;
  await inTransaction(deps.pool, async (client) => {
    await qb(client)
      .insertInto('webhook_attempts')
      .values({ delivery_id: deliveryId, attempted_at: now, duration_ms: durationMs, status, error, ok })
      .execute();
    await qb(client)
      .updateTable('webhook_deliveries')
      .set({ status: finalStatus, locked_at: null, last_status: status, last_error: error })
      .$if(ok, (q) => q.set({ delivered_at: now }))
      .$if(next !== null, (q) => q.set({ next_attempt_at: next! }))
      .where('id', '=', deliveryId)
      .where('status', '=', WebhookDeliveryStatus.DELIVERING)
      .execute();
  });
  const outcome = ok ? 'delivered' : finalStatus === WebhookDeliveryStatus.FAILED ? 'failed' : 'retry-scheduled';
  webhookDeliveries.inc({ outcome: outcome === 'retry-scheduled' ? 'retry_scheduled' : outcome });
  return outcome;
}

/**
 * The webhook sweeper: takes back deliveries held by a dead worker, then enqueues every
 * delivery that is due. Job ids name the delivery and its schedule, so enqueueing the same
 * one twice is harmless and a delivery owed again gets a new job.
 */
export async function sweepWebhooks(
  deps: { pool: pg.Pool; queue: Pick<Queue<WebhookJob>, 'addBulk'>; clock: () => Date; staleMs?: number },
): Promise<number> {
  const now = deps.clock();
  const k = qb(deps.pool);
  await k
    .updateTable('webhook_deliveries')
    .set({ status: WebhookDeliveryStatus.PENDING, locked_at: null })
    .where('status', '=', WebhookDeliveryStatus.DELIVERING)
    .where('locked_at', '<', new Date(now.getTime() - (deps.staleMs ?? 120_000)))
    .execute();
  const rows = await k
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .select(['d.id', 'd.attempts', 'd.next_attempt_at'])
    .where('d.status', '=', WebhookDeliveryStatus.PENDING)
    .where('d.next_attempt_at', '<=', now)
    .where('e.disabled_at', 'is', null)
    .orderBy('d.next_attempt_at')
    .limit(1000)
    .execute();
  if (rows.length > 0) {
    await deps.queue.addBulk(
      rows.map((r) => ({ name: 'webhook', data: { deliveryId: r.id }, opts: { jobId: `webhook-${r.id}-${r.attempts}-${r.next_attempt_at.getTime()}` } })),
    );
  }
  return rows.length;
}
