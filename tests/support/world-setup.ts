// Runs in each vitest worker before each test file: points DATABASE_URL and REDIS_URL at this
// worker's own world (tests/support/worlds.ts), so that everything the file starts (the
// in-process app, platforms' processes) uses it.
//
// In projects that set CHORUS_TEST_FRESH_WORLD=1 (platform, faults, privacy), the world is made
// afresh for each file: its database copied again from the template and its Redis database
// emptied. A platform's workers take every job queued in their Redis database and batch every
// action of their database, so what an earlier file left there (emails still queued, signatures
// still owed a letter) would otherwise be worked off by the next file's platform, delaying or
// mixing into what that file waits for. Before the world is wiped, what the privacy scan at the
// end of the suite (tests/privacy/) needs of it is kept in .data/test-logs/: every Redis key and
// value (world-<n>.redis.txt, scanned like the processes' logs) and the names of its signers
// (world-<n>.names.txt, looked for in everything the scan reads), opened from where they are
// stored sealed under each supporter's data key (server/src/privacy/personal-data.ts).
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { LOG_DIR } from './platform.ts';
import { signerNames } from './signer-names.ts';
import { templateUrls, world } from './worlds.ts';

if (!process.env.CHORUS_TEST_TEMPLATE_DATABASE_URL) {
  process.env.CHORUS_TEST_TEMPLATE_DATABASE_URL = process.env.DATABASE_URL;
  process.env.CHORUS_TEST_BASE_REDIS_URL = process.env.REDIS_URL;
}
// the world this process holds (kept on globalThis: a process of an unisolated project runs this
// file again before each test file, and must keep its world and its lock)
const held = globalThis as typeof globalThis & { chorusWorld?: { id: number; lock: pg.Client } };
if (!held.chorusWorld) held.chorusWorld = await takeWorld();
const w = world(held.chorusWorld.id);
process.env.DATABASE_URL = w.DATABASE_URL;
process.env.REDIS_URL = w.REDIS_URL;

/** The first free world of this project's range, held by an advisory lock until this process ends. */
async function takeWorld(): Promise<{ id: number; lock: pg.Client }> {
  const [first, last] = (process.env.CHORUS_TEST_WORLD_RANGE ?? '1-1').split('-').map(Number) as [number, number];
  const admin = new URL(templateUrls().DATABASE_URL);
  admin.pathname = '/postgres';
  const lock = new pg.Client({ connectionString: admin.toString() });
  await lock.connect();
  // the lock's connection must not keep the worker process alive once vitest is done with it
  (lock as unknown as { connection: { stream: { unref(): void } } }).connection.stream.unref();
  // advisory locks are server-wide: keyed by the template's name, so that runs with test
  // databases of their own (TEST_DATABASE_URL) on one PostgreSQL do not take each other's worlds
  const template = decodeURIComponent(new URL(templateUrls().DATABASE_URL).pathname.slice(1));
  for (let round = 0; round < 600; round++) {
    for (let id = first; id <= last; id++) {
      const { rows } = await lock.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext($2), $1) AS ok`, [id, `chorus-world:${template}`]);
      if (rows[0]!.ok) return { id, lock };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no free test world in ${first}-${last}`);
}

if (process.env.CHORUS_TEST_FRESH_WORLD === '1') await freshWorld();

async function freshWorld(): Promise<void> {
  const name = decodeURIComponent(new URL(w.DATABASE_URL).pathname.slice(1));
  const template = decodeURIComponent(new URL(templateUrls().DATABASE_URL).pathname.slice(1));
  const admin = new URL(w.DATABASE_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    mkdirSync(LOG_DIR, { recursive: true });
    const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
    if (exists.rowCount) {
      const db = new pg.Client({ connectionString: w.DATABASE_URL });
      await db.connect();
      try {
        const names = await signerNames(db);
        if (names.length) appendFileSync(join(LOG_DIR, `world-${w.id}.names.txt`), names.map((n) => `${n}\n`).join(''));
      } finally {
        await db.end();
      }
    }
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    // two workers copying the template at the same moment may be told it is in use: try again
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (err) {
        if (attempt >= 20 || !/being accessed by other users/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  } finally {
    await client.end();
  }
  const redis = new Redis(w.REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    const lines: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) lines.push(`${key} ${JSON.stringify(await redisValue(redis, key))}`);
    } while (cursor !== '0');
    if (lines.length) appendFileSync(join(LOG_DIR, `world-${w.id}.redis.txt`), `${lines.join('\n')}\n`);
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

/** A key's value, whatever its type, as the privacy scan reads it. */
export async function redisValue(redis: Redis, key: string): Promise<unknown> {
  const type = await redis.type(key);
  if (type === 'string') return redis.get(key);
  if (type === 'hash') return redis.hgetall(key);
  if (type === 'list') return redis.lrange(key, 0, -1);
  if (type === 'set') return redis.smembers(key);
  if (type === 'zset') return redis.zrange(key, 0, -1, 'WITHSCORES');
  if (type === 'stream') return redis.xrange(key, '-', '+');
  return null;
}
