// `npm run bench`: ceilings first, then the scenarios of issue 7 against the real platform,
// then a table (stdout), .data/bench.json and BENCHMARKS.md. server/bin/chorus.mjs has
// already installed, recreated the bench database, flushed its Redis database and migrated.
// Durations and sizes come from BENCH_* variables (see docs/operating.md, "The benchmark").
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createDb } from '../../server/src/db/db.ts';
import { createQueues, redisConnection } from '../../server/src/queue/queue.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { measureHello, measureInserts, measureSmtp, measureStaticPage } from './ceilings.ts';
import { startChild } from './child.ts';
import { createBenchAction, insertConfirmed } from './data.ts';
import { fmt, median, medianRun, progress } from './load.ts';
import { describeMachine, judge, renderMarkdown, renderTable, type Figure } from './report.ts';
import { countReaders, digestDelivery, everyNDelivery, overloadScenario, pageReaders, signingScenario, signingUnderStorm } from './scenarios.ts';
import { exportScenario } from './export.ts';
import { describeCpu } from './cpu.ts';
import { dataModelScenario } from './datamodel.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number, got "${raw}"`);
  return n;
};

const LONG = num('BENCH_SECONDS', 60);
const cfg = {
  long: LONG,
  short: num('BENCH_SHORT_SECONDS', Math.min(10, LONG)),
  ceiling: num('BENCH_CEILING_SECONDS', Math.min(5, LONG)),
  runs: Math.max(1, Math.round(num('BENCH_RUNS', 3))),
  connections: num('BENCH_CONNECTIONS', 100),
  duplicates: num('BENCH_DUPLICATES', 0.2),
  stormSigners: num('BENCH_STORM_SIGNERS', 1),
  overloadFactor: num('BENCH_OVERLOAD_FACTOR', 3),
  overloadConnections: num('BENCH_OVERLOAD_CONNECTIONS', 1000),
  deliverySignatures: num('BENCH_DELIVERY_SIGNATURES', 100_000),
  targets: num('BENCH_TARGETS', 20),
  everyN: num('BENCH_EVERY_N', 1000),
  exportRows: num('BENCH_EXPORT_ROWS', 1_000_000),
  modelSignatures: num('BENCH_MODEL_SIGNATURES', 20_000),
  /** server processes behind nginx (the direct figures use the first one alone) */
  servers: Math.max(1, Math.round(num('BENCH_SERVERS', 2))),
  only: (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean),
};
const wants = (name: string) => cfg.only.length === 0 || cfg.only.includes(name);
const secret = process.env.SECRET_KEY!;
const databaseUrl = process.env.DATABASE_URL!;
const redisUrl = process.env.REDIS_URL!;

/** Server CPU per answer: unlike rates, barely moved by what else runs on a shared machine. */
function cpuNote(r: { serverCpuMsPerRequest?: number }): string {
  return r.serverCpuMsPerRequest === undefined ? '' : `server CPU ${fmt(r.serverCpuMsPerRequest, 3)} ms/answer`;
}

function heading(s: string) {
  console.log(`\n\x1b[1m${s}\x1b[0m`);
}

async function main() {
  const started = new Date();
  const machine = await describeMachine(databaseUrl, redisUrl);
  heading(`Chorus benchmark — ${machine.cpu}, ${machine.cores} cores, load average ${machine.loadAverage}`);
  console.log(`  settings: ${JSON.stringify(cfg)}`);
  const figures: Figure[] = [];
  const add = (f: Figure) => figures.push(f);

  // ------------------------------------------------------------ ceilings
  heading('1. Ceilings (same machine, same run)');
  const sink = await startChild('./sink.ts');
  let H = NaN;
  let rawSmtp = NaN;
  let singleRate = NaN;
  let batchedRate = NaN;
  if (wants('ceilings')) {
  const hello = await medianRun(cfg.runs, (i) => measureHello({ connections: cfg.connections, seconds: cfg.short, label: `ceiling H: hello-world POST, run ${i + 1}/${cfg.runs}` }), (r) => r.rps);
  H = hello.median.rps;
  add({ id: 'ceiling.hello', scenario: 'Ceilings', figure: `H: Fastify hello-world POST, ${cfg.connections} connections`, value: H, unit: 'req/s', runs: hello.all.map((r) => r.rps), note: `p99 ${fmt(hello.median.latency.p99)} ms; ${cpuNote(hello.median)}` });

  const single = await medianRun(cfg.runs, (i) => measureInserts(databaseUrl, { clients: 32, batch: 1, seconds: cfg.ceiling, label: `ceiling: single-row INSERT, run ${i + 1}/${cfg.runs}` }), (r) => r.rowsPerSecond);
  add({ id: 'ceiling.insert1', scenario: 'Ceilings', figure: 'single-row INSERT ... ON CONFLICT into signatures, 32 clients, prepared', value: single.median.rowsPerSecond, unit: 'rows/s', runs: single.all.map((r) => r.rowsPerSecond) });
  const batched = await medianRun(cfg.runs, (i) => measureInserts(databaseUrl, { clients: 4, batch: 256, seconds: cfg.ceiling, label: `ceiling: 256-row INSERT, run ${i + 1}/${cfg.runs}` }), (r) => r.rowsPerSecond);
  add({ id: 'ceiling.insertN', scenario: 'Ceilings', figure: '256-row INSERT ... SELECT unnest into signatures, 4 clients', value: batched.median.rowsPerSecond, unit: 'rows/s', runs: batched.all.map((r) => r.rowsPerSecond) });

  const smtp = await medianRun(cfg.runs, (i) => measureSmtp(sink, { seconds: cfg.ceiling, inFlight: 50, label: `ceiling: nodemailer to SMTP sink, run ${i + 1}/${cfg.runs}` }), (r) => r.messagesPerSecond);
  rawSmtp = smtp.median.messagesPerSecond;
  singleRate = single.median.rowsPerSecond;
  batchedRate = batched.median.rowsPerSecond;
  add({ id: 'ceiling.smtp', scenario: 'Ceilings', figure: 'nodemailer (pool of 5) into a discarding smtp-server sink, letter-sized', value: rawSmtp, unit: 'msg/s', runs: smtp.all.map((r) => r.messagesPerSecond), note: `${fmt(smtp.median.bytesPerMessage)} bytes per message; sender CPU ${fmt(smtp.median.cpuMsPerMessage, 2)} ms/message` });
  }

  // the ceiling rows are not part of any scenario
  const admin = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  await admin.query(`TRUNCATE signatures, supporters, consents CASCADE`);
  await admin.query(`DELETE FROM actions WHERE slug LIKE 'bench-ceiling-%'`);

  // ------------------------------------------------------------ the platform
  heading('2. Scenarios against the real platform (server, workers, PostgreSQL, Redis, SMTP sink)');
  const db = createDb(databaseUrl, { max: 8, applicationName: 'chorus-bench' });
  const signAction = await createBenchAction(db, { name: 'sign' });
  const freshAction = await createBenchAction(db, { name: 'fresh' });
  const readAction = await createBenchAction(db, { name: 'read' });
  const overAction = await createBenchAction(db, { name: 'over' });
  // a realistic page: a count in the hundreds of thousands and a wall of recent signers
  await insertConfirmed(admin, readAction.id, 20_000);
  await admin.query(`UPDATE signatures SET public_wall = true WHERE action_id = $1 AND random() < 0.01`, [readAction.id]);

  // as production runs: nginx in front of two server processes (deploy/nginx). The direct
  // figures go to the first server's own port, as before nginx was there; the nginx figures go
  // through nginx. The load generator stands in for many people, each signer from an address
  // of its own: nginx is told to believe its X-Forwarded-For, as it would a load balancer's.
  // BENCH_CPU_PROFILE_DIR: the server and workers processes write V8 CPU profiles there when
  // they stop (one .cpuprofile each, for Chromium's DevTools or any profile reader)
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const platform = await startPlatform({
    SMTP_URL: `smtp://127.0.0.1:${sink.port}?tls=off`,
    // production defaults for what the scenarios measure
    COUNT_INTERVAL_MS: '500',
    // the bench builds batches itself (timed); the workers' batcher runs once at start
    BATCH_INTERVAL_MS: '3600000',
    // every official has its own domain, but the limit is not what is measured here
    LETTERS_PER_DOMAIN_PER_MINUTE: '1000000',
    BOUNCE_SMTP_PORT: '',
    // signers arrive through a proxy, each from an address of their own (SigningTraffic)
    TRUSTED_PROXIES: '127.0.0.1',
    LOG_LEVEL: 'warn',
  // (the load generator's readers are many people on one address: no per-address cap for them)
  }, { ...(profileDir ? { nodeArgs: { server: ['--cpu-prof', `--cpu-prof-dir=${profileDir}/server`], workers: ['--cpu-prof', `--cpu-prof-dir=${profileDir}/workers`] } } : {}), servers: cfg.servers, nginx: { realIpFrom: '127.0.0.1', connsPerAddress: 65_535, missRate: '100000r/s', missBurst: 100_000 } });
  const direct: Platform = { ...platform, baseUrl: platform.baseUrls[0]! };
  const front: Platform = { ...platform, baseUrl: platform.nginx!.url };
  const queues = createQueues(redisConnection(redisUrl, { forWorker: false }).on('error', () => {}));
  const benchRedis = redisConnection(redisUrl, { forWorker: false }).on('error', () => {});
  let capacity = 0;
  try {
    await new Promise((r) => setTimeout(r, 2500)); // the server's action cache sees the new actions

    if (wants('delivery')) {
      heading('Delivery');
      const digestAction = await createBenchAction(db, { name: 'digest', targets: cfg.targets });
      const digest = await digestDelivery(admin, queues, sink, digestAction, {
        signatures: cfg.deliverySignatures,
        targets: cfg.targets,
        timeoutMs: 120_000,
      });
      add({ id: 'delivery.digest.build', scenario: 'Delivery', figure: `digest: batch of ${fmt(digest.signatures)} confirmed signatures, ${digest.targets} targets built`, value: digest.buildSeconds, unit: 's', target: { max: 10 }, note: `${digest.batches} batch, ${digest.letters} letters; ${digest.delivered} reached the sink` });
      const manyAction = await createBenchAction(db, { name: 'every-n', targets: cfg.targets });
      const many = await everyNDelivery(admin, queues, sink, manyAction, {
        signatures: cfg.deliverySignatures,
        targets: cfg.targets,
        everyN: cfg.everyN,
        timeoutMs: 600_000,
        workersPid: platform.pid('workers'),
      });
      add({ id: 'delivery.everyn.build', scenario: 'Delivery', figure: `every ${fmt(cfg.everyN)}: ${fmt(many.batches)} batches of ${fmt(many.signatures)} signatures, ${many.targets} targets built`, value: many.buildSeconds, unit: 's', target: { max: 10 }, note: `${fmt(many.letters)} letters` });
      add({ id: 'delivery.rate', scenario: 'Delivery', figure: `letters into the SMTP sink (${fmt(many.delivered)} of ${fmt(many.letters)})`, value: many.messagesPerSecond, unit: 'msg/s', ceiling: { id: 'ceiling.smtp', value: rawSmtp }, target: { minRatio: 0.7 }, note: `first to last in ${fmt(many.deliverSeconds, 1)} s; ${fmt(many.bytesPerLetter)} bytes per letter; workers CPU ${fmt(many.workersCpuMsPerLetter ?? NaN, 2)} ms/letter` });
    }

    if (wants('signing')) {
      heading('Durable signing (with counter freshness probes and server memory)');
      const emailsBefore = (await sink.ask<{ count: number }>('count')).count;
      const s = await signingScenario(direct, admin, signAction, freshAction, { connections: cfg.connections, seconds: cfg.long, duplicateShare: cfg.duplicates, secret, redis: benchRedis });
      const emails = (await sink.ask<{ count: number }>('count')).count - emailsBefore;
      capacity = s.load.okRps;
      const notOk = s.load.total - Object.entries(s.load.byStatus).reduce((a, [st, n]) => a + (Number(st) >= 200 && Number(st) < 300 ? n : 0), 0);
      add({ id: 'signing.rate', scenario: 'Durable signing', figure: `202s per second, ${cfg.connections} connections, ${cfg.duplicates * 100}% repeat emails, ${fmt(s.load.seconds)} s`, value: s.load.okRps, unit: 'req/s', ceiling: { id: 'ceiling.hello', value: H }, target: { minRatio: 0.35 }, note: `${fmt(s.load.okRps / singleRate, 2)} x single-row INSERT, ${fmt(s.load.okRps / batchedRate, 2)} x batched INSERT; ${cpuNote(s.load)}` });
      if (s.cpu) {
        // what bounds the rate on this machine: every part's CPU per 202, and what the cores allow at that cost
        const c = describeCpu(s.cpu, s.load.byStatus['202'] ?? 0);
        add({ id: 'signing.cpu', scenario: 'Durable signing', figure: 'CPU per 202, all parts (server, workers, PostgreSQL, Redis, load generator)', value: c.totalMs, unit: 'ms', explains: 'the rate', note: c.text });
        if (c.platformPerLoad !== null) {
          add({ id: 'signing.cpu.relative', scenario: 'Durable signing', figure: "the platform's CPU per 202 over the load generator's (compare versions by this)", value: c.platformPerLoad, unit: 'x', explains: 'the work per signature, whatever the machine\'s state', note: 'server, workers, PostgreSQL and Redis, over the load generator, whose code does not change: it cancels how fast the machine happens to be during the run' });
        }
      }
      // The workers send the signers' confirmation emails meanwhile, as fast as they can, on the
      // same cores: a version that sends them faster leaves less CPU to signing in the same run
      const workersMsPerEmail = s.cpu && emails > 0 ? (s.cpu.ms.workers ?? NaN) / emails : NaN;
      add({ id: 'signing.emails', scenario: 'Durable signing', figure: 'confirmation emails sent during the run, per second (they share the cores)', value: emails / s.load.seconds, unit: 'msg/s', explains: 'the workers\' share of the CPU', note: `${fmt(emails)} emails for ${fmt(s.load.byStatus['202'] ?? 0)} sign-ups answered 202; the workers' CPU ${fmt(workersMsPerEmail, 2)} ms per email sent` });
      add({ id: 'signing.p99', scenario: 'Durable signing', figure: 'latency p99 (p50, p90 in note)', value: s.load.latency.p99, unit: 'ms', target: { max: 50 }, note: `p50 ${fmt(s.load.latency.p50, 1)} ms, p90 ${fmt(s.load.latency.p90, 1)} ms, max ${fmt(s.load.latency.max)} ms` });
      add({ id: 'signing.errors', scenario: 'Durable signing', figure: 'answers other than 202, and transport errors', value: notOk + s.load.errors + s.load.timeouts, unit: 'count', target: { max: 0 }, note: JSON.stringify(s.load.byStatus) });
      add({ id: 'signing.exactlyOnce', scenario: 'Durable signing', figure: `202-answered addresses without exactly one row (of ${fmt(s.exactlyOnce.acceptedEmails)})`, value: s.exactlyOnce.missing + s.exactlyOnce.duplicated, unit: 'count', target: { max: 0 }, note: `${fmt(s.exactlyOnce.rows)} rows on the action` });
      add({ id: 'freshness.p99', scenario: 'Counter freshness', figure: `confirmation to public count, p99 of ${s.freshness.probes} probes during signing`, value: s.freshness.probes === 0 ? NaN : s.freshness.latency.p99, unit: 'ms', target: { max: 1000 }, note: `p50 ${fmt(s.freshness.latency.p50)} ms, max ${fmt(s.freshness.latency.max)} ms, ${s.freshness.lost} never shown; ${s.freshness.shed} probe requests shed (503/429) and sent again` });
      add({ id: 'memory.server', scenario: 'Memory', figure: 'server resident memory, peak during durable signing', value: s.serverRssPeakMb, unit: 'MB', target: { max: 300 }, note: `${fmt(s.serverRssEndMb)} MB at the end` });
    }

    // The confirmation emails owed from the signing spike (one per new signer) would be sent by
    // the workers while the next scenarios run, on the same cores: those scenarios would measure
    // that backlog, not themselves. They wait in the paused queue until the bench ends.
    let pausedNote = '';
    if (wants('reads') || wants('overload') || wants('nginx')) {
      const owed = await queues.mail.getJobCounts('waiting', 'delayed', 'prioritized');
      const n = Object.values(owed).reduce((a, b) => a + b, 0);
      await queues.mail.pause();
      pausedNote = `mail queue paused, ${fmt(n)} emails owed from earlier scenarios waiting`;
      progress(pausedNote);
    }

    if (wants('reads')) {
      heading('Read storm, without nginx (the first server alone, every page rendered)');
      const count = await medianRun(cfg.runs, (i) => countReaders(direct, readAction, cfg.connections, cfg.short, `read storm: count endpoint, run ${i + 1}/${cfg.runs}`), (r) => r.okRps);
      add({ id: 'reads.count', scenario: 'Read storm, without nginx', figure: `GET /api/actions/:slug/count, ${cfg.connections} connections`, value: count.median.okRps, unit: 'req/s', ceiling: { id: 'ceiling.hello', value: H }, runs: count.all.map((r) => r.okRps), note: `without nginx: for comparison, the targets are through nginx; p99 ${fmt(count.median.latency.p99, 1)} ms; ${cpuNote(count.median)}; ${pausedNote}` });
      const page = await medianRun(cfg.runs, (i) => pageReaders(direct, readAction, cfg.connections, cfg.short, `read storm: action page, run ${i + 1}/${cfg.runs}`), (r) => r.okRps);
      add({ id: 'reads.page', scenario: 'Read storm, without nginx', figure: `GET /actions/:slug (the HTML page), ${cfg.connections} connections`, value: page.median.okRps, unit: 'req/s', ceiling: { id: 'ceiling.hello', value: H }, runs: page.all.map((r) => r.okRps), note: `without nginx: for comparison; p99 ${fmt(page.median.latency.p99, 1)} ms; ${cpuNote(page.median)}` });
      const storms = [];
      for (let i = 0; i < cfg.runs; i++) storms.push(await signingUnderStorm(direct, readAction, { signers: cfg.stormSigners, readers: cfg.connections * cfg.stormSigners, seconds: cfg.short }));
      const ratios = storms.map((s) => (s.alone.okRps === 0 ? 0 : s.during.okRps / s.alone.okRps));
      const mid = storms[ratios.indexOf(median(ratios))] ?? storms[0]!;
      add({ id: 'reads.signing', scenario: 'Read storm, without nginx', figure: `signing during the storm (${cfg.stormSigners} signing, ${cfg.connections * cfg.stormSigners} reading connections)`, value: mid.during.okRps, unit: 'req/s', ceiling: { id: 'signing alone', value: mid.alone.okRps }, runs: ratios, note: `without nginx: for comparison; readers meanwhile: count ${fmt(mid.count.okRps)} req/s, page ${fmt(mid.page.okRps)} req/s; signing p99 ${fmt(mid.during.latency.p99, 1)} ms (alone ${fmt(mid.alone.latency.p99, 1)} ms)` });
    }

    if (wants('overload')) {
      heading('Overload');
      if (capacity === 0) {
        progress('measuring the signing capacity first (no durable signing run in this selection)');
        const c = await signingScenario(direct, admin, overAction, freshAction, { connections: cfg.connections, seconds: cfg.short, duplicateShare: cfg.duplicates, secret, label: 'signing capacity' });
        capacity = c.load.okRps;
      }
      const o = await overloadScenario(direct, overAction, { capacity, factor: cfg.overloadFactor, connections: cfg.overloadConnections, seconds: cfg.long, recoverySeconds: Math.min(5, cfg.long), pool: admin, redis: benchRedis });
      const achieved = (o.load.total + o.load.errors + o.load.timeouts) / o.load.seconds;
      add({ id: 'overload.bad', scenario: 'Overload', figure: `answers other than 2xx/429/503 (offered ${fmt(o.offeredRate)} req/s = ${cfg.overloadFactor} x ${fmt(capacity)}; achieved ${fmt(achieved)})`, value: o.badShare * 100, unit: '%', target: { max: 0.1 }, note: `${JSON.stringify(o.load.byStatus)}, errors ${o.load.errors}, timeouts ${o.load.timeouts}; shed ${fmt(o.shedShare * 100, 1)}%; ${pausedNote}` });
      add({ id: 'overload.p99', scenario: 'Overload', figure: 'admitted (2xx) latency p99', value: o.load.okLatency.p99, unit: 'ms', target: { max: 250 }, note: `${fmt(o.load.okRps)} admitted/s; p50 ${fmt(o.load.okLatency.p50, 1)} ms; all answers p99 ${fmt(o.load.latency.p99, 1)} ms` });
      if (o.cpu) add({ id: 'overload.cpu', scenario: 'Overload', figure: 'CPU per answer during the overload, all parts (2xx and refusals alike)', value: describeCpu(o.cpu, o.load.total).totalMs, unit: 'ms', explains: 'the admitted rate and latency', note: describeCpu(o.cpu, o.load.total).text });
      add({ id: 'overload.memory', scenario: 'Overload', figure: 'server resident memory, peak during overload', value: o.serverRssPeakMb, unit: 'MB', target: { max: 300 }, note: `${fmt(o.serverRssStartMb)} MB before, ${fmt(o.serverRssEndMb)} MB at the end` });
      add({ id: 'overload.recovery', scenario: 'Overload', figure: 'seconds after the overload until >= 99% of answers are 2xx', value: o.recoverySeconds, unit: 's', target: { max: 1 }, note: `recovery run: ${fmt(o.recovery.okRps)} 202/s, p99 ${fmt(o.recovery.latency.p99, 1)} ms` });
    }

    if (wants('nginx')) {
      heading('Through nginx (deploy/nginx, in front of the servers)');
      const note = (r: { latency: { p99: number } }) => `p99 ${fmt(r.latency.p99, 1)} ms; ${cfg.servers} server processes behind nginx`;
      const count = await medianRun(cfg.runs, (i) => countReaders(front, readAction, cfg.connections, cfg.short, `nginx: count endpoint, run ${i + 1}/${cfg.runs}`), (r) => r.okRps);
      add({ id: 'nginx.count', scenario: 'Through nginx', figure: `GET /api/actions/:slug/count, ${cfg.connections} connections`, value: count.median.okRps, unit: 'req/s', ceiling: { id: 'ceiling.hello', value: H }, target: { minRatio: 1.0 }, runs: count.all.map((r) => r.okRps), note: `${note(count.median)}; first server's CPU ${fmt(count.median.serverCpuMsPerRequest ?? NaN, 4)} ms/answer` });
      const pageBody = Buffer.from(await (await fetch(`${front.baseUrl}/actions/${readAction.slug}`, { headers: { 'accept-language': 'en' } })).arrayBuffer());
      const fileCeiling = await medianRun(cfg.runs, (i) => measureStaticPage({ body: pageBody, connections: cfg.connections, seconds: cfg.ceiling, workerProcesses: 2, label: `ceiling: nginx, a ${fmt(pageBody.length / 1024)} kB file, run ${i + 1}/${cfg.runs}` }), (r) => r.okRps);
      add({ id: 'ceiling.nginxFile', scenario: 'Through nginx', figure: `ceiling: nginx serving the page's ${fmt(pageBody.length)} bytes as a static file, ${cfg.connections} connections`, value: fileCeiling.median.okRps, unit: 'req/s', runs: fileCeiling.all.map((r) => r.okRps), note: `${fmt(fileCeiling.median.okRps / H, 2)} x H: the most any page of this size can get through nginx to this load generator` });
      const page = await medianRun(cfg.runs, (i) => pageReaders(front, readAction, cfg.connections, cfg.short, `nginx: action page, run ${i + 1}/${cfg.runs}`), (r) => r.okRps);
      add({ id: 'nginx.page', scenario: 'Through nginx', figure: `GET /actions/:slug (the HTML page), ${cfg.connections} connections`, value: page.median.okRps, unit: 'req/s', ceiling: { id: 'ceiling.hello', value: H }, target: { minRatio: 1.0 }, runs: page.all.map((r) => r.okRps), note: `${fmt(page.median.okRps / fileCeiling.median.okRps, 2)} x the static file's ceiling; ${note(page.median)}; first server's CPU ${fmt(page.median.serverCpuMsPerRequest ?? NaN, 4)} ms/answer` });
      const gz = await pageReaders(front, readAction, cfg.connections, cfg.short, 'nginx: action page, gzip', { 'accept-encoding': 'gzip' });
      add({ id: 'nginx.page.gzip', scenario: 'Through nginx', figure: `the same page asked for compressed (Accept-Encoding: gzip, as browsers ask)`, value: gz.okRps, unit: 'req/s', ceiling: { id: 'ceiling.hello', value: H }, note: `p99 ${fmt(gz.latency.p99, 1)} ms; nginx compresses each answer from its cache` });
      const storms = [];
      for (let i = 0; i < cfg.runs; i++) storms.push(await signingUnderStorm(front, readAction, { signers: cfg.stormSigners, readers: cfg.connections * cfg.stormSigners, seconds: cfg.short }));
      const ratios = storms.map((s) => (s.alone.okRps === 0 ? 0 : s.during.okRps / s.alone.okRps));
      const mid = storms[ratios.indexOf(median(ratios))] ?? storms[0]!;
      add({ id: 'nginx.signing', scenario: 'Through nginx', figure: `signing during the storm (${cfg.stormSigners} signing, ${cfg.connections * cfg.stormSigners} reading connections)`, value: mid.during.okRps, unit: 'req/s', ceiling: { id: 'signing alone, through nginx', value: mid.alone.okRps }, target: { minRatio: 0.8 }, runs: ratios, note: `readers meanwhile: count ${fmt(mid.count.okRps)} req/s, page ${fmt(mid.page.okRps)} req/s; signing p99 ${fmt(mid.during.latency.p99, 1)} ms (alone ${fmt(mid.alone.latency.p99, 1)} ms)` });
      if (capacity === 0) {
        progress('measuring the signing capacity first (no durable signing run in this selection)');
        const c = await signingScenario(direct, admin, overAction, freshAction, { connections: cfg.connections, seconds: cfg.short, duplicateShare: cfg.duplicates, secret, label: 'signing capacity' });
        capacity = c.load.okRps;
      }
      const o = await overloadScenario(front, overAction, { capacity, factor: cfg.overloadFactor, connections: cfg.overloadConnections, seconds: cfg.long, recoverySeconds: Math.min(5, cfg.long), pool: admin, redis: benchRedis });
      const achieved = (o.load.total + o.load.errors + o.load.timeouts) / o.load.seconds;
      add({ id: 'nginx.overload.bad', scenario: 'Through nginx', figure: `overload: answers other than 2xx/429/503 (offered ${fmt(o.offeredRate)} req/s = ${cfg.overloadFactor} x ${fmt(capacity)}; achieved ${fmt(achieved)})`, value: o.badShare * 100, unit: '%', target: { max: 0.1 }, note: `${JSON.stringify(o.load.byStatus)}, errors ${o.load.errors}, timeouts ${o.load.timeouts}; shed ${fmt(o.shedShare * 100, 1)}%` });
      add({ id: 'nginx.overload.p99', scenario: 'Through nginx', figure: 'overload: admitted (2xx) latency p99', value: o.load.okLatency.p99, unit: 'ms', target: { max: 250 }, note: `${fmt(o.load.okRps)} admitted/s; p50 ${fmt(o.load.okLatency.p50, 1)} ms; all answers p99 ${fmt(o.load.latency.p99, 1)} ms` });
      if (o.cpu) add({ id: 'nginx.overload.cpu', scenario: 'Through nginx', figure: 'overload: CPU per answer, all parts (2xx and refusals alike)', value: describeCpu(o.cpu, o.load.total).totalMs, unit: 'ms', explains: 'the admitted rate and latency', note: describeCpu(o.cpu, o.load.total).text });
      add({ id: 'nginx.overload.recovery', scenario: 'Through nginx', figure: 'overload: seconds after it until >= 99% of answers are 2xx', value: o.recoverySeconds, unit: 's', target: { max: 1 }, note: `recovery run: ${fmt(o.recovery.okRps)} 202/s, p99 ${fmt(o.recovery.latency.p99, 1)} ms` });
    }

  } finally {
    await queues.close();
    benchRedis.disconnect();
    await platform.stop();
    await db.close();
  }

  if (wants('datamodel')) {
    heading('Data model');
    const modelDb = createDb(databaseUrl, { max: 10, applicationName: 'chorus-bench-model' });
    const modelRedis = redisConnection(redisUrl, { forWorker: false }).on('error', () => {});
    try {
      const action = await createBenchAction(modelDb, { name: 'model' });
      const m = await dataModelScenario(modelDb.pool, modelRedis, action.id, cfg.modelSignatures);
      const note = `${fmt(m.signatures)} signatures, eight at a time; PostgreSQL CPU ms per signature`;
      add({ id: 'model.write', scenario: 'Data model', figure: 'PostgreSQL CPU per sign-up written (batches of 64)', value: m.pgMs.write, unit: 'ms', explains: 'the signing rate', note });
      add({ id: 'model.sent', scenario: 'Data model', figure: 'PostgreSQL CPU per confirmation email marked sent', value: m.pgMs.markSent, unit: 'ms', explains: 'the mail rate', note });
      add({ id: 'model.confirm', scenario: 'Data model', figure: 'PostgreSQL CPU per confirmation (supporter locked, signature confirmed, consents recorded)', value: m.pgMs.confirm, unit: 'ms', explains: 'the confirming rate', note });
      add({ id: 'model.total', scenario: 'Data model', figure: 'PostgreSQL CPU per signature, written, emailed and confirmed', value: m.pgMs.write + m.pgMs.markSent + m.pgMs.confirm, unit: 'ms', explains: 'the data model', note });
    } finally {
      modelRedis.disconnect();
      await modelDb.close();
    }
  }

  if (wants('export')) {
    heading('Export');
    const e = await exportScenario(admin, databaseUrl, { rows: cfg.exportRows, runs: cfg.runs });
    add({ id: 'export.copy', scenario: 'Export', figure: `PostgreSQL COPY (the export's SELECT) TO STDOUT CSV, ${fmt(e.rows)} signatures`, value: e.copyRowsPerSecond, unit: 'rows/s', runs: e.copyRuns, note: `${fmt(e.copyMb, 1)} MB` });
    add({ id: 'export.csv', scenario: 'Export', figure: `staff CSV export (exportCsv: query stream + csv-stringify), ${fmt(e.rows)} signatures`, value: e.exportRowsPerSecond, unit: 'rows/s', ceiling: { id: 'export.copy', value: e.copyRowsPerSecond }, target: { minRatio: 0.3 }, runs: e.exportRuns, note: `${fmt(e.exportMb, 1)} MB` });
    add({ id: 'export.memory', scenario: 'Export', figure: 'peak resident memory of the exporting process', value: e.peakMb, unit: 'MB', target: { max: 200 } });
  }
  await admin.end();
  await sink.stop();

  // ------------------------------------------------------------ report
  const finished = new Date();
  const report = { started: started.toISOString(), finished: finished.toISOString(), machine, settings: cfg, figures };
  heading('3. Results');
  console.log(renderTable(figures));
  mkdirSync(`${ROOT}.data`, { recursive: true });
  writeFileSync(`${ROOT}.data/bench.json`, JSON.stringify(report, null, 2));
  writeFileSync(`${ROOT}BENCHMARKS.md`, renderMarkdown(report));
  console.log(`\n  written: .data/bench.json and BENCHMARKS.md`);
  const judged = figures.map(judge);
  console.log(`  ${judged.filter((f) => f.pass === true).length} targets met, ${judged.filter((f) => f.pass === false).length} not met`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
