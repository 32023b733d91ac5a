import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** tests/privacy/ scans what the whole suite left behind (Redis, logs): it always runs last. */
class PrivacyLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification) => /[\\/]tests[\\/]privacy[\\/]/.test(f.moduleId);
    return [...sorted.filter((f) => !last(f)), ...sorted.filter(last)];
  }
}

// Tests share one test database and Redis database (prepared by `npm test`), so files run
// one at a time; tests inside a file use their own slugs and addresses.
export default defineConfig({
  test: {
    include: ['server/**/*.test.ts', 'workers/**/*.test.ts', 'tests/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'web/**'],
    fileParallelism: false,
    sequence: { sequencer: PrivacyLastSequencer },
    globalSetup: ['tests/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    env: {
      DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus_test',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/15',
      SECRET_KEY: process.env.SECRET_KEY ?? 'test-secret-key-test-secret-key-0123456789',
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
    },
  },
});
