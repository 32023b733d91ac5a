// Runs in each vitest worker before each test file: points DATABASE_URL and REDIS_URL at this
// worker's own world (tests/support/worlds.ts), so that everything the file starts (the
// in-process app, platforms' processes) uses it.
import { world } from './worlds.ts';

if (!process.env.CHORUS_TEST_TEMPLATE_DATABASE_URL) {
  process.env.CHORUS_TEST_TEMPLATE_DATABASE_URL = process.env.DATABASE_URL;
  process.env.CHORUS_TEST_BASE_REDIS_URL = process.env.REDIS_URL;
}
const w = world(Number(process.env.VITEST_POOL_ID ?? 1));
process.env.DATABASE_URL = w.DATABASE_URL;
process.env.REDIS_URL = w.REDIS_URL;
