// Starts the real platform as separate processes (mailbox, server, workers) on free ports,
// against the test database and Redis that `npm test` prepared, and stops it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface Platform {
  baseUrl: string;
  mailboxUrl: string;
  env: Record<string, string>;
  logs: string[];
  stop(): Promise<void>;
  kill(name: 'server' | 'workers' | 'mailbox', signal?: NodeJS.Signals): Promise<void>;
  /** starts the process again (after kill), or stops it with SIGTERM and starts it again */
  restart(name: 'server' | 'workers' | 'mailbox'): Promise<void>;
  /** the process id, e.g. for reading its memory from /proc (the benchmark does) */
  pid(name: 'server' | 'workers' | 'mailbox'): number | undefined;
}

async function waitFor(url: string, timeoutMs: number, logs: string[]): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms. Logs:\n${logs.slice(-40).join('')}`);
}

export async function startPlatform(extraEnv: Record<string, string> = {}): Promise<Platform> {
  const [port, smtpPort, mailHttpPort] = [await freePort(), await freePort(), await freePort()];
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}?tls=off`,
    MAILBOX_SMTP_PORT: String(smtpPort),
    MAILBOX_HTTP_PORT: String(mailHttpPort),
    BATCH_INTERVAL_MS: '500',
    COUNT_INTERVAL_MS: '200',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const logs: string[] = [];
  const procs = new Map<string, ChildProcess>();
  const scripts = { mailbox: 'server/src/mailbox/mailbox.main.ts', server: 'server/src/http/server.ts', workers: 'workers/main.ts' };
  const launch = (name: string, script: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => logs.push(`[${name}] ${d}`));
    child.stderr!.on('data', (d) => logs.push(`[${name}] ${d}`));
    procs.set(name, child);
  };
  launch('mailbox', scripts.mailbox);
  launch('server', scripts.server);
  launch('workers', scripts.workers);
  const baseUrl = `http://127.0.0.1:${port}`;
  const mailboxUrl = `http://127.0.0.1:${mailHttpPort}`;
  await waitFor(`${baseUrl}/readyz`, 60_000, logs);
  await waitFor(`${mailboxUrl}/api/messages`, 30_000, logs);

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
    mailboxUrl,
    env,
    logs,
    async stop() {
      await Promise.all([...procs.values()].map((c) => stopOne(c, 'SIGTERM')));
    },
    async kill(name, signal = 'SIGKILL') {
      await stopOne(procs.get(name)!, signal);
    },
    pid(name) {
      return procs.get(name)?.pid;
    },
    async restart(name) {
      await stopOne(procs.get(name)!, 'SIGTERM');
      launch(name, scripts[name]);
    },
  };
}
