// Backups and the restore drill (server/bin/backup.mjs, server/bin/restore-drill.mjs), run as
// `npm run backup` and `npm run restore-drill` run them: as child processes, against a world
// filled through the running platform (signatures posted to the API, some confirmed through it,
// the count folded by the workers). Asserted: backups land atomically with mode 0600 and the
// retention keeps the newest BACKUP_KEEP; the drill restores the newest into a scratch database,
// finds it equal to the source at the dump and drops it; and it fails, with a message that says
// what is wrong, on a truncated dump, on a dump pg_restore cannot read, and on a restored
// database that differs from what was dumped.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const ROOT = join(import.meta.dirname, '../..');
const RUN = randomUUID().slice(0, 8);
const SIGNERS = 6;
const CONFIRMED = 4;

let platform: Platform;
let pool: pg.Pool;
let actionId = '';
let dir = '';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `node server/bin/<script>` with this world's database and the test's backup folder. */
function runScript(script: string, env: Record<string, string> = {}, args: string[] = []): Promise<Result> {
  const t = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'server', 'bin', script), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL!, BACKUP_DIR: dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t }));
  });
}

async function until<T>(what: string, fn: () => Promise<T | null | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not within ${timeoutMs} ms\n${platform.logs.slice(-15).join('')}`);
}

const backups = () => readdirSync(dir).filter((f) => f.endsWith('.dump')).sort();
const manifestOf = (dump: string) => join(dir, dump.replace(/\.dump$/, '.manifest.json'));
/** the scratch database a drill names in its report */
const scratchOf = (out: string) => /scratch database (chorus_restore_drill_\w+)/.exec(out)?.[1];
async function databaseExists(name: string) {
  return (await pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
}
async function drillDatabases() {
  return (await pool.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'chorus\\_restore\\_drill\\_%'`)).rows.map((r) => r.datname);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chorus-backups-'));
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  platform = await startPlatform();

  const { rows: c } = await pool.query<{ id: string }>(
    `INSERT INTO campaigns (slug) VALUES ('backup-tests') ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id`,
  );
  const { rows: a } = await pool.query<{ id: string }>(
    `INSERT INTO actions (campaign_id, slug, kind, status, delivery_policy, published_at)
     VALUES ($1, $2, 'PETITION', 'PUBLISHED', 'DAILY_DIGEST', now()) RETURNING id`,
    [c[0]!.id, `backup-${RUN}`],
  );
  actionId = a[0]!.id;
  await pool.query(
    `INSERT INTO action_texts (action_id, locale, title, summary, body, letter_subject, official_request)
     VALUES ($1, 'en', 'Backup test', 'Summary', 'Body', 'Backup letter', 'Please act.')`,
    [actionId],
  );
}, 120_000);

afterAll(async () => {
  if (actionId) await pool?.query(`UPDATE actions SET status = 'ARCHIVED', archived_at = now() WHERE id = $1`, [actionId]);
  await platform?.stop();
  await pool?.end();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('backups and the restore drill', () => {
  it('backs up a world filled through the app, keeps the newest BACKUP_KEEP, and the drill finds the restore equal to the source', async () => {
    const slug = `backup-${RUN}`;
    await until('the action on the server', async () => (await fetch(`${platform.baseUrl}/api/actions/${slug}`)).ok, 10_000);
    // signers through the API, some confirmed through it, as the confirmation page's button does
    const answers = await Promise.all(
      Array.from({ length: SIGNERS }, (_, i) =>
        fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ firstName: 'Backup', lastName: `Signer${i}`, email: `backup.${RUN}.${i}@example.org`, country: 'FR', consentCount: true }),
        }).then((r) => r.status),
      ),
    );
    expect(answers).toEqual(Array.from({ length: SIGNERS }, () => 202));
    const { rows: sigs } = await pool.query<{ id: string }>('SELECT id FROM signatures WHERE action_id = $1 ORDER BY id', [actionId]);
    expect(sigs).toHaveLength(SIGNERS);
    for (const s of sigs.slice(0, CONFIRMED)) {
      const token = confirmationToken({ secret: process.env.SECRET_KEY!, clock: () => new Date(), confirmLinkTtlHours: 1 }, s.id);
      const r = await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST' });
      expect(((await r.json()) as { status: string }).status).toBe('confirmed');
    }
    // the workers fold the confirmations into action_stats and send the confirmation emails
    await until(
      'the count folded',
      async () => (await pool.query(`SELECT 1 FROM action_stats WHERE action_id = $1 AND confirmed_count = $2`, [actionId, CONFIRMED])).rowCount === 1,
      30_000,
    );

    // three backups while the platform runs, keeping two
    const taken: Result[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runScript('backup.mjs', { BACKUP_KEEP: '2' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^backup written: .*chorus-\d{8}T\d{9}Z\.dump \(/);
      taken.push(r);
    }
    expect(taken[2]!.stdout).toMatch(/removed older backups: chorus-/);
    const kept = backups();
    expect(kept).toHaveLength(2);
    expect(readdirSync(dir).sort()).toEqual(kept.flatMap((d) => [d, d.replace(/\.dump$/, '.manifest.json')]).sort());
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);

    // the manifest holds what the dump holds: this action's public count, the signatures
    const newest = kept.at(-1)!;
    const manifest = JSON.parse(readFileSync(manifestOf(newest), 'utf8'));
    expect(manifest.publicCounts[actionId]).toBe(CONFIRMED);
    const { rows: n } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signatures');
    expect(manifest.tables['public.signatures']).toBe(n[0]!.n);
    expect(manifest.migrations.length).toBe(readdirSync(join(ROOT, 'prisma', 'migrations'), { withFileTypes: true }).filter((e) => e.isDirectory()).length);

    const drill = await runScript('restore-drill.mjs');
    expect(drill.code, `${drill.stdout}${drill.stderr}`).toBe(0);
    expect(drill.stdout).toContain(`backup     ${join(dir, newest)}`);
    expect(drill.stdout).toMatch(/restore drill passed/);
    expect(drill.stdout).toMatch(/timings {4}verify [\d.]+ s, create [\d.]+ s, restore [\d.]+ s, check [\d.]+ s, drop [\d.]+ s; total/);
    const scratch = scratchOf(drill.stdout);
    expect(scratch).toBeTruthy();
    expect(await databaseExists(scratch!)).toBe(false);
    console.log(`[backup] ${(manifest.bytes / 1024).toFixed(0)} kB, backup ${taken.map((t) => t.ms).join('/')} ms; drill:\n${drill.stdout}`);
  }, 150_000);

  it('fails, saying why, on a truncated dump, an unreadable one and a restore that differs from the source', async () => {
    const newest = backups().at(-1)!;
    const dump = join(dir, newest);
    const manifestFile = manifestOf(newest);
    const original = `${dump}.orig`;
    copyFileSync(dump, original);
    const manifestText = readFileSync(manifestFile, 'utf8');
    try {
      // truncated: caught by the size recorded when it was written, before any database is made
      truncateSync(dump, Math.floor(statSync(dump).size / 2));
      const truncated = await runScript('restore-drill.mjs');
      expect(truncated.code).toBe(1);
      expect(truncated.stderr).toMatch(new RegExp(`^restore drill FAILED: the dump is \\d+ bytes but was \\d+ when written: it is truncated or was changed since \\(${dump.replaceAll('.', '\\.')}\\)`));
      expect(await drillDatabases()).toEqual([]);

      // the same truncated file with a manifest that agrees with it: pg_restore itself refuses it,
      // and the scratch database is dropped all the same
      const bytes = readFileSync(dump);
      const m = JSON.parse(manifestText);
      writeFileSync(manifestFile, JSON.stringify({ ...m, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }));
      const unreadable = await runScript('restore-drill.mjs');
      expect(unreadable.code).toBe(1);
      expect(unreadable.stderr).toMatch(/^restore drill FAILED: pg_restore failed \(exit 1\): pg_restore: error: /);
      expect(await drillDatabases()).toEqual([]);

      // an intact dump whose restore does not match what was recorded at the dump
      copyFileSync(original, dump);
      writeFileSync(manifestFile, JSON.stringify({ ...m, tables: { ...m.tables, 'public.signatures': m.tables['public.signatures'] + 1 } }));
      const differs = await runScript('restore-drill.mjs');
      expect(differs.code).toBe(1);
      expect(differs.stderr).toContain('restore drill FAILED: 1 mismatch(es)');
      expect(differs.stderr).toContain(`table public.signatures: ${m.tables['public.signatures']} rows restored, ${m.tables['public.signatures'] + 1} in the source at the dump`);
      expect(await drillDatabases()).toEqual([]);

      // the same backup, put back as written, passes again
      writeFileSync(manifestFile, manifestText);
      expect((await runScript('restore-drill.mjs', {}, ['--file', dump])).code).toBe(0);
    } finally {
      copyFileSync(original, dump);
      rmSync(original, { force: true });
      writeFileSync(manifestFile, manifestText);
    }
  }, 120_000);

  it('bad settings and an empty folder get a one-line reason, not a stack', async () => {
    const keep = await runScript('backup.mjs', { BACKUP_KEEP: 'all' });
    expect(keep.code).toBe(1);
    expect(keep.stderr.trim()).toBe('backup failed: BACKUP_KEEP must be a whole number from 1 up (got "all")');
    const empty = mkdtempSync(join(tmpdir(), 'chorus-no-backups-'));
    try {
      const none = await runScript('restore-drill.mjs', { BACKUP_DIR: empty });
      expect(none.code).toBe(1);
      expect(none.stderr.trim()).toBe(`restore drill FAILED: no backup in ${empty} (run \`npm run backup\` first, or set BACKUP_DIR)`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const noDb = await runScript('backup.mjs', { DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/chorus_no_such_database' });
    expect(noDb.code).toBe(1);
    expect(noDb.stderr.trim()).toMatch(/^backup failed: cannot connect to PostgreSQL at 127\.0\.0\.1:5432 \(database chorus_no_such_database\): database "chorus_no_such_database" does not exist$/);
  }, 60_000);
});
