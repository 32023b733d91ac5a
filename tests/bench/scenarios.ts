// The scenarios of issue 7, against the real platform (server, workers, PostgreSQL, Redis and
// an SMTP sink, as separate processes). Each returns plain figures; main.ts compares them
// with their ceilings and targets.
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { buildBatch, buildDueBatches } from '../../server/src/delivery/batch.service.ts';
import { nextOfficeOpening } from '../../server/src/delivery/office-hours.ts';
import type { Queues } from '../../server/src/queue/queue.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import type { Platform } from '../support/platform.ts';
import type { Redis } from 'ioredis';
import { cpuMsOf, memoryOf, startChild, type Child } from './child.ts';
import { measureCpu, nginxPids, type CpuShare } from './cpu.ts';
import { insertConfirmed, type BenchAction } from './data.ts';
import { fmt, percentiles, progress, runLoad, type LoadResult, type Percentiles } from './load.ts';
import { loadConfig } from '../../server/src/config/config.ts';

const COUNTRIES = ['MX', 'PH', 'UZ', 'KZ', 'FR', 'ES', 'GB', 'DE', 'BR', 'KE'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Signing bodies: new addresses, and a share of repeats of addresses already sent (a repeat
 * may arrive while its first copy is still in flight, which is the hard case). The emails that
 * were answered 202 are collected for the exactly-once check.
 *
 * Each signer comes from an address of their own (a repeat from the same one), given in
 * X-Forwarded-For: the platform under test trusts 127.0.0.1 as its proxy (TRUSTED_PROXIES),
 * as it would behind a load balancer. A spike comes from many people, and the per-address
 * limit would otherwise flag every signature after the first hundred.
 */
export class SigningTraffic {
  private seq = 0;
  readonly sent: string[] = [];
  readonly accepted = new Set<string>();
  constructor(
    private readonly prefix: string,
    private readonly duplicateShare: number,
  ) {}

  body = (ctx: Record<string, unknown>): string => {
    // a repeat is the same person sending the same form again (a double click, a retry)
    const n = this.sent.length > 50 && Math.random() < this.duplicateShare ? Math.floor(Math.random() * this.sent.length) : this.seq++;
    const email = `${this.prefix}.${n}@signers.example.org`;
    if (n === this.sent.length) this.sent.push(email);
    ctx.email = email;
    ctx.ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    return JSON.stringify({
      firstName: 'Ana',
      lastName: 'López',
      email,
      country: COUNTRIES[n % COUNTRIES.length],
      consentCount: true,
      consentNamed: n % 3 === 0,
    });
  };

  onResponse = (status: number, ctx: Record<string, unknown>): void => {
    if (status === 202) this.accepted.add(ctx.email as string);
  };

  request(slug: string) {
    return {
      method: 'POST' as const,
      path: `/api/actions/${slug}/signatures`,
      headers: { 'content-type': 'application/json' },
      body: this.body,
      headersFor: (ctx: Record<string, unknown>) => ({ 'x-forwarded-for': ctx.ip as string }),
      onResponse: this.onResponse,
    };
  }
}

export interface ExactlyOnce {
  acceptedEmails: number;
  rows: number;
  /** answered 202 but no row: must be 0 */
  missing: number;
  /** more than one row for one person (every repeat is the same sign-up again): must be 0 */
  duplicated: number;
}

/**
 * Every address answered 202 has exactly one signature row on the action. A person is known by
 * the blind index of their canonical address (supporters.email_index), as the writer keys them:
 * the address itself is stored only sealed.
 */
export async function checkExactlyOnce(pool: pg.Pool, actionId: string, accepted: Iterable<string>): Promise<ExactlyOnce> {
  const { rows } = await pool.query<{ email_index: string | null; n: number }>(
    `SELECT p.email_index, count(*)::int AS n FROM signatures s JOIN supporters p ON p.id = s.supporter_id
     WHERE s.action_id = $1 GROUP BY p.email_index`,
    [actionId],
  );
  const byIndex = new Map(rows.map((r) => [r.email_index, r.n]));
  let missing = 0;
  let duplicated = 0;
  let acceptedEmails = 0;
  for (const email of accepted) {
    acceptedEmails++;
    const n = byIndex.get(indexOfEmail(email)) ?? 0;
    if (n === 0) missing++;
    if (n > 1) duplicated++;
  }
  return { acceptedEmails, rows: rows.reduce((a, r) => a + r.n, 0), missing, duplicated };
}

// ------------------------------------------------------------------ durable signing (+ memory, freshness)

export interface SigningResult {
  load: LoadResult;
  /** CPU used by each part of the platform during the run (when a Redis client was given) */
  cpu?: CpuShare;
  exactlyOnce: ExactlyOnce;
  serverRssPeakMb: number;
  serverRssEndMb: number;
  freshness: FreshnessResult;
}

export async function signingScenario(
  platform: Platform,
  pool: pg.Pool,
  action: BenchAction,
  freshnessAction: BenchAction,
  opts: { connections: number; seconds: number; duplicateShare: number; secret: string; label?: string; redis?: Redis },
): Promise<SigningResult> {
  const traffic = new SigningTraffic(`sign-${Date.now()}`, opts.duplicateShare);
  const stopCpu = opts.redis ? await measureCpu({ pids: { server: platform.pid('server'), workers: platform.pid('workers') }, pool, redis: opts.redis }) : null;
  let rssPeak = 0;
  let rssEnd = 0;
  const sampleRss = () => {
    const m = memoryOf(platform.pid('server'));
    if (m) {
      rssPeak = Math.max(rssPeak, m.rssMb, m.peakMb);
      rssEnd = m.rssMb;
    }
  };
  const stopFreshness = startFreshnessProbes(platform, pool, freshnessAction, opts.secret);
  const load = await runLoad({
    label: opts.label ?? 'durable signing',
    url: platform.baseUrl,
    serverPid: platform.pid('server'),
    connections: opts.connections,
    seconds: opts.seconds,
    requests: [traffic.request(action.slug)],
    onTick: sampleRss,
  });
  sampleRss();
  const cpu = stopCpu ? await stopCpu() : undefined;
  const freshness = await stopFreshness();
  // the writer answers after COMMIT, so every 202 must be a row now, without waiting
  const exactlyOnce = await checkExactlyOnce(pool, action.id, traffic.accepted);
  return { load, cpu, exactlyOnce, serverRssPeakMb: rssPeak, serverRssEndMb: rssEnd, freshness };
}

export interface FreshnessResult {
  probes: number;
  /** ms from the confirmation's answer to the public count showing it */
  latency: Percentiles;
  /** probes that never showed within 10 s */
  lost: number;
  /** signing or confirming requests of the probes the server shed (503/429) and the probe sent again */
  shed: number;
}

/**
 * One HTTP request from a given loopback address (Linux answers on all of 127/8). The load of
 * the scenarios all comes from 127.0.0.1, so it stands for one very busy address, and past the
 * per-address signing limit its signatures are stored invalidated (silently: the answer is
 * still 202). A probe is another person: it signs from an address of its own.
 */
function requestFrom(localAddress: string, url: string, method: 'GET' | 'POST', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, localAddress, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sequential probes while other load runs: sign with a new address (e-mail and client address),
 * confirm it through the real confirmation endpoint (the token is what the email would carry),
 * then poll the public count endpoint until it shows one more. Only probes confirm on this
 * action, so the count rises by exactly one per probe. A probe the server sheds (503, or 429)
 * is sent again after a short pause, as a person would, and counted in `shed`.
 */
export function startFreshnessProbes(platform: Platform, pool: pg.Pool, action: BenchAction, secret: string): () => Promise<FreshnessResult> {
  let stop = false;
  const samples: number[] = [];
  let lost = 0;
  let shed = 0;
  let failed = 0;
  let n = 0;
  const countNow = async () => {
    const r = await fetch(`${platform.baseUrl}/api/actions/${action.slug}/count`);
    return r.ok ? ((await r.json()) as { count: number }).count : -1;
  };
  /** sends until the answer is not a shed one (or the scenario ends) */
  const send = async (from: string, path: string, body: string) => {
    for (;;) {
      const r = await requestFrom(from, `${platform.baseUrl}${path}`, 'POST', body).catch(() => null);
      if (r && r.status !== 503 && r.status !== 429) return r;
      if (r) shed++;
      if (stop) return null;
      await sleep(100);
    }
  };
  const run = (async () => {
    while (!stop) {
      const i = n++;
      // a fresh address per probe: 127.0.1.1, 127.0.1.2, ... (never 127.0.0.x, the load's)
      const from = `127.${1 + Math.floor(i / 62_500)}.${1 + (Math.floor(i / 250) % 250)}.${1 + (i % 250)}`;
      const email = `fresh.${Date.now()}.${i}@signers.example.org`;
      const body = JSON.stringify({ firstName: 'Probe', lastName: 'Fresh', email, country: 'MX', consentCount: true });
      const signed = await send(from, `/api/actions/${action.slug}/signatures`, body);
      if (signed?.status !== 202) {
        if (signed) failed++;
        continue;
      }
      const { rows } = await pool.query<{ id: string; status: string }>(
        `SELECT s.id, s.status FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE s.action_id = $1 AND p.email_index = $2`,
        [action.id, indexOfEmail(email)],
      );
      if (rows[0]?.status !== 'PENDING') {
        failed++;
        continue;
      }
      const before = await countNow().catch(() => -1);
      const token = confirmationToken({ secret, clock: () => new Date(), confirmLinkTtlHours: 336 }, rows[0].id);
      const confirmed = await send(from, `/api/confirmations/${token}`, '{}');
      if (confirmed?.status !== 200) {
        if (confirmed) failed++;
        continue;
      }
      const t0 = performance.now();
      let seen = false;
      while (performance.now() - t0 < 10_000) {
        if ((await countNow().catch(() => -1)) > before) {
          seen = true;
          break;
        }
        await sleep(10);
      }
      if (seen) samples.push(performance.now() - t0);
      else lost++;
    }
  })();
  return async () => {
    stop = true;
    await run;
    if (failed > 0) progress(`[counter freshness] ${failed} probe(s) neither signed nor confirmed (not shed: another answer)`);
    return { probes: samples.length + lost, latency: percentiles(samples), lost, shed };
  };
}

// ------------------------------------------------------------------ read storm

export interface ReadStormResult {
  count: LoadResult;
  page: LoadResult;
  signingAlone: LoadResult;
  signingDuringStorm: LoadResult;
  stormCount: LoadResult;
  stormPage: LoadResult;
}

export async function countReaders(platform: Platform, action: BenchAction, connections: number, seconds: number, label = 'read storm: count'): Promise<LoadResult> {
  return runLoad({ label, url: platform.baseUrl, serverPid: platform.pid('server'), connections, seconds, requests: [{ method: 'GET', path: `/api/actions/${action.slug}/count` }] });
}

export async function pageReaders(
  platform: Platform,
  action: BenchAction,
  connections: number,
  seconds: number,
  label = 'read storm: action page',
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  return runLoad({
    label,
    url: platform.baseUrl,
    serverPid: platform.pid('server'),
    connections,
    seconds,
    requests: [{ method: 'GET', path: `/actions/${action.slug}`, headers: { 'accept-language': 'en', ...headers } }],
  });
}

/** Signers alone, then the same signers while `readers` connections read the count and the page (half each). */
export async function signingUnderStorm(
  platform: Platform,
  action: BenchAction,
  opts: { signers: number; readers: number; seconds: number },
): Promise<{ alone: LoadResult; during: LoadResult; count: LoadResult; page: LoadResult }> {
  const alone = await runLoad({
    label: 'read storm: signing alone',
    url: platform.baseUrl,
    serverPid: platform.pid('server'),
    connections: opts.signers,
    seconds: opts.seconds,
    requests: [new SigningTraffic(`alone-${Date.now()}`, 0.2).request(action.slug)],
  });
  const readers = await startChild('./readers-child.ts', {
    STORM_URL: platform.baseUrl,
    STORM_SERVER_PID: String(platform.pid('server') ?? ''),
    STORM_SLUG: action.slug,
    STORM_READERS: String(opts.readers),
    STORM_SECONDS: String(opts.seconds),
  });
  try {
    const storm = readers.ask<{ count: LoadResult; page: LoadResult }>('storm');
    const during = await runLoad({
      label: 'read storm: signing during storm',
      url: platform.baseUrl,
      serverPid: platform.pid('server'),
      connections: opts.signers,
      seconds: opts.seconds,
      requests: [new SigningTraffic(`storm-${Date.now()}`, 0.2).request(action.slug)],
    });
    const { count, page } = await storm;
    return { alone, during, count, page };
  } finally {
    await readers.stop();
  }
}

// ------------------------------------------------------------------ overload

export interface OverloadResult {
  offeredRate: number;
  load: LoadResult;
  /** share of answers that are neither 2xx nor 429/503, transport errors included */
  badShare: number;
  shedShare: number;
  serverRssPeakMb: number;
  serverRssEndMb: number;
  serverRssStartMb: number;
  recovery: LoadResult;
  /** seconds after the overload until a second with >= 99% 2xx (1 = the first second) */
  recoverySeconds: number;
  /** CPU by part during the overload (when a pool and Redis were given) */
  cpu?: CpuShare;
}

export async function overloadScenario(
  platform: Platform,
  action: BenchAction,
  opts: { capacity: number; factor: number; connections: number; seconds: number; recoverySeconds: number; pool?: pg.Pool; redis?: Redis },
): Promise<OverloadResult> {
  const offeredRate = Math.max(1, Math.round(opts.capacity * opts.factor));
  // where the CPU goes while it lasts: what bounds the admitted rate and their latency
  const stopCpu =
    opts.pool && opts.redis
      ? await measureCpu({
          pids: {
            server: platform.pid('server'),
            'server-2': platform.pid('server-2'),
            workers: platform.pid('workers'),
            nginx: nginxPids(platform.nginx?.dir),
          },
          pool: opts.pool,
          redis: opts.redis,
        })
      : null;
  const startMem = memoryOf(platform.pid('server'));
  let rssPeak = startMem?.rssMb ?? 0;
  let rssEnd = 0;
  const load = await runLoad({
    label: `overload (${fmt(offeredRate)} req/s offered)`,
    url: platform.baseUrl,
    serverPid: platform.pid('server'),
    connections: opts.connections,
    seconds: opts.seconds,
    overallRate: offeredRate,
    requests: [new SigningTraffic(`over-${Date.now()}`, 0.2).request(action.slug)],
    onTick: () => {
      const m = memoryOf(platform.pid('server'));
      if (m) {
        rssPeak = Math.max(rssPeak, m.rssMb);
        rssEnd = m.rssMb;
      }
    },
  });
  const cpu = stopCpu ? await stopCpu() : undefined;
  const perSecond: number[] = [];
  let okThisSecond = 0;
  let allThisSecond = 0;
  const traffic = new SigningTraffic(`recover-${Date.now()}`, 0.2);
  const recovery = await runLoad({
    label: 'overload: recovery',
    url: platform.baseUrl,
    serverPid: platform.pid('server'),
    connections: 100,
    seconds: opts.recoverySeconds,
    requests: [
      {
        ...traffic.request(action.slug),
        onResponse: (status, ctx) => {
          allThisSecond++;
          if (status >= 200 && status < 300) okThisSecond++;
          traffic.onResponse(status, ctx);
        },
      },
    ],
    onTick: () => {
      perSecond.push(allThisSecond === 0 ? 0 : okThisSecond / allThisSecond);
      okThisSecond = 0;
      allThisSecond = 0;
    },
  });
  const firstGood = perSecond.findIndex((s) => s >= 0.99);
  const answered = load.total;
  const good = Object.entries(load.byStatus).reduce(
    (a, [status, n]) => a + ((Number(status) >= 200 && Number(status) < 300) || status === '429' || status === '503' ? n : 0),
    0,
  );
  const shed = (load.byStatus['429'] ?? 0) + (load.byStatus['503'] ?? 0);
  const all = answered + load.errors + load.timeouts;
  return {
    offeredRate,
    load,
    badShare: all === 0 ? 0 : (all - good) / all,
    shedShare: all === 0 ? 0 : shed / all,
    serverRssPeakMb: rssPeak,
    serverRssEndMb: rssEnd,
    serverRssStartMb: startMem?.rssMb ?? 0,
    recovery,
    recoverySeconds: firstGood === -1 ? Infinity : firstGood + 1,
    cpu,
  };
}

// ------------------------------------------------------------------ delivery

export interface DeliveryPolicyResult {
  policy: string;
  signatures: number;
  targets: number;
  batches: number;
  letters: number;
  /** time to build every batch of this policy */
  buildSeconds: number;
  /** letters that reached the sink, and how fast (first to last arrival) */
  delivered: number;
  deliverSeconds: number;
  messagesPerSecond: number;
  /** bytes the sink read per letter, to compare with the ceiling's message */
  bytesPerLetter: number;
  /** CPU time of the workers process per letter delivered, ms (when its pid was given) */
  workersCpuMsPerLetter?: number;
}

type SinkCount = { count: number; letters: number; firstLetterAt: number; lastLetterAt: number; letterBytes: number };

async function waitForLetters(sink: Child, expected: number, label: string, timeoutMs: number): Promise<SinkCount> {
  const started = Date.now();
  let last = 0;
  for (;;) {
    await sleep(1000);
    const c = await sink.ask<SinkCount>('count');
    progress(`[${label}] ${String(Math.round((Date.now() - started) / 1000)).padStart(3)} s  ${fmt(c.letters)}/${fmt(expected)} letters in the sink  (${fmt(c.letters - last)}/s)`);
    last = c.letters;
    if (c.letters >= expected || Date.now() - started > timeoutMs) {
      progress(`[${label}] ${fmt(c.letters)} letters, ${fmt(c.letters ? c.letterBytes / c.letters : 0)} bytes each on average\n`);
      return c;
    }
  }
}

/**
 * Digest: one DAILY_DIGEST action, its confirmed signatures built into one batch by the
 * batcher's own function (one letter per target, held for office hours); the bench then opens
 * the office (moves the letters' due time to now) and waits for them in the sink.
 */
export async function digestDelivery(
  pool: pg.Pool,
  queues: Queues,
  sink: Child,
  action: BenchAction,
  opts: { signatures: number; targets: number; timeoutMs: number },
): Promise<DeliveryPolicyResult> {
  await insertConfirmed(pool, action.id, opts.signatures, (done) => progress(`[delivery: digest] ${fmt(done)}/${fmt(opts.signatures)} confirmed signatures written`));
  await pool.query(`UPDATE actions SET delivery_policy = 'DAILY_DIGEST' WHERE id = $1`, [action.id]);
  await sink.ask('reset');
  // the batcher's clock at the next opening of the officials' offices (UTC, 09:00 on a weekday,
  // data.ts): a digest is made only while an office is open, whenever the bench runs
  const opening = nextOfficeOpening(new Date(), { timezone: 'UTC', opensAt: 540, closesAt: 1020 });
  const t0 = performance.now();
  const built = (await buildDueBatches({ pool, queues, mailDomain: 'chorus.example.org', countryMin: loadConfig().PUBLIC_COUNTRY_MIN, clock: () => opening })).filter((b) => b.actionId === action.id);
  const buildSeconds = (performance.now() - t0) / 1000;
  const letterIds = built.flatMap((b) => b.letterIds);
  progress(`[delivery: digest] ${built.length} batch(es), ${letterIds.length} letters built in ${fmt(buildSeconds, 2)} s`);
  // office hours open now: the letters become due and their jobs are enqueued without delay
  await pool.query(`UPDATE letters SET next_attempt_at = now() WHERE id = ANY($1::uuid[])`, [letterIds]);
  await queues.enqueueLetters(letterIds.map((id) => ({ id, attempts: 1 })));
  const c = await waitForLetters(sink, letterIds.length, 'delivery: digest', opts.timeoutMs);
  const deliverSeconds = c.letters > 1 ? (c.lastLetterAt - c.firstLetterAt) / 1000 : 0;
  return {
    policy: 'DAILY_DIGEST',
    signatures: opts.signatures,
    targets: opts.targets,
    batches: built.length,
    letters: letterIds.length,
    buildSeconds,
    delivered: c.letters,
    deliverSeconds,
    messagesPerSecond: deliverSeconds > 0 ? (c.letters - 1) / deliverSeconds : 0,
    bytesPerLetter: c.letters ? c.letterBytes / c.letters : 0,
  };
}

/**
 * Many letters: an EVERY_N action (N = `everyN`) whose confirmations arrived N at a time, so the
 * batcher built a batch of N per run: each batch a letter to each target. The bench calls the
 * batcher's function once per N (the real batcher would, once per interval), timed. Meanwhile
 * the delivery queue is paused (the platform's own pause of the queue, as an operator would),
 * so the letters' jobs wait in the queue; then it is resumed and the workers deliver the 2,000
 * letters into the sink. The send rate is thus the rate of sending owed letters: it is not
 * capped by how fast the bench builds batches back to back (which the real batcher, once per
 * interval, never does), nor slowed by that build competing for the same two cores, while the
 * raw rate it is compared with was measured with nothing else running.
 */
export async function everyNDelivery(
  pool: pg.Pool,
  queues: Queues,
  sink: Child,
  action: BenchAction,
  opts: { signatures: number; targets: number; everyN: number; timeoutMs: number; workersPid?: number },
): Promise<DeliveryPolicyResult> {
  await insertConfirmed(pool, action.id, opts.signatures, (done) => progress(`[delivery: every N] ${fmt(done)}/${fmt(opts.signatures)} confirmed signatures written`));
  await pool.query(`UPDATE actions SET delivery_policy = 'EVERY_N', delivery_every_n = $2 WHERE id = $1`, [action.id, opts.everyN]);
  await sink.ask('reset');
  const deps = { pool, queues, mailDomain: 'chorus.example.org', maxBatch: opts.everyN, countryMin: loadConfig().PUBLIC_COUNTRY_MIN };
  await queues.delivery.pause();
  const t0 = performance.now();
  let batches = 0;
  let letters = 0;
  let buildSeconds: number;
  try {
    for (;;) {
      const b = await buildBatch(deps, action.id, 'every_n');
      if (!b) break;
      batches++;
      letters += b.letterIds.length;
      if (batches % 20 === 0) progress(`[delivery: every N] ${batches} batches, ${fmt(letters)} letters built`);
    }
    buildSeconds = (performance.now() - t0) / 1000;
  } finally {
    await queues.delivery.resume();
  }
  const cpuBefore = cpuMsOf(opts.workersPid);
  progress(`[delivery: every N] ${batches} batches, ${fmt(letters)} letters built in ${fmt(buildSeconds, 2)} s`);
  const c = await waitForLetters(sink, letters, 'delivery: every N', opts.timeoutMs);
  const workersCpuMs = cpuMsOf(opts.workersPid) - cpuBefore;
  const deliverSeconds = c.letters > 1 ? (c.lastLetterAt - c.firstLetterAt) / 1000 : 0;
  return {
    policy: `EVERY_N (N=${opts.everyN})`,
    signatures: opts.signatures,
    targets: opts.targets,
    batches,
    letters,
    buildSeconds,
    delivered: c.letters,
    deliverSeconds,
    messagesPerSecond: deliverSeconds > 0 ? (c.letters - 1) / deliverSeconds : 0,
    bytesPerLetter: c.letters ? c.letterBytes / c.letters : 0,
    workersCpuMsPerLetter: opts.workersPid && c.letters ? workersCpuMs / c.letters : undefined,
  };
}
