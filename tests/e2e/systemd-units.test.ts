// The units of deploy/systemd, started: each unit's own ExecStart line and environment (its
// Environment= and EnvironmentFile= settings, with deploy/systemd/chorus.env.example filled in as
// docs/operations.md says) are read from the unit file and run. This machine has no systemd as
// its init, so `systemd-run` cannot start them; as root the test plays the unit's main
// restrictions instead (tests/support/systemd-unit.ts: a read-only file system but for the
// unit's ReadWritePaths, private /tmp, no /home, the user nobody, no capabilities,
// no_new_privs, the unit's umask and LimitNOFILE), and checks in /proc that the running process
// really has them. Asserted: migrations run (nothing pending: exit 0); a server answers /readyz
// on the instance's port and stops cleanly on SIGTERM; a workers process takes jobs, runs at
// WORKERS_NICE, and stops cleanly on SIGTERM; the backup unit writes its backup where the unit
// lets it, and the drill unit restores it.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProcesses } from '../../server/bin/build-processes.mjs';
import { generateDkimKey } from '../../server/bin/dkim-key.mjs';
import { QUEUE_NAMES } from '../../server/src/queue/queue.ts';
import { freePort, LOG_DIR } from '../support/platform.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { INSTALL_ROOT, readUnit, ROOT, runUnit, sandboxAvailable, stopRun, UNIT_DIR, type UnitRun } from '../support/systemd-unit.ts';

const sandbox = sandboxAvailable();
const runs: UnitRun[] = [];
let files: Record<string, string> = {};
let serverPort = 0;

/** chorus.env.example with this test's services and secrets in place of the placeholders */
function chorusEnv(values: Record<string, string>): string {
  let text = readFileSync(join(UNIT_DIR, 'chorus.env.example'), 'utf8').replaceAll(INSTALL_ROOT, ROOT);
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^#?${key}=.*$`, 'm');
    if (!line.test(text)) throw new Error(`chorus.env.example has no ${key}`);
    text = text.replace(line, () => `${key}=${value}`);
  }
  return text;
}

/** The run's output so far; also kept in LOG_DIR, where the privacy scan reads every process's log. */
function output(run: UnitRun, name: string): () => string {
  let out = '';
  mkdirSync(LOG_DIR, { recursive: true });
  const file = createWriteStream(join(LOG_DIR, `${process.pid}-unit-${name}.log`));
  const capture = (d: Buffer) => {
    out += d;
    file.write(d);
  };
  run.child.stdout!.on('data', capture);
  run.child.stderr!.on('data', capture);
  run.child.once('close', () => file.end());
  return () => out;
}

/** Polls `fn` until it answers; fails at once, with the output, if the unit's process ended. */
async function until<T>(what: string, run: UnitRun, fn: () => Promise<T | null | false>, timeoutMs: number, log: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) {
      throw new Error(`the process ended (${run.child.exitCode ?? run.child.signalCode}) before ${what}; output:\n${log().slice(-3000)}`);
    }
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not within ${timeoutMs} ms; output:\n${log().slice(-3000)}`);
}

/** `node server/bin/<script>` with the test's environment and `env`. */
function runScript(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'server', 'bin', script)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The lines of /proc/<pid>/status and limits that the unit's settings determine. */
function processFacts(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return {
    uid: field('Uid').split(/\s+/)[0],
    noNewPrivs: field('NoNewPrivs'),
    capBnd: field('CapBnd'),
    capEff: field('CapEff'),
    umask: field('Umask'),
    nofile: /Max open files\s+(\d+)/.exec(limits)?.[1],
    rootReadOnly: rootMount?.split(' ')[5]?.split(',').includes('ro') ?? false,
    // field 19 of /proc/<pid>/stat, counted after the command's closing parenthesis
    nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]),
  };
}

function expectSandboxed(run: UnitRun) {
  if (!sandbox.ok) return;
  const pid = run.child.pid!;
  const f = processFacts(pid);
  expect(f).toMatchObject({ uid: '65534', noNewPrivs: '1', capBnd: '0000000000000000', capEff: '0000000000000000', umask: '0077', nofile: String(run.nofile), rootReadOnly: true });
  // the process's own view of the file system (/proc/<pid>/root): the checkout cannot be
  // written, even by root; /var/lib/chorus (StateDirectory) is its user's and can
  const view = `/proc/${pid}/root`;
  expect(() => writeFileSync(`${view}${ROOT}/.unit-probe`, 'x'), 'the checkout is writable').toThrow(/EROFS/);
  const state = statSync(`${view}/var/lib/chorus`);
  expect([state.uid, state.mode & 0o777]).toEqual([65534, 0o700]);
  writeFileSync(`${view}/var/lib/chorus/.unit-probe`, 'x');
  rmSync(`${view}/var/lib/chorus/.unit-probe`);
}

beforeAll(async () => {
  console.log(sandbox.ok ? '[systemd units] run in the sandbox (read-only root, nobody, no capabilities)' : `[systemd units] run as plain child processes: ${sandbox.why}`);
  await buildProcesses();
  serverPort = await freePort();
  const pem = generateDkimKey();
  files = {
    '/etc/chorus/chorus.env': chorusEnv({
      DATABASE_URL: process.env.DATABASE_URL!,
      REDIS_URL: process.env.REDIS_URL!,
      PUBLIC_BASE_URL: `http://127.0.0.1:${serverPort}`,
      // nothing is sent in this test: a port nobody listens on
      SMTP_URL: `smtp://127.0.0.1:${await freePort()}?tls=off`,
      SECRET_KEY: process.env.SECRET_KEY!,
      DATA_KEY: process.env.DATA_KEY!,
      // the one-line form docs/operations.md writes from a .pem file
      DKIM_PRIVATE_KEY: `'${pem.trimEnd().split('\n').join('\\n')}\\n'`,
      BOUNCE_SMTP_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      DATABASE_POOL_MAX: '4',
    }),
    // the instance's own file: its metrics port (read by the metrics code where it exists)
    [`/etc/chorus/server-${serverPort}.env`]: `METRICS_PORT=${await freePort()}\n`,
    // workers 1's own file: its "workers started" line, which the SIGTERM test waits for, and a
    // metrics port of its own (the default, 9465, may be an `npm start`'s on the same machine)
    '/etc/chorus/workers-1.env': `LOG_LEVEL=info\nWORKERS_METRICS_PORT=${await freePort()}\n`,
  };
});

afterAll(async () => {
  await Promise.all(runs.map((r) => stopRun(r, 5_000)));
});

describe('the systemd units, started from their own ExecStart and environment', () => {
  it('chorus-migrate.service applies the migrations (none pending: exit 0)', async () => {
    const run = runUnit(readUnit('chorus-migrate.service'), { instance: '', files, sandbox: sandbox.ok });
    runs.push(run);
    const log = output(run, 'migrate');
    const code = await new Promise<number | null>((resolve) => run.child.once('exit', (c) => resolve(c)));
    expect(code, log()).toBe(0);
    expect(log()).toMatch(/No pending migrations to apply|successfully applied/);
    // its ExecStartPre ran first and found PostgreSQL at once (it says nothing then)
    expect(log()).not.toMatch(/wait for PostgreSQL failed/);
  }, 120_000);

  it('before the migrations, wait-for-postgres waits for PostgreSQL to come, and gives up with the reason when it does not', async () => {
    const pg = new URL(process.env.DATABASE_URL!);
    const proxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    try {
      // PostgreSQL away when the wait starts (the proxy refuses connections), back 2 s later
      await proxy.cut();
      const waiting = runScript('wait-for-postgres.mjs', { DATABASE_URL: proxy.via(process.env.DATABASE_URL!), WAIT_FOR_POSTGRES_SECONDS: '30' });
      await new Promise((r) => setTimeout(r, 2000));
      await proxy.restore();
      const ok = await waiting;
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^PostgreSQL at 127\.0\.0\.1:\d+ \(database \w+\) answers \(after \d+ attempts\)/);

      // away for good: the reason, after the time allowed, not a hang or a stack
      await proxy.cut();
      const t = Date.now();
      const gone = await runScript('wait-for-postgres.mjs', { DATABASE_URL: proxy.via(process.env.DATABASE_URL!), WAIT_FOR_POSTGRES_SECONDS: '2' });
      expect(gone.code).toBe(1);
      expect(Date.now() - t).toBeLessThan(10_000);
      expect(gone.stderr.trim()).toMatch(/^wait for PostgreSQL failed: PostgreSQL at 127\.0\.0\.1:\d+ \(database \w+\) did not answer within 2 s: connect ECONNREFUSED/);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('chorus-server@<port> answers /readyz on the instance port, sandboxed, and stops cleanly on SIGTERM', async () => {
    const run = runUnit(readUnit('chorus-server@.service'), { instance: String(serverPort), files, sandbox: sandbox.ok, extraEnv: { CHORUS_EXIT_WITH_PARENT: '1' } });
    runs.push(run);
    const log = output(run, `server-${serverPort}`);
    expect(run.env.PORT).toBe(String(serverPort));
    expect(run.env.HOST).toBe('127.0.0.1');
    const base = `http://127.0.0.1:${serverPort}`;
    await until('/readyz 200', run, async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200, 60_000, log);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // a real answer from the database through the API
    expect((await fetch(`${base}/api/actions`)).status).toBe(200);
    expectSandboxed(run);
    const end = await stopRun(run, 20_000);
    expect(end, log()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('MemoryDenyWriteExecute, which the units leave out, stops Node (the reason their comments give)', (ctx) => {
    // the kernel's own form of the setting (prctl PR_SET_MDWE, Linux 6.3+; systemd uses it where
    // the kernel has it), set by python3 for itself and kept across its exec of Node
    const mdwe = `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(77)
os.execv(sys.argv[1], sys.argv[1:])`;
    const node = (args: string[]) => spawnSync('python3', ['-c', mdwe, '/usr/bin/node', ...args], { encoding: 'utf8' });
    const probe = node(['-e', '0']);
    if (probe.error || probe.status === 77) ctx.skip(`no python3, or a kernel without PR_SET_MDWE: ${probe.error?.message ?? 'prctl refused'}`);
    // code hot enough for V8 to compile it to machine code
    const jit = node(['-e', 'let s = 0; for (let i = 0; i < 1e7; i++) s += i; console.log(s)']);
    expect(jit.status).not.toBe(0);
    expect(jit.stderr).toMatch(/SetPermissions/);
    // the same without the JIT runs, but V8 then turns WebAssembly off (Prisma's query compiler needs it)
    const jitless = node(['--jitless', '-e', 'console.log(typeof WebAssembly)']);
    expect([jitless.status, jitless.stdout.trim()]).toEqual([0, 'undefined']);
  });

  it('chorus-workers@1 takes jobs at WORKERS_NICE, sandboxed, and stops cleanly on SIGTERM', async () => {
    const q = new Queue(QUEUE_NAMES.delivery, { connection: { url: process.env.REDIS_URL! } });
    try {
      const before = await q.getWorkersCount();
      const run = runUnit(readUnit('chorus-workers@.service'), { instance: '1', files, sandbox: sandbox.ok, extraEnv: { CHORUS_EXIT_WITH_PARENT: '1' } });
      runs.push(run);
      const log = output(run, 'workers-1');
      await until('the workers on the delivery queue', run, async () => (await q.getWorkersCount()) > before, 60_000, log);
      // the unit's own process, once its shell has handed over to Node (another workers process
      // joining the queue meanwhile could end the wait above first)
      await until('the unit\'s workers process running', run, async () => readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').includes('workers/main.mjs'), 60_000, log);
      expectSandboxed(run);
      // WORKERS_NICE's default (10): setpriority is allowed by the unit and needs no capability.
      // The process lowers its own priority once it has loaded (workers/main.ts), a moment after
      // its exec: waited for, and the wait fails if it never does
      await until('the workers process at nice 10', run, async () => processFacts(run.child.pid!).nice === 10, 30_000, log);
      expect(processFacts(run.child.pid!).nice).toBe(10);
      // stopped only once it has started and drains on SIGTERM: it says "workers started" just
      // after installing its handler (workers/main.ts). Before, Node's own SIGTERM handler, which
      // every Node process has from its first instant (so /proc's SigCgt tells nothing), ends it
      await until('the workers started', run, async () => /"msg":"workers started"/.test(log()), 60_000, log);
      const end = await stopRun(run, 60_000);
      expect(end, log()).toEqual({ code: 0, signal: null });
    } finally {
      await q.close();
    }
  }, 150_000);
  it('chorus-backup.service writes a backup into /var/backups/chorus, and chorus-restore-drill.service passes on it', async () => {
    // the machine's /var/backups/chorus, played by a folder of the unit's user
    const backups = mkdtempSync(join(tmpdir(), 'chorus-unit-backups-'));
    try {
      if (sandbox.ok) chownSync(backups, 65534, 65534);
      const paths = { '/var/backups/chorus': backups };
      const backup = runUnit(readUnit('chorus-backup.service'), { instance: '', files, sandbox: sandbox.ok, paths, extraEnv: sandbox.ok ? {} : { BACKUP_DIR: backups } });
      runs.push(backup);
      const backupLog = output(backup, 'backup');
      const backupCode = await new Promise<number | null>((resolve) => backup.child.once('exit', (c) => resolve(c)));
      expect(backupCode, backupLog()).toBe(0);
      expect(backupLog()).toMatch(sandbox.ok ? /^backup written: \/var\/backups\/chorus\/chorus-\d{8}T\d{9}Z\.dump/ : /^backup written: /);
      const written = readdirSync(backups).sort();
      expect(written).toHaveLength(2);
      for (const f of written) {
        const st = statSync(join(backups, f));
        expect([st.mode & 0o777, sandbox.ok ? st.uid : 65534], f).toEqual([0o600, 65534]);
      }

      const drill = runUnit(readUnit('chorus-restore-drill.service'), { instance: '', files, sandbox: sandbox.ok, paths, extraEnv: sandbox.ok ? {} : { BACKUP_DIR: backups } });
      runs.push(drill);
      const drillLog = output(drill, 'restore-drill');
      const drillCode = await new Promise<number | null>((resolve) => drill.child.once('exit', (c) => resolve(c)));
      expect(drillCode, drillLog()).toBe(0);
      expect(drillLog()).toMatch(/restore drill passed/);
    } finally {
      rmSync(backups, { recursive: true, force: true });
    }
  }, 120_000);
});
