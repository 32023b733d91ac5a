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
import type pg from 'pg';
import { z } from 'zod';
import { inTransaction } from '../db/db.ts';
import { invalid, notFound } from '../shared/errors.ts';
import { checkOutboundUrl, outboundPolicy, postOutbound, type OutboundPolicy } from '../shared/outbound.ts';
import { seal, unseal } from '../shared/seal.ts';
import { recordAudit } from '../staff/audit.ts';

export const WEBHOOK_EVENTS = ['signature.confirmed', 'letter.delivered', 'letter.bounced', 'answer.published'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

type Queryable = pg.Pool | pg.PoolClient;

// --- emitting -------------------------------------------------------------------------------

/**
 * Records an event for every active endpoint subscribed to `type`, in one statement (nothing is
 * written when no endpoint listens). Call it with the transaction client of the change the
 * event reports, so both commit or neither does. `payload` must hold ids and counts only:
 * no emails, no names. Returns the event id, or null when no endpoint listens.
 *
 *   await inTransaction(pool, async (tx) => {
 *     await tx.query(`UPDATE responses SET status = 'PUBLISHED' ... WHERE id = $1`, [id]);
 *     await emitEvent(tx, 'answer.published', { responseId: id, actionId, targetId });
 *   });
 */
export async function emitEvent(db: Queryable, type: WebhookEventType, payload: Record<string, unknown>): Promise<string | null> {
  const { rows } = await db.query<{ event_id: string }>(
    `WITH ep AS (SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL AND $1 = ANY(events)),
          ev AS (INSERT INTO webhook_events (type, payload) SELECT $1, $2::jsonb WHERE EXISTS (SELECT 1 FROM ep) RETURNING id)
     INSERT INTO webhook_deliveries (event_id, endpoint_id) SELECT ev.id, ep.id FROM ev CROSS JOIN ep RETURNING event_id`,
    [type, JSON.stringify(payload)],
  );
  return rows[0]?.event_id ?? null;
}

/** letter.delivered / letter.bounced for one letter: ids and the count it carried. */
export async function emitLetterEvent(db: Queryable, type: 'letter.delivered' | 'letter.bounced', letterId: string): Promise<string | null> {
  const { rows } = await db.query<{ action_id: string; slug: string; target_id: string; batch_id: string; signature_count: number; at: Date | null }>(
    `SELECT b.action_id, a.slug, l.target_id, l.batch_id, l.signature_count, COALESCE(l.bounced_at, l.sent_at) AS at
     FROM letters l JOIN delivery_batches b ON b.id = l.batch_id JOIN actions a ON a.id = b.action_id WHERE l.id = $1`,
    [letterId],
  );
  const l = rows[0];
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

/**
 * Changes a letter and emits its event in one statement, so the change and its event are one
 * round trip and one snapshot: `update` is an UPDATE of letters ... RETURNING * whose
 * parameters are `params`. The event carries what emitLetterEvent's carries. Answers whether
 * a letter changed (no event when none did).
 */
export async function updateLetterWithEvent(
  db: Queryable,
  type: 'letter.delivered' | 'letter.bounced',
  update: string,
  params: unknown[],
): Promise<boolean> {
  const t = params.length + 1;
  const { rows } = await db.query<{ changed: number }>(
    `WITH changed AS (${update}),
          ep AS (SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL AND $${t}::varchar = ANY(events)),
          ev AS (INSERT INTO webhook_events (type, payload)
                 SELECT $${t}::varchar, jsonb_build_object(
                          'letterId', c.id, 'batchId', c.batch_id, 'actionId', b.action_id, 'action', a.slug,
                          'targetId', c.target_id, 'signatureCount', c.signature_count,
                          'at', to_char(COALESCE(c.bounced_at, c.sent_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                 FROM changed c JOIN delivery_batches b ON b.id = c.batch_id JOIN actions a ON a.id = b.action_id
                 WHERE EXISTS (SELECT 1 FROM ep)
                 RETURNING id),
          dl AS (INSERT INTO webhook_deliveries (event_id, endpoint_id) SELECT ev.id, ep.id FROM ev CROSS JOIN ep)
     SELECT count(*)::int AS changed FROM changed`,
    [...params, type],
  );
  return (rows[0]?.changed ?? 0) > 0;
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
    events: z.array(z.enum(WEBHOOK_EVENTS, { error: `events are ${WEBHOOK_EVENTS.join(', ')}` })).min(1, 'Choose at least one event').max(4),
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

const ENDPOINT_SELECT = `SELECT e.id, e.url, e.description, e.events, e.created_at, u.email AS created_by, e.disabled_at
  FROM webhook_endpoints e LEFT JOIN staff_users u ON u.id = e.created_by`;

interface EndpointRow {
  id: string;
  url: string;
  description: string;
  events: string[];
  created_at: Date;
  created_by: string | null;
  disabled_at: Date | null;
}

const endpointView = (r: EndpointRow): EndpointView => ({
  id: r.id,
  url: r.url,
  description: r.description,
  events: r.events,
  createdAt: r.created_at,
  createdBy: r.created_by,
  disabledAt: r.disabled_at,
});

export async function listEndpoints(pool: pg.Pool): Promise<EndpointView[]> {
  const { rows } = await pool.query<EndpointRow>(`${ENDPOINT_SELECT} ORDER BY e.disabled_at IS NOT NULL, e.created_at DESC`);
  return rows.map(endpointView);
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
    throw invalid('webhook_url_internal', message, [{ path: 'url', message }]);
  }
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  const events = [...new Set(input.events)];
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (url, description, events, secret, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [input.url, input.description, events, sealSecret(appSecret, secret), staffId],
    );
    const id = rows[0]!.id;
    await recordAudit(client, { staffId, verb: 'created', entity: 'webhook_endpoint', entityId: id, after: { url: input.url, events } });
    const row = (await client.query<EndpointRow>(`${ENDPOINT_SELECT} WHERE e.id = $1`, [id])).rows[0]!;
    return { endpoint: endpointView(row), secret };
  });
}

export async function disableEndpoint(pool: pg.Pool, id: string, staffId: string, at: Date): Promise<EndpointView> {
  return inTransaction(pool, async (client) => {
    const before = (await client.query<EndpointRow>(`${ENDPOINT_SELECT} WHERE e.id = $1 FOR UPDATE OF e`, [id])).rows[0];
    if (!before) throw notFound('webhook_endpoint_not_found', 'No such webhook endpoint');
    if (!before.disabled_at) {
      await client.query('UPDATE webhook_endpoints SET disabled_at = $2 WHERE id = $1', [id, at]);
      await recordAudit(client, { staffId, verb: 'disabled', entity: 'webhook_endpoint', entityId: id, before: { url: before.url }, after: { url: before.url, disabledAt: at } });
    }
    return endpointView((await client.query<EndpointRow>(`${ENDPOINT_SELECT} WHERE e.id = $1`, [id])).rows[0]!);
  });
}

// --- deliveries ------------------------------------------------------------------------------------

export const deliverySchema = z.object({
  id: z.string(),
  eventId: z.string(),
  event: z.string(),
  endpointId: z.string(),
  url: z.string(),
  status: z.enum(['PENDING', 'DELIVERING', 'SUCCEEDED', 'FAILED']),
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
  const { rows } = await pool.query<{
    id: string;
    event_id: string;
    type: string;
    endpoint_id: string;
    url: string;
    status: DeliveryView['status'];
    attempts: number;
    next_attempt_at: Date;
    last_status: number | null;
    last_error: string | null;
    delivered_at: Date | null;
    created_at: Date;
    log: { at: string; durationMs: number; status: number | null; error: string | null; ok: boolean }[] | null;
  }>(
    `SELECT d.id, d.event_id, v.type, d.endpoint_id, e.url, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error,
            d.delivered_at, d.created_at,
            (SELECT json_agg(json_build_object('at', a.attempted_at, 'durationMs', a.duration_ms, 'status', a.status, 'error', a.error, 'ok', a.ok)
                     ORDER BY a.attempted_at) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS log
     FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE ($1::uuid IS NULL OR d.endpoint_id = $1)
     ORDER BY d.created_at DESC, d.id LIMIT $2`,
    [opts.endpointId ?? null, opts.limit],
  );
  return rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    event: r.type,
    endpointId: r.endpoint_id,
    url: r.url,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastStatus: r.last_status,
    lastError: r.last_error,
    deliveredAt: r.delivered_at,
    createdAt: r.created_at,
    attemptLog: (r.log ?? []).map((a) => ({ ...a, at: new Date(a.at) })),
  }));
}

/** Staff: send a delivery again (whatever became of it), with a fresh budget of attempts. */
export async function replayDelivery(pool: pg.Pool, id: string, staffId: string, at: Date): Promise<void> {
  await inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ status: string; attempts: number }>(
      `UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = $2, locked_at = NULL
       WHERE id = $1 AND status <> 'DELIVERING' RETURNING status, attempts`,
      [id, at],
    );
    if (rows.length === 0) {
      const exists = await client.query('SELECT status FROM webhook_deliveries WHERE id = $1', [id]);
      if (exists.rowCount === 0) throw notFound('webhook_delivery_not_found', 'No such webhook delivery');
      return; // being delivered right now: nothing to do
    }
    await recordAudit(client, { staffId, verb: 'replayed', entity: 'webhook_delivery', entityId: id, after: { status: 'PENDING' } });
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
  const claim = await deps.pool.query<{ attempts: number; url: string; secret: string; type: string; payload: unknown; event_id: string; created_at: Date }>(
    `UPDATE webhook_deliveries d SET status = 'DELIVERING', locked_at = $2, attempts = d.attempts + 1
     FROM webhook_endpoints e, webhook_events v
     WHERE d.id = $1 AND e.id = d.endpoint_id AND v.id = d.event_id AND d.status = 'PENDING' AND d.next_attempt_at <= $2
       AND e.disabled_at IS NULL
     RETURNING d.attempts, e.url, e.secret, v.type, v.payload, v.id AS event_id, v.created_at`,
    [deliveryId, now],
  );
  const d = claim.rows[0];
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
  const finalStatus = ok ? 'SUCCEEDED' : d.attempts >= maxAttempts || result.kind === 'refused' ? 'FAILED' : 'PENDING';
  await inTransaction(deps.pool, async (client) => {
    await client.query(`INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status, error, ok) VALUES ($1, $2, $3, $4, $5, $6)`, [
      deliveryId,
      now,
      durationMs,
      status,
      error,
      ok,
    ]);
    await client.query(
      `UPDATE webhook_deliveries SET status = $2::"WebhookDeliveryStatus", locked_at = NULL, last_status = $3, last_error = $4,
              delivered_at = CASE WHEN $2::"WebhookDeliveryStatus" = 'SUCCEEDED' THEN $5 ELSE delivered_at END,
              next_attempt_at = COALESCE($6, next_attempt_at)
       WHERE id = $1 AND status = 'DELIVERING'`,
      [deliveryId, finalStatus, status, error, now, next],
    );
  });
  return ok ? 'delivered' : finalStatus === 'FAILED' ? 'failed' : 'retry-scheduled';
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
  await deps.pool.query(`UPDATE webhook_deliveries SET status = 'PENDING', locked_at = NULL WHERE status = 'DELIVERING' AND locked_at < $1`, [
    new Date(now.getTime() - (deps.staleMs ?? 120_000)),
  ]);
  const { rows } = await deps.pool.query<{ id: string; attempts: number; next_attempt_at: Date }>(
    `SELECT d.id, d.attempts, d.next_attempt_at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE d.status = 'PENDING' AND d.next_attempt_at <= $1 AND e.disabled_at IS NULL
     ORDER BY d.next_attempt_at LIMIT 1000`,
    [now],
  );
  if (rows.length > 0) {
    await deps.queue.addBulk(
      rows.map((r) => ({ name: 'webhook', data: { deliveryId: r.id }, opts: { jobId: `webhook-${r.id}-${r.attempts}-${r.next_attempt_at.getTime()}` } })),
    );
  }
  return rows.length;
}
