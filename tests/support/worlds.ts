// The suite runs its files in parallel, several vitest workers at once. Each worker has a world
// of its own: a PostgreSQL database copied from the migrated test database (the template) and a
// Redis database. Files in one worker run one after another, as the whole suite once did, so no
// file ever shares its database or Redis database with a file running at the same time.
//
//   worker 1: <test database>_w1, Redis database N      (N: the test Redis database, 15 by default)
//   worker 2: <test database>_w2, Redis database N - 1
//   ...
// With the default of 3 workers that is 11 worlds, Redis databases 15 down to 5; the benchmark's
// default Redis database (4) is below them.

/**
 * vitest workers (and so worlds) of a run: TEST_WORKERS, 3 by default. Measured on the two-core
 * machine: the platform project took 381 s with 3 workers and 537 s with 5 (its browsers,
 * servers and workers then starve each other, and timing-bound tests fail).
 */
export const TEST_WORKERS = Math.max(1, Math.min(8, Number(process.env.TEST_WORKERS ?? 3) || 3));
/** vitest workers of the unit project */
export const UNIT_WORKERS = TEST_WORKERS;

export interface World {
  id: number;
  DATABASE_URL: string;
  REDIS_URL: string;
}

/** The template database and base Redis database of this run (what `npm test` prepared). */
export function templateUrls(env: NodeJS.ProcessEnv = process.env): { DATABASE_URL: string; REDIS_URL: string } {
  return {
    DATABASE_URL: env.CHORUS_TEST_TEMPLATE_DATABASE_URL ?? env.DATABASE_URL!,
    REDIS_URL: env.CHORUS_TEST_BASE_REDIS_URL ?? env.REDIS_URL!,
  };
}

export function world(id: number, env: NodeJS.ProcessEnv = process.env): World {
  const base = templateUrls(env);
  const db = new URL(base.DATABASE_URL);
  db.pathname = `/${decodeURIComponent(db.pathname.slice(1))}_w${id}`;
  const redis = new URL(base.REDIS_URL);
  const baseDb = Number(redis.pathname.slice(1) || 0);
  if (baseDb - (id - 1) < 0) throw new Error(`Redis database ${baseDb} leaves no room for ${TEST_WORKERS} workers: use a higher TEST_REDIS_URL database`);
  redis.pathname = `/${baseDb - (id - 1)}`;
  return { id, DATABASE_URL: db.toString(), REDIS_URL: redis.toString() };
}

/**
 * Each project has worlds of its own: the unit project worlds 1..N+1, platform N+2..2N+2,
 * faults 2N+3 and 2N+4, privacy 2N+5 (N = TEST_WORKERS; one spare in the first two). A worker
 * process takes the first free world of its project's range and holds it with a PostgreSQL
 * advisory lock for as long as it lives (world-setup.ts): vitest's VITEST_POOL_ID proved not to be
 * unique among the processes running at one moment, and two files on one world break each other.
 */
export const WORLD_RANGES = {
  unit: [1, TEST_WORKERS + 1],
  platform: [TEST_WORKERS + 2, 2 * TEST_WORKERS + 2],
  faults: [2 * TEST_WORKERS + 3, 2 * TEST_WORKERS + 4],
  privacy: [2 * TEST_WORKERS + 5, 2 * TEST_WORKERS + 5],
} as const;
export const WORLD_COUNT = 2 * TEST_WORKERS + 5;

export function allWorlds(env: NodeJS.ProcessEnv = process.env): World[] {
  return Array.from({ length: WORLD_COUNT }, (_, i) => world(i + 1, env));
}

/** What vitest.config.ts passes to the suite when `npm test` did not say (running vitest directly). */
export const DEFAULT_TEST_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/chorus_test';
export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379/15';
