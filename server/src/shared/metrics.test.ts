// The metrics where their decisions are made, in process: the signing service's counters
// through the API, the confirmation latency under a moved clock, the SMTP outcomes against a
// real SMTP server, the scrape-time gauges against real BullMQ queues and PostgreSQL, and the
// endpoint itself (its answers, a taken port). The vitest workers of this project share one
// process per worker, so every count is compared before and after, never as an absolute.
// The platform's own endpoints are tested across processes in tests/e2e/metrics.test.ts.
import { randomUUID } from 'node:crypto';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { Queue } from 'bullmq';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lettersByState } from '../letter/letter.service.ts';
import { createMailer } from '../mail/mailer.ts';
import { QUEUE_NAMES, redisConnection } from '../queue/queue.ts';
import { confirmationToken } from '../signature/signature.service.ts';
import { createAction, createHarness, signBody, uniqueEmail, type Harness } from '../testing/harness.ts';
import { parsePrometheusText, sampleValue, sumOf } from '../testing/prometheus-text.ts';
import { MetricsPortError, registerScrapeGauges, registry, startMetricsEndpoint } from './metrics.ts';
import { indexOfEmail } from '../testing/sealed.ts';

async function scrape() {
  return parsePrometheusText(await registry.metrics());
}

async function freePort(): Promise<number> {
  const srv = createTcpServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('the signing service counts what it decides', () => {
  let h: Harness;
  let slug: string;
  const emails: string[] = [];
  beforeAll(async () => {
    h = await createHarness();
    slug = (await createAction(h.db)).action.slug;
    await h.cache.refresh();
  });
  afterAll(async () => h?.close());

  const sign = async (extra: Record<string, unknown> = {}, harness = h, actionSlug = slug) => {
    const email = uniqueEmail('metrics');
    emails.push(email);
    const res = await harness.app.inject({ method: 'POST', url: `/api/actions/${actionSlug}/signatures`, payload: signBody({ email, ...extra }) });
    expect(res.statusCode).toBe(202);
    return email;
  };
  const signatureOf = async (email: string) =>
    (await h.db.pool.query<{ id: string }>(`SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`, [indexOfEmail(email)])).rows[0]!.id;
  const tokenOf = async (email: string) => confirmationToken({ secret: h.secret, clock: () => h.now.value, confirmLinkTtlHours: 24 }, await signatureOf(email));

  it('received and accepted by path, a honeypot sign-up as invalidated', async () => {
    const before = await scrape();
    await sign();
    await sign();
    await sign({ website: 'http://spam.example' });
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta('chorus_signatures_received_total', { via: 'form' })).toBe(3);
    expect(delta('chorus_signatures_accepted_total', { via: 'form' })).toBe(2);
    expect(delta('chorus_signatures_invalidated_total', { reason: 'honeypot' })).toBe(1);
    expect(delta('chorus_signatures_received_total', { via: 'api' })).toBe(0);
  });

  it('the sign-ups past the per-address limit as invalidated rate_limit_ip, as many as the database holds', async () => {
    const limited = await createHarness({ env: { SIGN_LIMIT_PER_IP: '1' } });
    try {
      const other = (await createAction(limited.db)).action.slug;
      await limited.cache.refresh();
      const before = await scrape();
      const mine = [await sign({}, limited, other), await sign({}, limited, other), await sign({}, limited, other)];
      const after = await scrape();
      const { rows } = await h.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM signatures s JOIN supporters p ON p.id = s.supporter_id
         WHERE p.email_index = ANY($1) AND s.status = 'INVALIDATED' AND s.invalid_reason = 'rate_limit_ip'`,
        [mine.map(indexOfEmail)],
      );
      // one address may sign once in the window; the suite's other tests may have used it already
      expect(rows[0]!.n).toBeGreaterThanOrEqual(2);
      expect(sampleValue(after, 'chorus_signatures_invalidated_total', { reason: 'rate_limit_ip' }) - sampleValue(before, 'chorus_signatures_invalidated_total', { reason: 'rate_limit_ip' })).toBe(rows[0]!.n);
      expect(sampleValue(after, 'chorus_signatures_accepted_total', { via: 'form' }) - sampleValue(before, 'chorus_signatures_accepted_total', { via: 'form' })).toBe(3 - rows[0]!.n);
    } finally {
      await limited.close();
    }
  });

  it('the time from signing to confirming, once per confirmation', async () => {
    const email = await sign();
    const token = await tokenOf(email);
    const before = await scrape();
    // confirmed a minute and a half after signing
    h.now.value = new Date(Date.now() + 90_000);
    try {
      const res = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}`, payload: {} });
      expect(res.json()).toMatchObject({ status: 'confirmed' });
      // a second press answers already_confirmed and observes nothing
      expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}`, payload: {} })).json()).toMatchObject({ status: 'already_confirmed' });
    } finally {
      h.now.value = new Date();
    }
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta('chorus_signature_confirmation_seconds_count')).toBe(1);
    expect(delta('chorus_signature_confirmation_seconds_bucket', { le: '60' })).toBe(0);
    expect(delta('chorus_signature_confirmation_seconds_bucket', { le: '120' })).toBe(1);
    const seconds = delta('chorus_signature_confirmation_seconds_sum');
    expect(seconds).toBeGreaterThan(85);
    expect(seconds).toBeLessThan(120);
  });

  it('"this was not me" as invalidated not_me, once', async () => {
    const token = await tokenOf(await sign());
    const before = await scrape();
    for (let i = 0; i < 2; i++) {
      const res = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}/discard`, payload: {} });
      expect(res.json()).toMatchObject({ status: 'discarded' });
    }
    const after = await scrape();
    expect(sampleValue(after, 'chorus_signatures_invalidated_total', { reason: 'not_me' }) - sampleValue(before, 'chorus_signatures_invalidated_total', { reason: 'not_me' })).toBe(1);
  });

  it('no label or value holds a signer\'s address or name', async () => {
    const text = await registry.metrics();
    for (const email of emails) {
      expect(text).not.toContain(email);
      expect(text).not.toContain(email.split('@')[0]!);
    }
    expect(text).not.toContain('López');
    expect(text).not.toContain(slug);
  });
});

describe('SMTP sends by kind and outcome', () => {
  let smtp: SMTPServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('refused')) return callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
        if (address.address.startsWith('later')) return callback(Object.assign(new Error('try again later'), { responseCode: 451 }));
        callback();
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    await new Promise<void>((resolve) => smtp.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => new Promise<void>((resolve) => smtp?.close(() => resolve())));

  it('counts sent, permanent, temporary and connection failures where the mail is sent', async () => {
    const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}?tls=off`, pool: false, dkim: null });
    const nowhere = createMailer({ smtpUrl: `smtp://127.0.0.1:${await freePort()}?tls=off`, pool: false, dkim: null, connectionTimeoutMs: 1_000 });
    const mail = (to: string, letter = false) => ({ from: 'chorus@chorus.example.org', to, subject: 'x', text: 'x', ...(letter ? { headers: { 'X-Chorus-Letter': randomUUID() } } : {}) });
    const before = await scrape();
    await mailer.sendMail(mail('someone@example.org'));
    await mailer.sendMail(mail('minister@gov.example', true));
    await expect(mailer.sendMail(mail('refused@example.org'))).rejects.toMatchObject({ responseCode: 550 });
    await expect(mailer.sendMail(mail('later@gov.example', true))).rejects.toMatchObject({ responseCode: 451 });
    await expect(nowhere.sendMail(mail('someone@example.org'))).rejects.toBeTruthy();
    mailer.close();
    nowhere.close();
    const after = await scrape();
    const delta = (kind: string, outcome: string) => sampleValue(after, 'chorus_smtp_sends_total', { kind, outcome }) - sampleValue(before, 'chorus_smtp_sends_total', { kind, outcome });
    expect(delta('member', 'sent')).toBe(1);
    expect(delta('letter', 'sent')).toBe(1);
    expect(delta('member', 'permanent_failure')).toBe(1);
    expect(delta('letter', 'temporary_failure')).toBe(1);
    expect(delta('member', 'timeout_connection')).toBe(1);
  });
});

describe('the gauges read at scrape time', () => {
  let h: Harness;
  let queue: Queue;
  const name = `chorus-metrics-test-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    h = await createHarness();
    queue = new Queue(name, { connection: redisConnection(h.config.REDIS_URL, { forWorker: false }) });
  });
  afterAll(async () => {
    for (const metric of ['chorus_queue_jobs', 'chorus_queue_oldest_waiting_seconds', 'chorus_letters']) registry.removeSingleMetric(metric);
    await queue?.obliterate({ force: true }).catch(() => {});
    await queue?.close();
    await h?.close();
  });

  it('queue depth by state and the oldest waiting job from Redis, letters by state from PostgreSQL', async () => {
    await queue.add('a', { id: 1 });
    await new Promise((r) => setTimeout(r, 1_100));
    await queue.add('b', { id: 2 });
    await queue.add('c', { id: 3 }, { delay: 3_600_000 });
    registerScrapeGauges({ queues: [{ name, queue }, { name: QUEUE_NAMES.mail, queue: h.queues.mail }], lettersByState: () => lettersByState(h.db.pool) });
    const families = await scrape();
    expect(sampleValue(families, 'chorus_queue_jobs', { queue: name, state: 'wait' })).toBe(2);
    expect(sampleValue(families, 'chorus_queue_jobs', { queue: name, state: 'delayed' })).toBe(1);
    expect(sampleValue(families, 'chorus_queue_jobs', { queue: name, state: 'active' })).toBe(0);
    // the oldest of the two waiting, not the newest, and not the delayed one
    const oldest = sampleValue(families, 'chorus_queue_oldest_waiting_seconds', { queue: name });
    expect(oldest).toBeGreaterThanOrEqual(1);
    expect(oldest).toBeLessThan(30);
    expect(sumOf(families, 'chorus_queue_jobs', { queue: QUEUE_NAMES.mail }).series).toBe(4);

    const { rows } = await h.db.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM letters GROUP BY status`);
    for (const state of ['PENDING', 'SUBMITTING', 'SENT', 'FAILED', 'BOUNCED']) {
      expect(sumOf(families, 'chorus_letters', { state }).series, state).toBe(1);
      expect(sampleValue(families, 'chorus_letters', { state }), state).toBe(rows.find((r) => r.status === state)?.n ?? 0);
    }
  });

  it('leaves a queue out of a scrape when Redis does not answer for it, and still answers the rest', async () => {
    const broken = { getJobCounts: () => Promise.reject(new Error('redis away')), getJobs: () => Promise.reject(new Error('redis away')) };
    registerScrapeGauges({ queues: [{ name: 'chorus-broken', queue: broken }, { name, queue }], lettersByState: () => Promise.reject(new Error('postgres away')) });
    const families = await scrape();
    expect(sumOf(families, 'chorus_queue_jobs', { queue: 'chorus-broken' }).series).toBe(0);
    expect(sampleValue(families, 'chorus_queue_jobs', { queue: name, state: 'wait' })).toBe(2);
    expect(sumOf(families, 'chorus_letters').series).toBe(0);
  });
});

describe('the endpoint', () => {
  it('serves /metrics in the exposition format, with the process metrics, and nothing else', async () => {
    const port = await freePort();
    const endpoint = await startMetricsEndpoint({ host: '127.0.0.1', port, setting: 'METRICS_PORT' });
    try {
      expect(endpoint!.port).toBe(port);
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const families = parsePrometheusText(await res.text());
      for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_cpu_seconds_total', 'chorus_signatures_received_total', 'chorus_http_request_duration_seconds']) {
        expect(families.get(name)?.help, name).toBeTruthy();
      }
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await endpoint?.close();
    }
  });

  it('is off at port 0', async () => {
    expect(await startMetricsEndpoint({ host: '127.0.0.1', port: 0, setting: 'METRICS_PORT' })).toBeNull();
  });

  it('refuses a taken port with a one-line reason that names the setting', async () => {
    const holder: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const err = await startMetricsEndpoint({ host: '127.0.0.1', port, setting: 'WORKERS_METRICS_PORT' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MetricsPortError);
      expect((err as Error).message).toMatch(new RegExp(`^WORKERS_METRICS_PORT ${port} is taken on 127\\.0\\.0\\.1`));
      expect((err as Error).message).not.toContain('\n');
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});
