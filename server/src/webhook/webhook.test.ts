// Webhooks end to end in one process, against a real HTTP receiver (node:http), the real
// database and a real BullMQ queue and worker of this test's own: endpoints registered through
// the console API, events emitted where the state changes (a signature confirmed through its
// emailed link, a letter sent through SMTP, a letter bounced), signed deliveries, retries with
// backoff after a 500, every attempt recorded, replay from the console, and the outbox
// surviving the loss of its jobs.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker, type Queue } from 'bullmq';
import { createTransport } from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBatch } from '../delivery/batch.service.ts';
import { recordBounce } from '../delivery/bounce.service.ts';
import { deliverLetter } from '../letter/letter.service.ts';
import { startMailbox, type Mailbox } from '../mailbox/mailbox.service.ts';
import { redisConnection } from '../queue/queue.ts';
import { confirmationToken } from '../signature/signature.service.ts';
import { asStaff, createAction, createHarness, letterConfig, signBody, staffSession, uniqueEmail, type Harness, confirmSignatures } from '../testing/harness.ts';
import { documented } from '../testing/openapi.ts';
import { outboundPolicy } from '../shared/outbound.ts';
import { createWebhookQueue } from './webhook.queue.ts';
import { deliverWebhook, emitEvent, sweepWebhooks, verifySignature, webhookRetryDelayMs, type WebhookJob } from './webhook.service.ts';
import { webhookDeliveries } from '../shared/metrics.ts';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

let h: Harness;
let admin: { cookie: string };
let receiver: Server;
let receiverUrl: string;
const received = new Map<string, Received[]>();
/** per path: the status codes to answer, in order; then 200 */
const script = new Map<string, number[]>();
let queue: Queue<WebhookJob>;
let worker: Worker<WebhookJob>;
let sweeping: NodeJS.Timeout;
// the receiver listens on 127.0.0.1: this suite's allow-list lets exactly that address through,
// as WEBHOOK_ALLOW_PRIVATE does for an internal CRM (tests/promises/18-* checks the refusals)
const ALLOW = '127.0.0.1/32';
const deps = () => ({
  pool: h.db.pool,
  appSecret: h.secret,
  clock: () => new Date(),
  backoffBaseMs: 200,
  backoffMaxMs: 1_000,
  maxAttempts: 3,
  timeoutMs: 2_000,
  outbound: outboundPolicy([ALLOW]),
});

beforeAll(async () => {
  h = await createHarness({ env: { WEBHOOK_ALLOW_PRIVATE: ALLOW } });
  admin = await staffSession(h.db, 'ADMIN');
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const answer = script.get(path)?.shift() ?? 200;
      received.set(path, [...(received.get(path) ?? []), { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: answer }]);
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // a queue and worker of our own, so no other test's worker takes these jobs
  const name = `chorus-webhooks-test-${randomUUID().slice(0, 8)}`;
  const url = process.env.REDIS_URL!;
  queue = createWebhookQueue(redisConnection(url, { forWorker: false }), name);
  worker = new Worker<WebhookJob>(name, async (job) => deliverWebhook(deps(), job.data.deliveryId), { connection: redisConnection(url, { forWorker: true }), concurrency: 5 });
  sweeping = setInterval(() => void sweepWebhooks({ pool: h.db.pool, queue, clock: () => new Date() }).catch(() => {}), 100);
});

afterAll(async () => {
  clearInterval(sweeping);
  await worker?.close();
  await queue?.obliterate({ force: true }).catch(() => {});
  await queue?.close();
  receiver?.close();
  // endpoints of this run stop listening, so other tests' events are not recorded for them
  await h?.db.pool.query(`UPDATE webhook_endpoints SET disabled_at = now() WHERE url LIKE $1`, [`${receiverUrl}%`]);
  await h?.close();
});

async function endpoint(events: string[], path = `/${randomUUID()}`) {
  const res = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/webhooks', payload: { url: `${receiverUrl}${path}`, events, description: 'test' } });
  expect(res.statusCode).toBe(201);
  return { ...(res.json() as { endpoint: { id: string }; secret: string }), path };
}

async function waitFor<T>(fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const got = (path: string, n: number) => waitFor(async () => ((received.get(path)?.length ?? 0) >= n ? received.get(path)! : undefined));

async function deliveriesOf(endpointId: string) {
  const res = await documented(h.app)({ url: `/api/admin/webhooks/deliveries?endpointId=${endpointId}`, headers: { cookie: admin.cookie } });
  expect(res.statusCode).toBe(200);
  return res.json().deliveries as { id: string; status: string; attempts: number; event: string; attemptLog: { status: number | null; ok: boolean; durationMs: number }[] }[];
}

describe('signatures', () => {
  it('signature.confirmed: signed, retried after a 500, every attempt recorded, replayable; no personal data', async () => {
    const hook = await endpoint(['signature.confirmed']);
    script.set(hook.path, [500]);
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const body = signBody({ email: uniqueEmail('hook'), firstName: 'Zarina' });
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: body })).statusCode).toBe(202);
    const { rows } = await h.db.pool.query<{ id: string }>(`SELECT s.id FROM signatures s WHERE s.action_id = $1`, [action.id]);
    const signatureId = rows[0]!.id;
    const token = confirmationToken({ secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 24 }, signatureId);
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}`, payload: {} })).json().status).toBe('confirmed');

    const [first, second] = await got(hook.path, 2);
    expect(first!.answered).toBe(500);
    expect(second!.answered).toBe(200);
    for (const r of [first!, second!]) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['chorus-event']).toBe('signature.confirmed');
      expect(verifySignature(hook.secret, String(r.headers['chorus-signature']), r.body, Math.floor(Date.now() / 1000))).toBe(true);
      // a receiver with another secret, or a changed body, does not verify
      expect(verifySignature('whsec_wrong', String(r.headers['chorus-signature']), r.body, Math.floor(Date.now() / 1000))).toBe(false);
      expect(verifySignature(hook.secret, String(r.headers['chorus-signature']), r.body.replace('signature', 'signaturE'), Math.floor(Date.now() / 1000))).toBe(false);
    }
    const payload = JSON.parse(second!.body);
    expect(payload).toMatchObject({ type: 'signature.confirmed', data: { signatureId, actionId: action.id, action: action.slug, country: 'MX' } });
    expect(second!.body).not.toContain(body.email);
    expect(second!.body).not.toContain('Zarina');
    expect(second!.body).not.toMatch(/ip_?hash|email|lastName|firstName/i);

    const [d] = await waitFor(async () => {
      const list = await deliveriesOf(hook.endpoint.id);
      return list[0]?.status === 'SUCCEEDED' ? list : undefined;
    });
    expect(d!.attempts).toBe(2);
    expect(d!.attemptLog.map((a) => [a.status, a.ok])).toEqual([
      [500, false],
      [200, true],
    ]);

    // replay from the console: the same event, signed afresh
    const replay = await asStaff(h.app, admin.cookie, { method: 'POST', url: `/api/admin/webhooks/deliveries/${d!.id}/replay` });
    expect(replay.statusCode).toBe(202);
    const third = (await got(hook.path, 3))[2]!;
    expect(JSON.parse(third.body).id).toBe(payload.id);
    expect(verifySignature(hook.secret, String(third.headers['chorus-signature']), third.body, Math.floor(Date.now() / 1000))).toBe(true);
    const audit = await h.db.pool.query(`SELECT verb FROM audit_log WHERE entity = 'webhook_delivery' AND entity_id = $1`, [d!.id]);
    expect(audit.rows.map((r) => r.verb)).toEqual(['replayed']);
  });

  it('gives up after the last attempt, and records a refused connection', async () => {
    const hook = await endpoint(['answer.published']);
    script.set(hook.path, [503, 503, 503, 503]);
    const outcomes = async () => Object.fromEntries((await webhookDeliveries.get()).values.map((v) => [String(v.labels.outcome), v.value]));
    const before = await outcomes();
    await emitEvent(h.db.pool, 'answer.published', { responseId: randomUUID(), actionId: randomUUID() });
    const failed = await waitFor(async () => {
      const [d] = await deliveriesOf(hook.endpoint.id);
      return d?.status === 'FAILED' ? d : undefined;
    });
    expect(failed.attempts).toBe(3);
    expect(received.get(hook.path)).toHaveLength(3);
    // chorus_webhook_deliveries_total: two attempts to be retried, then given up
    const after = await outcomes();
    expect((after.retry_scheduled ?? 0) - (before.retry_scheduled ?? 0)).toBe(2);
    expect((after.failed ?? 0) - (before.failed ?? 0)).toBe(1);

    // nothing listens at this address: the attempt says so, with no status
    const dead = await asStaff(h.app, admin.cookie, {
      method: 'POST',
      url: '/api/admin/webhooks',
      payload: { url: 'http://127.0.0.1:9/nobody', events: ['answer.published'] },
    });
    const deadId = dead.json().endpoint.id;
    await emitEvent(h.db.pool, 'answer.published', { responseId: randomUUID() });
    const refused = await waitFor(async () => {
      const [d] = await deliveriesOf(deadId);
      return d && d.attemptLog.length > 0 ? d : undefined;
    });
    expect(refused.attemptLog[0]).toMatchObject({ status: null, ok: false });
    await asStaff(h.app, admin.cookie, { method: 'POST', url: `/api/admin/webhooks/${deadId}/disable` });
  });

  it('survives losing its jobs: what the outbox owes is delivered by the next sweep', async () => {
    const hook = await endpoint(['answer.published']);
    await worker.pause();
    const eventId = await emitEvent(h.db.pool, 'answer.published', { responseId: randomUUID() });
    await new Promise((r) => setTimeout(r, 300));
    await queue.obliterate({ force: true }); // as if Redis had been flushed
    worker.resume();
    const [r] = await got(hook.path, 1);
    expect(JSON.parse(r!.body).id).toBe(eventId);
  });

  it('records nothing for a disabled endpoint or an event no one listens to', async () => {
    const hook = await endpoint(['answer.published']);
    const off = await asStaff(h.app, admin.cookie, { method: 'POST', url: `/api/admin/webhooks/${hook.endpoint.id}/disable` });
    expect(off.json().endpoint.disabledAt).not.toBeNull();
    const before = await h.db.pool.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1`, [hook.endpoint.id]);
    await emitEvent(h.db.pool, 'answer.published', { responseId: randomUUID() });
    const after = await h.db.pool.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1`, [hook.endpoint.id]);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});

describe('letters', () => {
  let mailbox: Mailbox;
  beforeAll(async () => {
    mailbox = await startMailbox({ smtpPort: 0, httpPort: 0, logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => mailbox?.close());

  it('letter.delivered when SMTP accepts it, letter.bounced when it comes back', async () => {
    const hook = await endpoint(['letter.delivered', 'letter.bounced']);
    const fx = await createAction(h.db);
    await h.cache.refresh();
    await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody() });
    await confirmSignatures(h.db.pool, 's.action_id = $1', [fx.action.id]);
    const built = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const letterId = built!.letterIds[0]!;
    const mailer = createTransport({ host: '127.0.0.1', port: mailbox.smtpPort, secure: false, ignoreTLS: true });
    const outcome = await deliverLetter(
      { pool: h.db.pool, mailer, mailFrom: 'Chorus <actions@chorus.example.org>', organisation: 'Chorus', staleSubmittingMs: 60_000, clock: () => new Date(), queues: { enqueueLetters: async () => {} }, ...letterConfig(h) },
      letterId,
    );
    mailer.close();
    expect(outcome).toBe('sent');
    const [sent] = await got(hook.path, 1);
    expect(JSON.parse(sent!.body)).toMatchObject({ type: 'letter.delivered', data: { letterId, actionId: fx.action.id, targetId: fx.targets[0]!.id, signatureCount: 1 } });
    expect(sent!.body).not.toContain('@gov.example');

    expect(await recordBounce(h.db.pool, { letterId, permanent: true, status: '5.1.1', diagnostic: 'user unknown', ignored: null }, new Date())).toBe('recorded');
    const bounced = (await got(hook.path, 2))[1]!;
    expect(JSON.parse(bounced.body)).toMatchObject({ type: 'letter.bounced', data: { letterId } });
    expect(bounced.headers['chorus-event']).toBe('letter.bounced');
  });
});

describe('the console API for webhooks', () => {
  it('is for admins, answers the secret once, and refuses hostile input', async () => {
    const inject = documented(h.app);
    expect((await inject({ url: '/api/admin/webhooks' })).statusCode).toBe(401);
    const viewer = await staffSession(h.db, 'VIEWER');
    expect((await inject({ url: '/api/admin/webhooks', headers: { cookie: viewer.cookie } })).statusCode).toBe(403);
    const post = (payload: unknown) => inject({ method: 'POST', url: '/api/admin/webhooks', headers: { cookie: admin.cookie, 'x-chorus-csrf': '1' }, payload: payload as object });
    expect((await post({ url: 'javascript:alert(1)', events: ['signature.confirmed'] })).statusCode).toBe(422);
    expect((await post({ url: 'ftp://example.org/x', events: ['signature.confirmed'] })).statusCode).toBe(422);
    expect((await post({ url: 'https://example.org/x', events: ['everything'] })).statusCode).toBe(422);
    expect((await post({ url: 'https://example.org/x', events: [] })).statusCode).toBe(422);
    // without the CSRF header a write is refused
    expect((await inject({ method: 'POST', url: '/api/admin/webhooks', headers: { cookie: admin.cookie }, payload: { url: 'https://example.org/x', events: ['letter.bounced'] } })).statusCode).toBe(403);
    const created = await post({ url: 'https://example.org/x', events: ['letter.bounced'] });
    expect(created.statusCode).toBe(201);
    const list = await inject({ url: '/api/admin/webhooks', headers: { cookie: admin.cookie } });
    expect(list.body).not.toContain(created.json().secret);
    const stored = await h.db.pool.query(`SELECT secret FROM webhook_endpoints WHERE id = $1`, [created.json().endpoint.id]);
    expect(stored.rows[0].secret).not.toContain(created.json().secret.slice(6));
    await inject({ method: 'POST', url: `/api/admin/webhooks/${created.json().endpoint.id}/disable`, headers: { cookie: admin.cookie, 'x-chorus-csrf': '1' } });
    const csrf = { cookie: admin.cookie, 'x-chorus-csrf': '1' };
    expect((await inject({ method: 'POST', url: '/api/admin/webhooks/deliveries/nope/replay', headers: csrf })).statusCode).toBe(422);
    expect((await inject({ method: 'POST', url: `/api/admin/webhooks/deliveries/${randomUUID()}/replay`, headers: csrf })).statusCode).toBe(404);
    expect((await inject({ url: '/api/admin/webhooks/deliveries?limit=0', headers: { cookie: admin.cookie } })).statusCode).toBe(422);
  });

  it('backs off exponentially with jitter', () => {
    const fixed = (r: number) => ({ backoffBaseMs: 1_000, backoffMaxMs: 60_000, random: () => r });
    expect([1, 2, 3, 4].map((a) => webhookRetryDelayMs(a, fixed(1)))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect([1, 2, 3, 4].map((a) => webhookRetryDelayMs(a, fixed(0)))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(webhookRetryDelayMs(30, fixed(1))).toBe(60_000);
  });
});
