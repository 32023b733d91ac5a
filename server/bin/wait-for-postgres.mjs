#!/usr/bin/env node
// Waits until PostgreSQL at DATABASE_URL accepts a connection and answers a query, for up to
// WAIT_FOR_POSTGRES_SECONDS (default 120); exits 0 then, or 1 with the last error. Run before the
// migrations at boot (deploy/systemd/chorus-migrate.service, ExecStartPre=): on Debian,
// postgresql.service is active before its cluster accepts connections, and a migration that
// failed for that alone would keep every server and workers unit from starting.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export async function waitForPostgres(env = process.env) {
  const url = env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/chorus';
  const text = env.WAIT_FOR_POSTGRES_SECONDS || '120';
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 1) throw new Error(`WAIT_FOR_POSTGRES_SECONDS must be a whole number of seconds from 1 up (got "${text}")`);
  let target = 'DATABASE_URL';
  try {
    const u = new URL(url);
    target = `${u.host} (database ${decodeURIComponent(u.pathname.slice(1))})`;
  } catch {
    throw new Error('DATABASE_URL is not a URL (postgresql://user:password@host:5432/database)');
  }
  const { default: pg } = await import('pg');
  const until = Date.now() + seconds * 1000;
  let last = '';
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: 'chorus-wait' });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { attempts: attempt, target };
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    } finally {
      await client.end().catch(() => {});
    }
    if (Date.now() >= until) throw new Error(`PostgreSQL at ${target} did not answer within ${seconds} s: ${last}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const r = await waitForPostgres();
    if (r.attempts > 1) console.log(`PostgreSQL at ${r.target} answers (after ${r.attempts} attempts)`);
  } catch (err) {
    console.error(`wait for PostgreSQL failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
