import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { DEFAULT_TEST_DATABASE_URL, DEFAULT_TEST_REDIS_URL, TEST_WORKERS, UNIT_WORKERS, WORLD_RANGES } from './tests/support/worlds.ts';
import { CostSequencer } from './tests/support/sequencer.ts';
import { generateDkimKey } from './server/bin/dkim-key.mjs';

// The suite runs in parallel: TEST_WORKERS vitest workers (3 by default), each with a world of
// its own (tests/support/worlds.ts: a database copied from the migrated test database and a
// Redis database), prepared by tests/support/global-setup.ts. Files in one worker run one after
// another. Four projects, by cost:
//   unit      in-process API and unit tests (no browser, no platform processes)
//   platform  tests that start the platform's processes or a browser (tests/e2e, tests/bench,
//             tests/promises/*.platform.test.ts)
//   faults    PostgreSQL and Redis cut away, SMTP failing, processes killed (tests/faults), and
//             the scale-out flood through nginx (tests/e2e/scale-out.test.ts)
//   privacy   scans what the whole suite left in every world's Redis and every process log: last
// They run one after another (unit, platform, faults, privacy): vitest runs an unisolated
// project's files as a phase of its own anyway, and each gets the number of workers that suits it.
// `npm run test:quick` runs the unit project only.
const env = {
  DATABASE_URL: process.env.DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL,
  REDIS_URL: process.env.REDIS_URL ?? DEFAULT_TEST_REDIS_URL,
  SECRET_KEY: process.env.SECRET_KEY ?? 'test-secret-key-test-secret-key-0123456789',
  // every email the suite sends is DKIM-signed, as production's: a key for this run
  DKIM_PRIVATE_KEY: process.env.DKIM_PRIVATE_KEY ?? generateDkimKey(),
  // every request of the suite comes from 127.0.0.1: per-address limits would flag the
  // suite itself. The abuse tests set their own low limits.
  SIGN_LIMIT_PER_IP: '1000000',
  SIGN_LIMIT_PER_EMAIL: '1000000',
  SIGN_LIMIT_PER_API_KEY: '1000000',
  PUBLIC_POST_LIMIT_PER_IP: '1000000',
  // nor may load shedding answer 503 to the suite's own bursts on a busy two-core machine;
  // load-shedding.test.ts sets its own thresholds and lag
  SHED_EVENT_LOOP_LAG_MS: '60000',
  SHED_WRITER_WAIT_MS: '60000',
  SHED_MIN_IN_FLIGHT: '1000000',
  // the suite's workers keep full CPU priority so that emails its tests wait for are not
  // held back by the suite's own load; bench-smoke.test.ts checks the default of 10
  WORKERS_NICE: '0',
  // PostgreSQL's outage in tests/faults/platform-faults.test.ts (30 s when the file runs alone):
  // 12 s is still more than twice the pool's connection timeout (5 s, server/src/db/db.ts), so
  // requests during it still meet a dead database and must answer 503 without hanging
  FAULT_PG_OUTAGE_MS: process.env.FAULT_PG_OUTAGE_MS ?? '12000',
};

const PLATFORM = ['tests/e2e/**/*.test.ts', 'tests/bench/**/*.test.ts', 'tests/promises/**/*.platform.test.ts'];
// Platform tests that run with the faults, not beside the browser journeys: the scale-out test
// counts which of a flood of uncached page reads nginx and two servers answer 200, and on a
// two-core machine also running three browsers and their platforms, admitted reads ran out of
// time and answered 503 (about one run in two)
const APART = ['tests/e2e/scale-out.test.ts'];

function project(
  name: string,
  include: string[],
  groupOrder: number,
  opts: { exclude?: string[]; isolate?: boolean; testTimeout?: number; maxWorkers?: number; freshWorld?: boolean } = {},
): TestProjectInlineConfiguration {
  return {
    test: {
      name,
      include,
      exclude: ['**/node_modules/**', 'web/**', ...(opts.exclude ?? [])],
      // without isolation a worker imports the server's modules once for all its files, not
      // once per file (the unit project took 465 s with isolation and 150 s without, on the same
      // loaded machine); each file still builds its own app, pools and platform, and no test
      // mocks a module. vitest runs such a project's files apart from other projects' files.
      isolate: opts.isolate ?? false,
      env: {
        ...env,
        CHORUS_TEST_WORLD_RANGE: WORLD_RANGES[name as keyof typeof WORLD_RANGES].join('-'),
        ...(opts.freshWorld ? { CHORUS_TEST_FRESH_WORLD: '1' } : {}),
      },
      setupFiles: ['tests/support/world-setup.ts'],
      maxWorkers: opts.maxWorkers ?? TEST_WORKERS,
      sequence: { groupOrder, sequencer: CostSequencer },
      testTimeout: opts.testTimeout ?? 30_000,
      hookTimeout: 120_000,
    },
  };
}

export default defineConfig({
  test: {
    globalSetup: ['tests/support/global-setup.ts'],
    maxWorkers: TEST_WORKERS,
    projects: [
      project('unit', ['server/**/*.test.ts', 'workers/**/*.test.ts', 'tests/static/**/*.test.ts', 'tests/promises/**/*.test.ts'], 0, {
        exclude: PLATFORM,
        maxWorkers: UNIT_WORKERS,
      }),
      // a browser journey of many pages, each audited by axe, on a machine the other workers share
      project('platform', PLATFORM, 1, { exclude: APART, testTimeout: 240_000, freshWorld: true }),
      // after the others, when the static checks are long done: the fault scenarios assert what
      // happens within seconds of a kill or a cut, and are the ones a starved CPU would falsify.
      // Each file in a process of its own, which ends with it: nothing of an earlier file (a
      // timer, a connection) is alive while processes are killed and connections cut.
      project('faults', ['tests/faults/**/*.test.ts', ...APART], 2, { isolate: true, maxWorkers: 2, freshWorld: true }),
      project('privacy', ['tests/privacy/**/*.test.ts'], 3, { maxWorkers: 1 }),
    ],
  },
});
