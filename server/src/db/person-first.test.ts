// A person's sign-ups of an action are looked up by person first ('Person first' in
// hot-statements.ts). The case that once cost every sign-up about 11 ms: a new action whose
// statistics still show no waiting sign-ups, with thousands waiting by now. Every statement that
// signing, emailing, viewing and confirming run for one person is planned here under those
// statistics, through PostgreSQL's auto_explain (with the statements inside SQL functions), and
// none may read the crowd's rows, nor scan the whole table.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, inTransaction, type Db } from './db.ts';
import { confirmationLoad, confirmationMarkSentAndListed, confirmationRelease, runHot } from './hot-statements.ts';
import { createAction, newSignature, uniqueEmail } from '../testing/harness.ts';
import { explainedPool, type Explained } from '../testing/explained.ts';
import { recordConfirmations, writeSignatures } from '../signature/signature.repository.ts';
import { OTHERS_LISTED, confirmationToken, viewConfirmation, type SignatureDeps } from '../signature/signature.service.ts';
import { insertSupporters } from '../testing/sealed.ts';

const CROWD = 3_000;

let db: Db;
/** one connection, every statement on it explained */
let explained: Explained;

beforeAll(async () => {
  db = createDb(process.env.DATABASE_URL!, { max: 2 });
  explained = explainedPool(process.env.DATABASE_URL!);
});

afterAll(async () => {
  await explained?.end();
  await db?.close();
});

describe('a person\'s sign-ups are found by person, whatever the statistics say', () => {
  it('signing, emailing, viewing and confirming read none of the thousands waiting beside them', async () => {
    const { action } = await createAction(db);
    // the statistics are taken while the action has no sign-up at all
    await db.pool.query('ANALYZE signatures');
    await db.pool.query('ANALYZE supporters');
    const tag = randomUUID().slice(0, 8);
    // the crowd as the signing path stores it: addresses sealed, found by their blind index
    const crowd = await insertSupporters(
      db.pool,
      Array.from({ length: CROWD }, (_, i) => ({ email: `crowd-${i + 1}-${tag}@example.org`, locale: 'en' })),
    );
    await db.pool.query(
      `INSERT INTO signatures (action_id, supporter_id, country, locale, status, signup_version)
       SELECT $1, id, 'PH', 'en', 'PENDING', 'crowd' FROM unnest($2::uuid[]) AS id`,
      [action.id, crowd],
    );

    explained.reset();
    const email = uniqueEmail('person-first');
    // a new sign-up, its repeat, and a second one with other details
    const [first] = await writeSignatures(explained.pool, [newSignature(action.id, email)]);
    const [repeat] = await writeSignatures(explained.pool, [newSignature(action.id, email)]);
    const [second] = await writeSignatures(explained.pool, [newSignature(action.id, email, { lastName: 'Other' })]);
    expect(first!.created).toBe(true);
    expect(repeat!.signatureId).toBe(first!.signatureId);
    expect(second!.created).toBe(true);
    // and a batch of sign-ups, as the writer makes them under load
    const batch = await writeSignatures(explained.pool, Array.from({ length: 64 }, () => newSignature(action.id, uniqueEmail('person-first-batch'))));
    expect(batch.every((w) => w.created)).toBe(true);
    // the writer's statement itself reads no signature: what a sign-up meets (the person's
    // confirmed signature and its status, a waiting one with the same details) comes from
    // chorus_signup_context, by person. A join of its own by id was once planned, under such
    // statistics, as a read of every pending and confirmed signature for each repeat of a batch
    const writes = explained.plans().filter((p) => p.includes('WITH input AS'));
    expect(writes.length).toBeGreaterThanOrEqual(4);
    for (const plan of writes) expect(plan.match(/^.*Scan.* on signatures\b.*$/gm) ?? [], plan).toEqual([]);

    // the confirmation email of the first: let go by the address's budget, loaded with the one
    // waiting beside it, and marked sent with the page's list
    const released = await runHot(explained.pool, confirmationRelease, [first!.signatureId, new Date(0), 3]);
    expect(released.map((r) => r.id).sort()).toEqual([first!.signatureId]);
    const [loaded] = await runHot(explained.pool, confirmationLoad, [first!.signatureId]);
    expect(loaded!.others_waiting).toBe(1);
    await runHot(explained.pool, confirmationMarkSentAndListed, [first!.signatureId, loaded!.requested_at, new Date(), true, OTHERS_LISTED]);

    // the page the link opens lists the other sign-up
    const deps = { pool: explained.pool, secret: 'person-first-secret', clock: () => new Date(), confirmLinkTtlHours: 24 } as unknown as SignatureDeps;
    const view = await viewConfirmation(deps, confirmationToken(deps, first!.signatureId));
    expect(view.others).toHaveLength(1);

    // confirming the first sets the second aside
    await inTransaction(explained.pool, (tx) => recordConfirmations(tx, [first!.signatureId], new Date()));
    const { rows } = await db.pool.query<{ status: string }>('SELECT status FROM signatures WHERE id = $1', [second!.signatureId]);
    expect(rows[0]!.status).toBe('INVALIDATED');

    // the plans were seen, the function's own statements among them
    expect(explained.plans().length).toBeGreaterThan(8);
    expect(explained.plans().some((p) => p.includes('chorus_signup_context') || p.includes('WITH mine'))).toBe(true);
    const worst = explained.mostDropped();
    expect(worst.rows, `a plan read ${worst.rows} rows to drop them:\n${worst.plan}`).toBeLessThan(50);
    // nor is a batch planned for a thousand rows a sign-up: PostgreSQL once took each sign-up's
    // context for a thousand and joined the batch to signatures by reading the whole table (on
    // a table as small as the test's, a scan may be the cheaper plan and is no fault): the
    // context is planned as the one row it is
    const context = explained.plans().flatMap((p) => [...p.matchAll(/Function Scan on chorus_signup_context \w+ +\(cost=[\d.]+ rows=(\d+)/g)].map((m) => Number(m[1])));
    expect(context.length).toBeGreaterThan(0);
    expect(new Set(context)).toEqual(new Set([1]));
  }, 60_000);
});

describe('the index of signatures by delivery batch', () => {
  it('takes no entry for a sign-up, which has no batch, and still finds a batch\'s signatures', async () => {
    const size = async () => Number((await db.pool.query<{ n: string }>(`SELECT pg_relation_size('signatures_batch_id_idx') AS n`)).rows[0]!.n);
    const { action } = await createAction(db);
    const before = await size();
    for (let i = 0; i < 6; i++) await writeSignatures(db.pool, Array.from({ length: 500 }, () => newSignature(action.id, uniqueEmail('batch-index'))));
    // 3,000 entries, even deduplicated, would take several more pages; none were made
    expect(await size()).toBe(before);
    // a lookup by batch goes by the index
    const c = await db.pool.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM signatures WHERE batch_id = $1`, [randomUUID()])).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('signatures_batch_id_idx');
    } finally {
      await c.query('RESET enable_seqscan');
      c.release();
    }
  }, 60_000);
});
