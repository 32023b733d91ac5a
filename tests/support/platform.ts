// Starts the real platform as separate processes (mailbox, server, workers) on free ports,
// against the test database and Redis that `npm test` prepared, and stops it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProcesses, SERVER_NODE_FLAGS } from '../../server/bin/build-processes.mjs';
import { startNginx, type RunningNginx } from '../../server/bin/nginx-config.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * Every platform process's output is also written here, one file per process start, so the
 * privacy scan at the end of the suite (tests/privacy/) can read all of it. Emptied at the
 * start of each vitest run (tests/support/global-setup.ts).
 */
export const LOG_DIR = join(ROOT, '.data', 'test-logs');
let launches = 0;

/**
 * `count` consecutive ports free now, for processes started a little later: below the kernel's
 * range of ports for outgoing connections (32768 and up on Linux), which any connection opened
 * meanwhile (to PostgreSQL, Redis, a server) could take before the process binds it.
 */
export async function freePorts(count: number): Promise<number> {
  const isFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await isFree(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} free ports in a row between 20000 and 32000`);
}

/** A port free now (see freePorts). */
export const freePort = (): Promise<number> => freePorts(1);

export interface PlatformOptions {
  /** server processes (default 1), each on its own port: `baseUrls` */
  servers?: number;
  /** worker processes (default 1) */
  workers?: number;
  /** extra Node.js flags for the server or workers processes (say, --cpu-prof when profiling) */
  nodeArgs?: { server?: string[]; workers?: string[] };
  /**
   * nginx in front of the server processes, from deploy/nginx as production runs it: `baseUrl`
   * (and PUBLIC_BASE_URL) is then nginx's, `baseUrls` stay the servers' own, and the servers
   * trust nginx's X-Forwarded-For (TRUSTED_PROXIES=127.0.0.1 unless the test sets it).
   */
  nginx?: boolean | { realIpFrom?: string; signRate?: string; signBurst?: number; workerProcesses?: number; connsPerAddress?: number; missRate?: string; missBurst?: number };
}

/** `server`, `workers` and `mailbox`; with more than one, `server-2`, `workers-2`, ... */
export type ProcessName = 'server' | 'workers' | 'mailbox' | `server-${number}` | `workers-${number}`;
/** a process whose id can be asked for: the platform's own, and nginx's master process */
export type PidName = ProcessName | 'nginx';

export interface Platform {
  baseUrl: string;
  /** one per server process, each the server's own port; baseUrls[0] === baseUrl unless nginx is in front */
  baseUrls: string[];
  /** nginx in front (PlatformOptions.nginx): its address (=== baseUrl) and folder */
  nginx?: { url: string; dir: string };
  mailboxUrl: string;
  /** each server process's Prometheus endpoint (METRICS_PORT, a free port of its own), in baseUrls' order */
  metricsUrls: string[];
  /** each workers process's Prometheus endpoint (WORKERS_METRICS_PORT) */
  workersMetricsUrls: string[];
  env: Record<string, string>;
  logs: string[];
  stop(): Promise<void>;
  kill(name: ProcessName, signal?: NodeJS.Signals): Promise<void>;
  /** starts the process again (after kill), or stops it with SIGTERM and starts it again */
  restart(name: ProcessName): Promise<void>;
  /** whether that process is still running (it did not crash) */
  alive(name: ProcessName): boolean;
  restart(name: 'server' | 'workers' | 'mailbox'): Promise<void>;
  /** the process id, e.g. for reading its memory from /proc (the benchmark does) */
  pid(name: PidName): number | undefined;
}

async function waitFor(url: string, timeoutMs: number, logs: string[], died: () => string | undefined = () => undefined): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const dead = died();
    if (dead) throw new Error(`${dead} exited while the platform was starting. Logs:\n${logs.slice(-40).join('')}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms. Logs:\n${logs.slice(-40).join('')}`);
}

/** One metrics port per process: the one a test gave (for the first process), else free ones. */
async function metricsPortsFor(count: number, given: string | undefined): Promise<string[]> {
  const ports: string[] = [];
  for (let i = 0; i < count; i++) ports.push(i === 0 && given !== undefined ? given : String(await freePort()));
  return ports;
}

/** how often a test platform's server reloads its actions (ACTIONS_REFRESH_MS; 2 s by default) */
const ACTIONS_REFRESH_MS = 250;

export async function startPlatform(extraEnv: Record<string, string> = {}, opts: PlatformOptions = {}): Promise<Platform> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchPlatform(extraEnv, opts);
    } catch (err) {
      // a port found free was taken by another platform of the suite (or anything else on the
      // machine) before this one bound it: the failed launch has stopped its processes, so the
      // platform starts again on other ports. Anything else is the test's failure.
      if (attempt < 3 && /EADDRINUSE|is taken on 127\.0\.0\.1/.test(String(err))) continue;
      throw err;
    }
  }
}

async function launchPlatform(extraEnv: Record<string, string>, opts: PlatformOptions): Promise<Platform> {
  const [port, smtpPort, mailHttpPort] = [await freePort(), await freePort(), await freePort()];
  const serverCount = Math.max(1, opts.servers ?? 1);
  const workerCount = Math.max(1, opts.workers ?? 1);
  const ports = [port];
  for (let i = 1; i < serverCount; i++) ports.push(await freePort());
  const nginxOpts = opts.nginx === true ? {} : opts.nginx || undefined;
  const frontPort = nginxOpts ? await freePort() : undefined;
  // metrics endpoints: a free port per process (several platforms run at once in the suite,
  // and several server processes in one), unless the test set its own
  const metricsPorts = await metricsPortsFor(serverCount, extraEnv.METRICS_PORT);
  const workersMetricsPorts = await metricsPortsFor(workerCount, extraEnv.WORKERS_METRICS_PORT);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${frontPort ?? port}`,
    ...(frontPort ? { TRUSTED_PROXIES: '127.0.0.1' } : {}),
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}?tls=off`,
    MAILBOX_SMTP_PORT: String(smtpPort),
    MAILBOX_HTTP_PORT: String(mailHttpPort),
    BATCH_INTERVAL_MS: '500',
    COUNT_INTERVAL_MS: '200',
    ACTIONS_REFRESH_MS: String(ACTIONS_REFRESH_MS),
    // in the test suite three platforms run at once, some of several processes, beside the tests'
    // own pools: at the defaults (24 + 16 a platform) they passed PostgreSQL's 100 connections
    // ("too many clients"). The benchmark (not under vitest) measures the defaults.
    ...(process.env.VITEST ? { DATABASE_POOL_MAX: '10' } : {}),
    LOG_LEVEL: 'warn',
    // a platform dies with the test worker that started it (server/src/shared/parent-watch.ts)
    CHORUS_EXIT_WITH_PARENT: '1',
    ...extraEnv,
  };
  const logs: string[] = [];
  const procs = new Map<string, ChildProcess>();
  // every process runs from its build on plain Node, as `npm start` runs it (server/bin/build-processes.mjs)
  const builds = await buildProcesses();
  const scripts: Record<string, string> = { mailbox: builds.mailbox };
  const envOf: Record<string, Record<string, string>> = { mailbox: env };
  for (let i = 0; i < serverCount; i++) {
    const name = i === 0 ? 'server' : `server-${i + 1}`;
    scripts[name] = builds.server;
    envOf[name] = { ...env, PORT: String(ports[i]), METRICS_PORT: metricsPorts[i]! };
  }
  for (let i = 0; i < workerCount; i++) {
    const name = i === 0 ? 'workers' : `workers-${i + 1}`;
    scripts[name] = builds.workers;
    envOf[name] = { ...env, WORKERS_METRICS_PORT: workersMetricsPorts[i]! };
  }
  mkdirSync(LOG_DIR, { recursive: true });
  const files: WriteStream[] = [];
  const launch = (name: string) => {
    const script = scripts[name]!;
    const nodeArgs = (name.startsWith('server') ? opts.nodeArgs?.server : name.startsWith('workers') ? opts.nodeArgs?.workers : undefined) ?? [];
    const args = name.startsWith('server') ? [...SERVER_NODE_FLAGS, ...nodeArgs, script] : [...nodeArgs, script];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: envOf[name], stdio: ['ignore', 'pipe', 'pipe'] });
    const file = createWriteStream(join(LOG_DIR, `${process.pid}-${++launches}-${name}.log`));
    files.push(file);
    const capture = (d: Buffer) => {
      logs.push(`[${name}] ${d}`);
      file.write(d);
    };
    child.stdout!.on('data', capture);
    child.stderr!.on('data', capture);
    child.once('exit', () => file.end());
    procs.set(name, child);
  };
  for (const name of Object.keys(scripts)) launch(name);
  const baseUrls = ports.map((p) => `http://127.0.0.1:${p}`);
  const mailboxUrl = `http://127.0.0.1:${mailHttpPort}`;
  let front: RunningNginx | undefined;
  // a process that ends during the start (say, its metrics port was taken meanwhile) fails the
  // start at once, with its logs: the workers have no readiness endpoint of their own, and a
  // platform without them took signatures whose emails never came
  const died = () => [...procs].find(([, c]) => c.exitCode !== null || c.signalCode !== null)?.[0];
  try {
    for (const url of baseUrls) await waitFor(`${url}/readyz`, 60_000, logs, died);
    await waitFor(`${mailboxUrl}/api/messages`, 30_000, logs, died);
    // the workers listen on their metrics port only once they have started (workers/main.ts)
    for (const p of workersMetricsPorts) if (p !== '0') await waitFor(`http://127.0.0.1:${p}/metrics`, 60_000, logs, died);
    if (nginxOpts && frontPort) {
      front = await startNginx({
        nginx: process.env.NGINX_PATH || undefined,
        dir: join(ROOT, '.data', 'nginx', `${process.pid}-${launches}`),
        port: frontPort,
        site: {
          servers: ports.map((p) => `127.0.0.1:${p}`),
          realIpFrom: nginxOpts.realIpFrom,
          signRate: nginxOpts.signRate,
          signBurst: nginxOpts.signBurst,
          connsPerAddress: nginxOpts.connsPerAddress,
          missRate: nginxOpts.missRate,
          missBurst: nginxOpts.missBurst,
          // the tests read where an answer came from
          cacheStatusHeader: true,
        },
        workerProcesses: nginxOpts.workerProcesses,
        exitWithParent: true,
      });
      await waitFor(`${front.url}/readyz`, 15_000, logs);
    }
  } catch (err) {
    // a platform that did not come up leaves no process behind (a workers process left
    // running would take jobs and CPU from whatever runs next)
    for (const child of procs.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await front?.stop();
    throw err;
  }
  const baseUrl = front?.url ?? baseUrls[0]!;

  const stopOne = (child: ChildProcess, signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill(signal);
    });

  return {
    baseUrl,
    baseUrls,
    ...(front ? { nginx: { url: front.url, dir: front.dir } } : {}),
    mailboxUrl,
    metricsUrls: metricsPorts.map((p) => `http://127.0.0.1:${p}/metrics`),
    workersMetricsUrls: workersMetricsPorts.map((p) => `http://127.0.0.1:${p}/metrics`),
    env,
    logs,
    async stop() {
      await front?.stop();
      await Promise.all([...procs.values()].map((c) => stopOne(c, 'SIGTERM')));
      await Promise.all(files.map((f) => new Promise<void>((resolve) => (f.closed ? resolve() : f.end(() => resolve())))));
    },
    async kill(name, signal = 'SIGKILL') {
      await stopOne(procs.get(name)!, signal);
    },
    alive(name) {
      const c = procs.get(name);
      return Boolean(c && c.exitCode === null && c.signalCode === null);
    },
    pid(name) {
      if (name === 'nginx') return front?.pid;
      return procs.get(name)?.pid;
    },
    async restart(name) {
      await stopOne(procs.get(name)!, 'SIGTERM');
      launch(name);
    },
  };
}
