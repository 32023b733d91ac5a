// The signature writer's group commit against the test database: signatures of one turn of
// the event loop share one statement, those arriving while the committing slots are busy
// gather into the next, and every caller gets its own row, created once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../db/db.ts';
import { createAction, newSignature, uniqueEmail } from '../testing/harness.ts';
import { SignatureWriter } from './signature.repository.ts';
import { CONSENT_RECORDS } from '../testing/consent-records.ts';
import { openedSignatures } from '../testing/sealed.ts';

let db: Db;
beforeAll(() => {
  db = createDb(process.env.DATABASE_URL!, { max: 6 });
});
afterAll(async () => {
  await db?.close();
});

const signature = (actionId: string, email: string) => newSignature(actionId, email, { lastName: 'Writer' });

async function rowsOf(actionId: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signatures WHERE action_id = $1', [actionId]);
  return rows[0]!.n;
}

describe('SignatureWriter', () => {
  it('writes the signatures of one turn in one statement, each answered with its own row', async () => {
    const { action } = await createAction(db);
    const writer = new SignatureWriter(db.pool);
    const emails = Array.from({ length: 100 }, () => uniqueEmail('turn'));
    const written = await Promise.all(emails.map((e) => writer.write(signature(action.id, e))));
    expect(writer.batchesWritten).toBe(1);
    expect(new Set(written.map((w) => w.signatureId)).size).toBe(100);
    expect(written.every((w) => w.created)).toBe(true);
    expect(await rowsOf(action.id)).toBe(100);
  });

  it('splits a turn at maxBatch, and gathers what arrives while the slots are busy into the next batch', async () => {
    const { action } = await createAction(db);
    const writer = new SignatureWriter(db.pool, { maxBatch: 40, maxInFlight: 1 });
    const first = Array.from({ length: 100 }, () => writer.write(signature(action.id, uniqueEmail('split'))));
    // the first 40 are committing; these 30, from a later turn, wait behind the busy slot
    await new Promise((r) => setImmediate(r));
    const later = Array.from({ length: 30 }, () => writer.write(signature(action.id, uniqueEmail('later'))));
    const all = await Promise.all([...first, ...later]);
    // 100 make 40 + 40 + 20 at most, and the later 30 share batches with them rather than going alone
    expect(writer.batchesWritten).toBeLessThanOrEqual(4);
    expect(all.every((w) => w.created)).toBe(true);
    expect(await rowsOf(action.id)).toBe(130);
    expect(writer.backlog).toBe(0);
  });

  it('within one batch as across batches: a repeat is one row, other details are a sign-up of their own, a flagged copy adds nothing', async () => {
    const { action } = await createAction(db);
    const writer = new SignatureWriter(db.pool);
    const email = uniqueEmail('twice');
    const [a, b, c, d] = await Promise.all([
      writer.write(signature(action.id, email)),
      writer.write({ ...signature(action.id, email.toUpperCase()), firstName: 'Second' }),
      writer.write({ ...signature(action.id, email), firstName: 'Flagged', suspicious: true, invalidReason: 'honeypot' }),
      writer.write(signature(action.id, email)),
    ]);
    expect(writer.batchesWritten).toBe(1);
    // a and d are alike: one sign-up; b waits beside it; the flagged c is answered with the last clean one (d)
    expect(a!.signatureId).toBe(d!.signatureId);
    expect(b!.signatureId).not.toBe(a!.signatureId);
    expect(c!.signatureId).toBe(d!.signatureId);
    expect([a!.created, b!.created, c!.created, d!.created]).toEqual([false, true, false, true]);
    const opened = await openedSignatures(db.pool, 's.action_id = $1', [action.id]);
    const rows = opened.map((r) => ({ id: r.id, status: r.status, pending_first_name: r.pending_first_name })).sort((x, y) => x.pending_first_name.localeCompare(y.pending_first_name));
    // the sign-up's name is stored sealed, never in clear
    for (const r of opened) expect(r).toMatchObject({ pending_name: expect.any(Buffer), pending_first_name_clear: null });
    expect(rows).toEqual([
      { id: a!.signatureId, status: 'PENDING', pending_first_name: 'Ana' },
      { id: b!.signatureId, status: 'PENDING', pending_first_name: 'Second' },
    ]);
    // consents are recorded when the owner confirms, not by the writer
    const consents = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${CONSENT_RECORDS} c WHERE signature_id = ANY($1::uuid[])`, [[a!.signatureId, b!.signatureId]]);
    expect(consents.rows[0]!.n).toBe(0);
  });

  it('the same sign-up in statements running at the same moment is one row; other details are rows of their own', async () => {
    const { action } = await createAction(db);
    // writers of their own: each of their statements runs beside the others', none sees the others' rows
    const writers = Array.from({ length: 4 }, () => new SignatureWriter(db.pool, { maxBatch: 1, maxInFlight: 4 }));
    const email = uniqueEmail('racing');
    const same = await Promise.all(Array.from({ length: 24 }, (_, i) => writers[i % 4]!.write(signature(action.id, email))));
    expect(new Set(same.map((w) => w.signatureId)).size).toBe(1);
    expect(same.filter((w) => w.created)).toHaveLength(1);
    const others = await Promise.all(Array.from({ length: 3 }, (_, i) => writers[i]!.write({ ...signature(action.id, email), firstName: `Other${i}` })));
    expect(new Set(others.map((w) => w.signatureId)).size).toBe(3);
    const { rows } = await db.pool.query('SELECT status, count(*)::int AS n FROM signatures WHERE action_id = $1 GROUP BY status', [action.id]);
    expect(rows).toEqual([{ status: 'PENDING', n: 4 }]);
  });
});
