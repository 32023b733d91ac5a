#!/usr/bin/env node
// `npm run restore-drill`: proves the newest backup restores. It
//   1. checks the dump against its manifest (size and SHA-256: a truncated or altered file is
//      named as such before anything else runs);
//   2. restores it into a scratch database created for the drill (on the PostgreSQL server of
//      DATABASE_URL, or of RESTORE_DRILL_DATABASE_URL when set), with pg_restore --exit-on-error;
//   3. compares the restored database with the manifest, which backup.mjs read in the dump's own
//      snapshot: the same tables with the same row counts, every migration applied
//      (`_prisma_migrations`: all finished, none rolled back, the same list), and the public
//      count of every action (the query the server serves its counts from) equal;
//   4. drops the scratch database, whatever happened, and prints a short report with timings.
// Exits 0 when everything matched, 1 on any mismatch or failure (with the reason), so a timer or
// a monitoring check can run it.
//
//   BACKUP_DIR    where the backups are (as for `npm run backup`)
//   --file <dump> drill this dump instead of the newest (its manifest must sit beside it)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackupError, backupSettings, databaseFacts, libpqTarget, listBackups, runTool, sha256File } from './backup.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/chorus';

class DrillFailure extends Error {}

/** The backup to drill: --file, or the newest finished one in BACKUP_DIR. */
function chooseBackup(argv, env) {
  const i = argv.indexOf('--file');
  const given = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--file='))?.slice('--file='.length);
  if (i >= 0 && !given) throw new DrillFailure('--file needs the path of a .dump file');
  if (given) {
    const dump = resolve(given);
    if (!existsSync(dump)) throw new DrillFailure(`${dump} does not exist`);
    if (!dump.endsWith('.dump')) throw new DrillFailure(`${dump} is not a backup (.dump) file`);
    return { dump, manifest: dump.replace(/\.dump$/, '.manifest.json'), name: basename(dump, '.dump') };
  }
  const { dir } = backupSettings(env);
  const { complete, incomplete } = listBackups(dir);
  if (complete.length === 0) {
    throw new DrillFailure(
      incomplete.length
        ? `no finished backup in ${dir}: ${incomplete.length} dump(s) without a manifest (a backup that did not finish)`
        : `no backup in ${dir} (run \`npm run backup\` first, or set BACKUP_DIR)`,
    );
  }
  return complete.at(-1);
}

function readManifest(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new DrillFailure(`the manifest ${file} is missing: this backup cannot be checked`);
  }
  let m;
  try {
    m = JSON.parse(text);
  } catch {
    throw new DrillFailure(`the manifest ${file} is not valid JSON (damaged)`);
  }
  if (m?.format !== 1 || typeof m.sha256 !== 'string' || typeof m.bytes !== 'number' || typeof m.tables !== 'object' || m.tables === null) {
    throw new DrillFailure(`the manifest ${file} is not one that backup.mjs writes (format 1)`);
  }
  return m;
}

/** The migration folders of this checkout, for a note when the backup lacks some. */
function checkoutMigrations() {
  const dir = join(ROOT, 'prisma', 'migrations');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

function compare(manifest, restored) {
  const problems = [];
  const want = manifest.tables;
  const got = restored.tables;
  for (const t of Object.keys(want)) {
    if (!(t in got)) problems.push(`table ${t} is missing from the restored database (${want[t]} rows in the source)`);
    else if (got[t] !== want[t]) problems.push(`table ${t}: ${got[t]} rows restored, ${want[t]} in the source at the dump`);
  }
  for (const t of Object.keys(got)) if (!(t in want)) problems.push(`table ${t} is in the restored database but not in the source`);

  if (manifest.migrations) {
    if (!restored.migrations) problems.push('_prisma_migrations is missing from the restored database');
    else {
      const bad = restored.migrations.filter((m) => !m.finished || m.rolled_back);
      for (const m of bad) problems.push(`migration ${m.name} is ${m.rolled_back ? 'rolled back' : 'unfinished'} in the restored database`);
      const names = (list) => list.map((m) => m.name).join('\n');
      if (names(restored.migrations) !== names(manifest.migrations)) problems.push('the restored migrations differ from the source\'s');
    }
  }

  const wantCounts = manifest.publicCounts ?? {};
  const gotCounts = restored.publicCounts;
  for (const id of new Set([...Object.keys(wantCounts), ...Object.keys(gotCounts)])) {
    if (wantCounts[id] !== gotCounts[id]) problems.push(`public count of action ${id}: ${gotCounts[id] ?? 'none'} restored, ${wantCounts[id] ?? 'none'} in the source`);
  }
  return problems;
}

const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;

export async function drill(argv = process.argv.slice(2), env = process.env) {
  const started = Date.now();
  const timings = [];
  const timed = async (name, fn) => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timings.push([name, Date.now() - t]);
    }
  };
  const lines = [];
  const chosen = chooseBackup(argv, env);
  lines.push(`backup     ${chosen.dump}`);
  const manifest = readManifest(chosen.manifest);
  lines.push(`taken      ${manifest.startedAt} of database ${manifest.database} (PostgreSQL ${manifest.serverVersion})`);

  await timed('verify', async () => {
    const size = statSync(chosen.dump).size;
    if (size !== manifest.bytes) {
      throw new DrillFailure(`the dump is ${size} bytes but was ${manifest.bytes} when written: it is truncated or was changed since (${chosen.dump})`);
    }
    const sum = await sha256File(chosen.dump);
    if (sum !== manifest.sha256) throw new DrillFailure(`the dump's SHA-256 differs from the one recorded when it was written: it is damaged (${chosen.dump})`);
  });

  const sourceUrl = env.RESTORE_DRILL_DATABASE_URL || env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const server = libpqTarget(sourceUrl);
  const scratchName = `chorus_restore_drill_${new Date().toISOString().replaceAll(/\D/g, '').slice(0, 14)}_${process.pid}`;
  const scratchUrl = new URL(server.url);
  scratchUrl.pathname = `/${scratchName}`;

  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: withDatabase(sourceUrl, 'postgres'), connectionTimeoutMillis: 10_000, application_name: 'chorus-restore-drill' });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    throw new DrillFailure(`cannot connect to PostgreSQL at ${server.host} to create the scratch database: ${err.message}`);
  }
  let problems;
  let restored;
  try {
    await timed('create', () => admin.query(`CREATE DATABASE "${scratchName}"`));
    try {
      await timed('restore', async () => {
        // --no-owner/--no-privileges: the scratch copy belongs to whoever runs the drill, so it
        // restores on any server whatever roles owned the source
        const r = await runTool('pg_restore', ['--exit-on-error', '--no-owner', '--no-privileges', '--no-password', `--dbname=${scratchUrl}`, chosen.dump], { env: server.env });
        if (r.status !== 0) throw new DrillFailure(`pg_restore failed (exit ${r.status}): ${r.stderr.split('\n').slice(0, 5).join(' | ') || 'no message'}`);
      });
      restored = await timed('check', async () => {
        const c = new pg.Client({ connectionString: withDatabase(sourceUrl, scratchName), application_name: 'chorus-restore-drill' });
        c.on('error', () => {});
        await c.connect();
        try {
          return await databaseFacts(c);
        } finally {
          await c.end().catch(() => {});
        }
      });
      problems = compare(manifest, restored);
    } finally {
      await timed('drop', () => admin.query(`DROP DATABASE IF EXISTS "${scratchName}" WITH (FORCE)`));
    }
  } finally {
    await admin.end().catch(() => {});
  }

  const rows = Object.values(restored.tables).reduce((a, b) => a + b, 0);
  lines.push(`restored   ${Object.keys(restored.tables).length} tables, ${rows} rows, into scratch database ${scratchName} (dropped)`);
  const applied = restored.migrations?.length ?? 0;
  const missing = checkoutMigrations().filter((m) => !restored.migrations?.some((r) => r.name === m));
  const unfinished = restored.migrations?.filter((m) => !m.finished || m.rolled_back).length ?? 0;
  lines.push(`migrations ${applied} recorded, ${unfinished ? `${unfinished} unfinished or rolled back` : 'all finished'}${missing.length ? `; this checkout has ${missing.length} more, which \`prisma migrate deploy\` would apply: ${missing.join(', ')}` : ''}`);
  lines.push(`counts     ${Object.keys(restored.publicCounts).length} actions' public counts compared`);
  lines.push(`timings    ${timings.map(([n, ms]) => `${n} ${secs(ms)}`).join(', ')}; total ${secs(Date.now() - started)}`);
  return { ok: problems.length === 0, problems, lines, restored };
}

/** `url` with its database replaced (keeps the password, which libpqTarget moved aside). */
function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function main() {
  try {
    const r = await drill();
    for (const l of r.lines) console.log(l);
    if (r.ok) {
      console.log('restore drill passed: the restored database matches the source at the dump');
    } else {
      console.error(`restore drill FAILED: ${r.problems.length} mismatch(es)`);
      for (const p of r.problems) console.error(`  - ${p}`);
      process.exit(1);
    }
  } catch (err) {
    const known = err instanceof DrillFailure || err instanceof BackupError;
    console.error(`restore drill FAILED: ${known ? err.message : (err?.stack ?? String(err))}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
