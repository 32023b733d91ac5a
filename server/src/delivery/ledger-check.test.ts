// npm run verify-ledger against the real database: a clean ledger passes, and every way of
// changing what a delivery carried after the fact is reported, by delivery: a signature moved
// out, a leaf changed, a signature added, a stored root rewritten to cover it up, a delivery
// removed from the chain, a delivery's roots wiped. Run as the script itself, in a child process.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmSignatures, createAction, createHarness, signBody, uniqueEmail, type Harness } from '../testing/harness.ts';
import { indexOfEmail } from '../testing/sealed.ts';
import { treeRoot } from '../shared/merkle.ts';
import { buildBatch } from './batch.service.ts';
import { batchLeaves } from './delivery-roots.ts';
import { checkLedger } from './ledger-check.ts';

const run = promisify(execFile);
let h: Harness;
const queues = { enqueueLetters: async () => {} };

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

async function sign(slug: string): Promise<string> {
  const email = uniqueEmail('ledger');
  expect((await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody({ email }) })).statusCode).toBe(202);
  const [id] = await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
  return id!;
}

/** An action with deliveries of `sizes` signatures each, in order; answers it and the batches' ids. */
async function actionWithDeliveries(sizes: number[]) {
  const fx = await createAction(h.db);
  await h.cache.refresh();
  const batches: string[] = [];
  for (const n of sizes) {
    for (let i = 0; i < n; i++) await sign(fx.action.slug);
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    batches.push(built!.batchId);
  }
  return { action: fx.action, batches };
}

/** The script as an operator runs it (npm run verify-ledger), on this test's database. */
async function verifyLedger(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'server/bin/verify-ledger.ts', ...args], { env: { ...process.env }, timeout: 60_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('npm run verify-ledger', () => {
  it('passes a ledger nobody touched, and reports each delivery whose signatures were changed since', async () => {
    const { action, batches } = await actionWithDeliveries([5, 3, 2]);
    const [b1, b2, b3] = batches as [string, string, string];
    const clean = await checkLedger(h.db.pool, { actionIds: [action.id] });
    expect(clean).toEqual({ actions: 1, deliveries: 3, leaves: 10, problems: [] });
    const ok = await verifyLedger('--action', action.slug);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain('3 of 3 deliveries recomputed');
    expect(ok.out).toContain('verify-ledger: OK, 3 deliveries of 1 actions, 10 receipt leaves');

    // a signature moved out of the first delivery, a leaf changed in the second, one added to the third
    await h.db.pool.query(`UPDATE signatures SET batch_id = NULL WHERE id = (SELECT id FROM signatures WHERE batch_id = $1 LIMIT 1)`, [b1]);
    await h.db.pool.query(`UPDATE signatures SET receipt_leaf = $2 WHERE id = (SELECT id FROM signatures WHERE batch_id = $1 LIMIT 1)`, [b2, randomBytes(32)]);
    const added = await sign(action.slug);
    await h.db.pool.query(`UPDATE signatures SET batch_id = $1 WHERE id = $2`, [b3, added]);

    const bad = await checkLedger(h.db.pool, { actionIds: [action.id] });
    expect(bad.problems.map((p) => [p.batchId, p.chainIndex])).toEqual([
      [b1, 1],
      [b2, 2],
      [b3, 3],
    ]);
    expect(bad.problems[0]!.problems.join()).toMatch(/4 receipt leaves, where 5 were committed to/);
    expect(bad.problems[1]!.problems.join()).toMatch(/tree root is now [0-9a-f]{64}, where [0-9a-f]{64} was published/);
    expect(bad.problems[2]!.problems.join()).toMatch(/3 receipt leaves, where 2 were committed to/);

    const out = await verifyLedger('--action', action.slug);
    expect(out.code, out.out).toBe(1);
    const lines = out.out.split('\n').filter((l) => l.startsWith('MISMATCH'));
    expect(lines).toHaveLength(3);
    for (const [i, b] of [b1, b2, b3].entries()) expect(lines[i]).toContain(`delivery ${b} of action "${action.slug}" (number ${i + 1} of the chain, made ${new Date().toISOString().slice(0, 10)})`);
    expect(out.out).toContain('verify-ledger: 3 deliveries do not match what was published (3 deliveries of 1 actions, 10 receipt leaves checked)');
  });

  it('reports a stored root rewritten to hide a change, a delivery removed from the chain, and one whose roots were wiped', async () => {
    const cover = await actionWithDeliveries([2, 2, 2]);
    // a signature added to the second delivery, and its stored root and count rewritten to match:
    // the chain root no longer follows (and the next delivery's chain still holds the old one)
    const added = await sign(cover.action.slug);
    await h.db.pool.query(`UPDATE signatures SET batch_id = $1 WHERE id = $2`, [cover.batches[1], added]);
    const leaves = await batchLeaves(h.db.pool, cover.batches[1]!);
    await h.db.pool.query(`UPDATE delivery_batches SET tree_root = $2, leaf_count = 3 WHERE id = $1`, [cover.batches[1], treeRoot(leaves)]);
    const covered = await checkLedger(h.db.pool, { actionIds: [cover.action.id] });
    expect(covered.problems.map((p) => p.batchId)).toEqual([cover.batches[1]]);
    expect(covered.problems[0]!.problems.join()).toMatch(/chain root [0-9a-f]{64} does not follow from the one before it/);

    // the middle delivery of another action taken out altogether
    const gap = await actionWithDeliveries([1, 1, 1]);
    await h.db.pool.query(`UPDATE signatures SET batch_id = NULL WHERE batch_id = $1`, [gap.batches[1]]);
    await h.db.pool.query(`DELETE FROM letters WHERE batch_id = $1`, [gap.batches[1]]);
    await h.db.pool.query(`DELETE FROM delivery_batches WHERE id = $1`, [gap.batches[1]]);
    const gapped = await checkLedger(h.db.pool, { actionIds: [gap.action.id] });
    expect(gapped.problems.map((p) => p.batchId)).toEqual([gap.batches[2]]);
    expect(gapped.problems[0]!.problems.join()).toMatch(/number 3 of its action's chain, but the one before it is number 1: a delivery is missing/);

    // the last delivery of a third made to look as if it committed to nothing
    const wiped = await actionWithDeliveries([1, 1]);
    await h.db.pool.query(`UPDATE delivery_batches SET tree_root = NULL, leaf_count = NULL, chain_root = NULL, chain_index = NULL WHERE id = $1`, [wiped.batches[1]]);
    const found = await checkLedger(h.db.pool, { actionIds: [wiped.action.id] });
    expect(found.problems.map((p) => [p.batchId, p.chainIndex])).toEqual([[wiped.batches[1], null]]);

    const out = await verifyLedger('--action', cover.action.slug, '--action', gap.action.slug, '--action', wiped.action.slug);
    expect(out.code, out.out).toBe(1);
    expect(out.out.split('\n').filter((l) => l.startsWith('MISMATCH'))).toHaveLength(3);
    expect(out.out).toContain('not in the chain');
  });

  it('says what it needs when called wrongly, with exit code 2', async () => {
    const unknown = await verifyLedger('--action', 'no-such-action-here');
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('no action "no-such-action-here"');
    const wrong = await verifyLedger('--everything');
    expect(wrong.code).toBe(2);
    expect(wrong.out).toContain('usage: npm run verify-ledger');
  });
});
