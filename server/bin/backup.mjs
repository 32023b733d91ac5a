#!/usr/bin/env node
// `npm run backup`: a custom-format dump (pg_dump -Fc) of DATABASE_URL into BACKUP_DIR, with a
// manifest beside it, keeping the newest BACKUP_KEEP backups. Plain Node and `pg` (no other
// dependency), so it runs from a systemd timer (deploy/systemd/chorus-backup.service) as well as
// by hand.
//
//   BACKUP_DIR   where backups go (default .data/backups, relative to the working directory)
//   BACKUP_KEEP  how many backups to keep, newest first (default 14; at least 1)
//
// Each backup is two files, named by the time it started (UTC, to the millisecond, so they sort):
//   chorus-20261206T021500123Z.dump            the dump, mode 0600 (it holds every signer's data)
//   chorus-20261206T021500123Z.manifest.json   what the restore drill checks the dump against:
//       its size and SHA-256, the row count of every table, the applied migrations and the
//       public count of every action, all read in the very snapshot pg_dump dumps (the snapshot
//       is exported by this process's transaction and handed to pg_dump with --snapshot), so they
//       are exactly what the dump holds even while the platform keeps writing.
// Both are written under a temporary name and renamed into place once complete and synced, the
// dump first: a dump without its manifest is not a finished backup (the drill skips it, and
// retention removes it with the older ones).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BACKUP_PREFIX = 'chorus-';
const DUMP_SUFFIX = '.dump';
const MANIFEST_SUFFIX = '.manifest.json';
const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/chorus';

export class BackupError extends Error {}

/** The backup directory and retention from the environment, checked. */
export function backupSettings(env = process.env) {
  const dir = resolve(env.BACKUP_DIR || join('.data', 'backups'));
  const keepText = env.BACKUP_KEEP || '14';
  const keep = Number(keepText);
  if (!/^\d+$/.test(keepText) || keep < 1 || keep > 100_000) throw new BackupError(`BACKUP_KEEP must be a whole number from 1 up (got "${keepText}")`);
  return { dir, keep };
}

/**
 * How to reach the database with libpq's tools: the URL without its password (which goes in
 * PGPASSWORD, so it is not in the process list) and without the query parameters only Prisma
 * understands (libpq refuses unknown ones).
 */
export function libpqTarget(databaseUrl) {
  let url;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new BackupError('DATABASE_URL is not a URL (postgresql://user:password@host:5432/database)');
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') throw new BackupError('DATABASE_URL must start with postgresql://');
  const database = decodeURIComponent(url.pathname.slice(1));
  if (!database) throw new BackupError('DATABASE_URL names no database');
  const env = {};
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  url.password = '';
  for (const p of ['schema', 'connection_limit', 'pool_timeout', 'pgbouncer', 'socket_timeout', 'statement_cache_size']) url.searchParams.delete(p);
  return { url: url.toString(), env, database, host: url.host };
}

/** Runs a program to completion; answers its exit status and what it wrote to stderr. */
export function runTool(cmd, args, opts = {}) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => {
      const missing = err.code === 'ENOENT';
      done({ status: 127, stderr: missing ? `${cmd} not found: install PostgreSQL's client tools (apt-get install -y postgresql-client)` : err.message });
    });
    child.on('close', (code, signal) => done({ status: code ?? 128, stderr: stderr.trim() || (signal ? `killed by ${signal}` : '') }));
  });
}

export async function sha256File(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

const quoteIdent = (s) => `"${String(s).replaceAll('"', '""')}"`;

/**
 * What the restore drill compares: every table's row count, the applied migrations and the
 * public count of every action (the sum the server serves: action_stats plus confirmations the
 * counter has not folded yet, as loadCounts in server/src/action/action.repository.ts reads it).
 * Read with `client`, in whatever snapshot its transaction holds.
 */
export async function databaseFacts(client) {
  const { rows: tables } = await client.query(
    `SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
  );
  const counts = {};
  for (const t of tables) {
    const { rows } = await client.query(`SELECT count(*)::bigint AS n FROM ${quoteIdent(t.schemaname)}.${quoteIdent(t.tablename)}`);
    counts[`${t.schemaname}.${t.tablename}`] = Number(rows[0].n);
  }
  const migrations = counts['public._prisma_migrations'] === undefined
    ? null
    : (await client.query(`SELECT migration_name AS name, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back FROM _prisma_migrations ORDER BY migration_name`)).rows;
  const publicCounts = {};
  if (counts['public.action_stats'] !== undefined && counts['public.signatures'] !== undefined) {
    const { rows } = await client.query(publicCountsSql);
    for (const r of rows) publicCounts[r.action_id] = r.count;
  }
  return { tables: counts, migrations, publicCounts };
}

export const publicCountsSql = `
  WITH tail AS (
    SELECT action_id, count(*)::integer AS n FROM signatures
    WHERE status = 'CONFIRMED' AND counted_at IS NULL GROUP BY action_id
  )
  SELECT action_id::text, sum(n)::integer AS count FROM (
    SELECT action_id, confirmed_count AS n FROM action_stats
    UNION ALL SELECT action_id, n FROM tail
  ) a GROUP BY action_id ORDER BY action_id`;

/** Finished backups in `dir` (a dump with its manifest), oldest first. */
export function listBackups(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (err.code === 'ENOENT') return { complete: [], incomplete: [] };
    throw err;
  }
  const dumps = names.filter((n) => n.startsWith(BACKUP_PREFIX) && n.endsWith(DUMP_SUFFIX)).sort();
  const complete = [];
  const incomplete = [];
  for (const n of dumps) {
    const base = n.slice(0, -DUMP_SUFFIX.length);
    const entry = { name: base, dump: join(dir, n), manifest: join(dir, base + MANIFEST_SUFFIX) };
    (names.includes(base + MANIFEST_SUFFIX) ? complete : incomplete).push(entry);
  }
  return { complete, incomplete };
}

function writeAtomically(file, data, mode) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode, flag: 'wx' });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
}

function syncDir(dir) {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Takes one backup; answers { dump, manifest, bytes, ms, removed }. */
export async function backup(env = process.env) {
  const started = Date.now();
  const { dir, keep } = backupSettings(env);
  const target = libpqTarget(env.DATABASE_URL || DEFAULT_DATABASE_URL);
  // 0700: the dumps hold every signer's name and address
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const stamp = new Date(started).toISOString().replaceAll(/[-:]/g, '').replace('.', '');
  const base = `${BACKUP_PREFIX}${stamp}`;
  const dumpFile = join(dir, base + DUMP_SUFFIX);
  const manifestFile = join(dir, base + MANIFEST_SUFFIX);
  const tmp = `${dumpFile}.tmp-${process.pid}`;

  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: env.DATABASE_URL || DEFAULT_DATABASE_URL, connectionTimeoutMillis: 10_000, application_name: 'chorus-backup' });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new BackupError(`cannot connect to PostgreSQL at ${target.host} (database ${target.database}): ${err.message}`);
  }
  let facts;
  let serverVersion;
  try {
    // one snapshot for the facts and the dump: pg_dump attaches to the snapshot this
    // transaction exports, which stays valid for as long as the transaction is open
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query('SELECT pg_export_snapshot() AS snapshot, current_setting(\'server_version\') AS version');
    serverVersion = rows[0].version;
    facts = await databaseFacts(client);
    // opened by us with 0600 (pg_dump's -f would follow the umask), written by pg_dump
    const fd = openSync(tmp, 'wx', 0o600);
    let result;
    try {
      result = await runTool('pg_dump', ['--format=custom', `--snapshot=${rows[0].snapshot}`, '--no-password', `--dbname=${target.url}`], { env: target.env, stdout: fd });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (result.status !== 0) {
      rmSync(tmp, { force: true });
      throw new BackupError(`pg_dump failed (exit ${result.status}): ${result.stderr || 'no message'}`);
    }
    await client.query('COMMIT');
  } finally {
    await client.end().catch(() => {});
  }

  const bytes = statSync(tmp).size;
  const sha256 = await sha256File(tmp);
  renameSync(tmp, dumpFile);
  const pgDump = await versionOf('pg_dump');
  const manifest = {
    format: 1,
    dump: base + DUMP_SUFFIX,
    bytes,
    sha256,
    startedAt: new Date(started).toISOString(),
    database: target.database,
    serverVersion,
    pgDump,
    ...facts,
  };
  writeAtomically(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
  syncDir(dir);

  // retention: the newest `keep` finished backups stay; older ones go, and so do unfinished
  // ones (a dump whose manifest was never written) older than the newest finished one
  const removed = [];
  const { complete, incomplete } = listBackups(dir);
  const newest = complete.at(-1)?.name ?? '';
  for (const b of [...complete.slice(0, Math.max(0, complete.length - keep)), ...incomplete.filter((b) => b.name < newest)]) {
    rmSync(b.dump, { force: true });
    rmSync(b.manifest, { force: true });
    removed.push(b.name);
  }
  // temporary files of runs that died more than a day ago
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (n.startsWith(BACKUP_PREFIX) && n.includes('.tmp-') && statSync(p).mtimeMs < Date.now() - 86_400_000) rmSync(p, { force: true });
  }
  return { dump: dumpFile, manifest: manifestFile, bytes, ms: Date.now() - started, removed, tables: Object.keys(facts.tables).length };
}

async function versionOf(cmd) {
  return new Promise((done) => {
    const child = spawn(cmd, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', () => done(null));
    child.on('close', () => done(out.trim() || null));
  });
}

async function main() {
  try {
    const r = await backup();
    const mb = (r.bytes / 1_048_576).toFixed(2);
    console.log(`backup written: ${r.dump} (${mb} MB, ${r.tables} tables, ${(r.ms / 1000).toFixed(1)} s)`);
    if (r.removed.length) console.log(`removed older backups: ${r.removed.join(', ')}`);
  } catch (err) {
    console.error(`backup failed: ${err instanceof BackupError ? err.message : (err?.stack ?? String(err))}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
