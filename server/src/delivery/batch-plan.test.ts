// Building a batch reads the action's owed signatures once, however PostgreSQL estimates them.
// The case that once took 108 s for 20,000 signatures: an action whose statistics show none
// owed (new, or owed since the last ANALYZE), where the countries that may go were worked out
// again for every owed signature. Planned here under such statistics, through auto_explain.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../db/db.ts';
import { createAction } from '../testing/harness.ts';
import { explainedPool, rowsRead, type Explained } from '../testing/explained.ts';
import { buildBatch } from './batch.service.ts';
import { insertSupporters } from '../testing/sealed.ts';

const OWED = 2_000;

let db: Db;
let explained: Explained;

beforeAll(() => {
  db = createDb(process.env.DATABASE_URL!, { max: 2 });
  explained = explainedPool(process.env.DATABASE_URL!);
});

afterAll(async () => {
  await explained?.end();
  await db?.close();
});

describe('building a batch', () => {
  it(`reads the ${OWED} owed signatures a few times at most, not once for each of them`, async () => {
    const { action } = await createAction(db, { deliveryPolicy: 'DAILY_DIGEST' });
    await db.pool.query('ANALYZE signatures');
    const tag = randomUUID().slice(0, 8);
    // the supporters as the signing path stores them: address sealed, found by its blind index
    const ids = await insertSupporters(
      db.pool,
      Array.from({ length: OWED }, (_, i) => ({ email: `owed-${i + 1}-${tag}@example.org`, locale: 'en' })),
    );
    await db.pool.query(
      `INSERT INTO signatures (action_id, supporter_id, country, locale, status, confirmed_at, counted_at)
       SELECT $1, id, (ARRAY['FR', 'PH', 'UZ', 'KZ', 'MX'])[1 + (random() * 4)::int], 'en', 'CONFIRMED', now(), now() FROM unnest($2::uuid[]) AS id`,
      [action.id, ids],
    );
    explained.reset();
    const built = await buildBatch({ pool: explained.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: 1 }, action.id, 'test');
    expect(built?.signatureCount).toBe(OWED);
    const reads = rowsRead(explained.plans(), 'signatures');
    expect(reads.length).toBeGreaterThan(0);
    const total = reads.reduce((a, r) => a + r.rows, 0);
    expect(total, reads.map((r) => `${r.rows}: ${r.line}`).join('\n')).toBeLessThan(OWED * 8);
  }, 60_000);
});
