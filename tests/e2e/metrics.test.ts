// The Prometheus endpoints of the real processes: a platform (server, workers, mailbox) on free
// metrics ports, people who sign, confirm through the emailed link and have their letter
// delivered; then both endpoints are read and the numbers must have moved by exactly what
// happened. Neither endpoint is on the public port, the text is the exposition format
// Prometheus reads, and nothing in it names a signer. A process told to use a taken metrics
// port does not start, and says why in one line.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProcesses } from '../../server/bin/build-processes.mjs';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { createAction } from '../../server/src/testing/harness.ts';
import { parsePrometheusText, sampleValue, sumOf, type Family } from '../../server/src/testing/prometheus-text.ts';
import { QUEUE_NAMES } from '../../server/src/queue/queue.ts';
import { WEBHOOK_QUEUE } from '../../server/src/webhook/webhook.queue.ts';
import { runBuiltProcess } from '../support/built-process.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

let platform: Platform;
let db: Db;
let fx: Awaited<ReturnType<typeof createAction>>;

beforeAll(async () => {
  db = createDb(process.env.DATABASE_URL!, { max: 2 });
  fx = await createAction(db);
  platform = await startPlatform();
});
afterAll(async () => {
  await platform?.stop();
  await db?.close();
});

async function scrape(url: string): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, families: parsePrometheusText(text) };
}

const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const signers = ['Quillon', 'Marravel', 'Tesswick'].map((last, i) => ({
  firstName: `Odalys${stamp}${i}`,
  lastName: `${last}${stamp}`,
  email: `metrics.${stamp}.${i}@example.org`,
}));
const bot = { firstName: `Botty${stamp}`, lastName: `McBot${stamp}`, email: `metrics.bot.${stamp}@example.org` };

describe('the metrics endpoints of the running platform', () => {
  it('move by what was signed, confirmed and delivered, and name nobody', async () => {
    expect(platform.metricsUrls).toHaveLength(1);
    expect(platform.workersMetricsUrls).toHaveLength(1);
    // the platform came up on the ports it was given, not the defaults
    for (const url of [...platform.metricsUrls, ...platform.workersMetricsUrls]) expect(url).not.toMatch(/:946[45]\//);
    const before = (await scrape(platform.metricsUrls[0]!)).families;

    const sign = (who: typeof bot, extra: Record<string, unknown> = {}) =>
      fetch(`${platform.baseUrl}/api/actions/${fx.action.slug}/signatures`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...who, country: 'DE', consentCount: true, consentNamed: true, ...extra }),
      });
    // the action is new: the server picks it up within its refresh (250 ms in tests)
    for (let i = 0; i < 40; i++) {
      if ((await fetch(`${platform.baseUrl}/api/actions/${fx.action.slug}`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // the public count: timed under its route pattern
    for (let i = 0; i < 3; i++) expect((await fetch(`${platform.baseUrl}/api/actions/${fx.action.slug}/count`)).status).toBe(200);
    for (const who of signers) expect((await sign(who)).status).toBe(202);
    // a bot fills the hidden field: the same answer, stored invalidated
    expect((await sign(bot, { website: 'http://spam.example' })).status).toBe(202);

    const mailbox = mailboxClient(platform.mailboxUrl);
    for (const who of signers) {
      const mail = await mailbox.waitFor((m) => m.envelope.to.includes(who.email) && m.text.includes('/confirm/'), { timeoutMs: 30_000 });
      const token = /\/confirm\/([A-Za-z0-9._~-]+)/.exec(mail.text)![1]!;
      const res = await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(await res.json()).toMatchObject({ status: 'confirmed' });
    }
    // the letter to the action's official, carrying the three
    const target = fx.targets[0]!.email;
    await mailbox.waitFor((m) => m.envelope.to.includes(target) && m.text.includes(signers[2]!.lastName), { timeoutMs: 45_000 });
    // ... and its row SENT (the mailbox may hold the letter a moment before the worker records it)
    let letters: { status: string; n: number }[] = [];
    for (let i = 0; i < 100; i++) {
      const ours = await db.pool.query(`SELECT 1 FROM letters WHERE target_id = $1 AND status = 'SENT'`, [fx.targets[0]!.id]);
      if (ours.rowCount) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // nothing else moves letters now: the counts the workers report must be these
    letters = (await db.pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM letters GROUP BY status`)).rows;

    // the server: what it decided
    const server = await scrape(platform.metricsUrls[0]!);
    const after = server.families;
    const delta = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta('chorus_signatures_received_total', { via: 'form' })).toBe(4);
    expect(delta('chorus_signatures_accepted_total', { via: 'form' })).toBe(3);
    expect(delta('chorus_signatures_invalidated_total', { reason: 'honeypot' })).toBe(1);
    expect(delta('chorus_signature_confirmation_seconds_count')).toBe(3);
    // signed and confirmed within this test: every observation under two minutes
    expect(delta('chorus_signature_confirmation_seconds_bucket', { le: '120' })).toBe(3);
    expect(sumOf(after, 'chorus_signatures_shed_total').sum).toBe(0);
    // requests by route pattern and status class
    const signing = { method: 'POST', route: '/api/actions/:slug/signatures', status_class: '2xx' };
    expect(sampleValue(after, 'chorus_http_request_duration_seconds_count', signing) - sampleValue(before, 'chorus_http_request_duration_seconds_count', signing)).toBe(4);
    expect(sampleValue(after, 'chorus_http_request_duration_seconds_count', { method: 'POST', route: '/api/confirmations/:token', status_class: '2xx' })).toBeGreaterThanOrEqual(3);
    const count = { method: 'GET', route: '/api/actions/:slug/count', status_class: '2xx' };
    expect(sampleValue(after, 'chorus_http_request_duration_seconds_count', count) - sampleValue(before, 'chorus_http_request_duration_seconds_count', count)).toBeGreaterThanOrEqual(3);
    // the process metrics prom-client gives
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_resident_memory_bytes']) expect(after.get(name)?.samples.length, name).toBeGreaterThan(0);
    // the queue gauges are the workers': the server does not report the same queues twice
    expect(after.has('chorus_queue_jobs')).toBe(false);

    // the workers: what they sent, and what they read at scrape time
    const workers = await scrape(platform.workersMetricsUrls[0]!);
    const w = workers.families;
    expect(sampleValue(w, 'chorus_smtp_sends_total', { kind: 'member', outcome: 'sent' })).toBe(3);
    expect(sampleValue(w, 'chorus_smtp_sends_total', { kind: 'letter', outcome: 'sent' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(w, 'chorus_smtp_sends_total', { outcome: 'permanent_failure' }).sum).toBe(0);
    const dbLetters = Object.fromEntries(letters.map((r) => [r.status, r.n]));
    expect(dbLetters.SENT).toBeGreaterThanOrEqual(1);
    for (const state of ['PENDING', 'SUBMITTING', 'SENT', 'FAILED', 'BOUNCED']) {
      expect(sumOf(w, 'chorus_letters', { state }).series, state).toBe(1);
    }
    expect(sampleValue(w, 'chorus_letters', { state: 'SENT' })).toBe(dbLetters.SENT);
    for (const queue of [QUEUE_NAMES.mail, QUEUE_NAMES.delivery, WEBHOOK_QUEUE]) {
      for (const state of ['wait', 'active', 'delayed', 'prioritized']) expect(sumOf(w, 'chorus_queue_jobs', { queue, state }).series, `${queue} ${state}`).toBe(1);
      expect(sumOf(w, 'chorus_queue_oldest_waiting_seconds', { queue }).series, queue).toBe(1);
    }
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) expect(w.get(name)?.samples.length, name).toBeGreaterThan(0);

    // nothing in either names a signer, their address, the action's slug or a link's token
    for (const text of [server.text, workers.text]) {
      for (const who of [...signers, bot]) {
        expect(text).not.toContain(who.email);
        expect(text).not.toContain(who.email.split('@')[0]);
        expect(text).not.toContain(who.firstName);
        expect(text).not.toContain(who.lastName);
      }
      expect(text).not.toContain(fx.action.slug);
      expect(text).not.toContain(target);
      expect(text).not.toContain('127.0.0.1');
    }
  }, 180_000);

  it('are not served on the public port', async () => {
    for (const path of ['/metrics', '/api/metrics', '/metrics/', '/METRICS']) {
      const res = await fetch(`${platform.baseUrl}${path}`);
      const body = await res.text();
      expect(res.status, path).not.toBe(200);
      expect(body, path).not.toContain('# TYPE');
      expect(body, path).not.toContain('chorus_signatures_received_total');
    }
    // while the metrics port answers
    expect((await fetch(platform.metricsUrls[0]!)).status).toBe(200);
  });
});

describe('several processes of one platform', () => {
  let multi: Platform;
  beforeAll(async () => {
    multi = await startPlatform({}, { servers: 2, workers: 2 });
  });
  afterAll(async () => multi?.stop());

  it('each serve their own endpoint, and each counts what it did', async () => {
    const all = [...multi.metricsUrls, ...multi.workersMetricsUrls];
    expect(multi.metricsUrls).toHaveLength(2);
    expect(multi.workersMetricsUrls).toHaveLength(2);
    expect(new Set(all.map((u) => new URL(u).port)).size).toBe(4);
    const before = await Promise.all(multi.metricsUrls.map(async (u) => (await scrape(u)).families));
    for (let i = 0; i < 40; i++) {
      if ((await fetch(`${multi.baseUrls[1]}/api/actions/${fx.action.slug}`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await fetch(`${multi.baseUrls[1]}/api/actions/${fx.action.slug}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Second', lastName: 'Server', email: `metrics.second.${stamp}@example.org`, country: 'FR', consentCount: true }),
    });
    expect(res.status).toBe(202);
    const after = await Promise.all(multi.metricsUrls.map(async (u) => (await scrape(u)).families));
    const received = (i: number) => sampleValue(after[i]!, 'chorus_signatures_received_total', { via: 'form' }) - sampleValue(before[i]!, 'chorus_signatures_received_total', { via: 'form' });
    expect([received(0), received(1)]).toEqual([0, 1]);
    for (const url of multi.workersMetricsUrls) {
      const { families } = await scrape(url);
      expect(sumOf(families, 'chorus_queue_jobs', { queue: QUEUE_NAMES.delivery }).series, url).toBe(4);
    }
  }, 120_000);
});

describe('a metrics port that is taken', () => {
  let holder: Server;
  let port: number;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as { port: number }).port;
  });
  afterAll(async () => new Promise((r) => holder.close(r)));

  const run = runBuiltProcess;

  it.each([
    ['server', 'METRICS_PORT'],
    ['workers', 'WORKERS_METRICS_PORT'],
  ] as const)('stops the %s process at start with a one-line reason naming %s', async (kind, setting) => {
    const builds = await buildProcesses();
    // PORT 0: the server's public port is never the reason it stops
    const { code, output } = await run(builds[kind], { [setting]: String(port), PORT: '0' });
    expect(code, output).toBe(1);
    const lines = output.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(new RegExp(`${setting} ${port} is taken on 127\\.0\\.0\\.1 \\(another process listens there\\)`));
    expect(lines.filter((l) => l.includes('is taken'))).toHaveLength(1);
  }, 60_000);
});
