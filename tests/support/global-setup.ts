// Once per vitest run, before any worker starts:
// - empty the folder where platform processes' logs are kept, so the privacy scan at the end
//   (tests/privacy/) reads this run's logs only;
// - give each worker its world (tests/support/worlds.ts): a fresh copy of the migrated test
//   database (CREATE DATABASE ... TEMPLATE, a file copy: far quicker than migrating again) and
//   an emptied Redis database.
import { rmSync, mkdirSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import { LOG_DIR } from './platform.ts';
import { allWorlds, DEFAULT_TEST_DATABASE_URL, DEFAULT_TEST_REDIS_URL } from './worlds.ts';

export default async function setup(): Promise<void> {
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });

  const env = {
    DATABASE_URL: process.env.DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL ?? DEFAULT_TEST_REDIS_URL,
  };
  const template = new URL(env.DATABASE_URL);
  const templateName = decodeURIComponent(template.pathname.slice(1));
  const admin = new URL(env.DATABASE_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    for (const w of allWorlds(env)) {
      const name = decodeURIComponent(new URL(w.DATABASE_URL).pathname.slice(1));
      // a world left by an interrupted run may still have connections: FORCE ends them
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${name}" TEMPLATE "${templateName}"`);
      const redis = new Redis(w.REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
      await redis.connect();
      await redis.flushdb();
      redis.disconnect();
    }
  } finally {
    await client.end();
  }
}
