// Counts anyone can verify, against the real database and Redis: each delivery commits to the
// receipt leaves of its signatures (a Merkle root, chained to the delivery before), the public
// ledger shows the root, and GET /api/receipts/:code answers a receipt's holder whether it was
// counted, in which delivery, with a proof that leads to that root, and nothing about anyone
// else. Hostile codes get a 400 or a 404, never a 5xx.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldConfirmations } from '../signature/counter.service.ts';
import { newReceiptCode, receiptLeaf } from '../signature/receipt.ts';
import { asStaff, confirmSignatures, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness } from '../testing/harness.ts';
import { documented } from '../testing/openapi.ts';
import { receiptOf } from '../testing/receipts.ts';
import { indexOfEmail } from '../testing/sealed.ts';
import { chainHash, EMPTY_ROOT, sortLeaves, treeRoot, verifyInclusion } from '../shared/merkle.ts';
import { buildBatch } from './batch.service.ts';
import { checkThresholds, setThresholds } from './threshold.service.ts';

let h: Harness;
let inject: ReturnType<typeof documented>;
const queues = { enqueueLetters: async () => {}, enqueueNotices: async () => {} };

beforeAll(async () => {
  h = await createHarness();
  inject = documented(h.app);
});
afterAll(async () => h?.close());

const batchDeps = () => ({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN });

/** Signs (and confirms, unless `confirm` is false) one signature; answers its id and the receipt code its signer holds. */
async function sign(slug: string, body: Record<string, unknown> = {}, confirm = true): Promise<{ id: string; code: string; email: string }> {
  const email = uniqueEmail('rcpt');
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody({ email, ...body }) });
  expect(res.statusCode).toBe(202);
  const { rows } = await h.db.pool.query<{ id: string }>(`SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`, [indexOfEmail(email)]);
  const id = rows[0]!.id;
  // the code the signing path gave this sign-up (emailed with its confirmation link)
  const code = await receiptOf(h.db.pool, id);
  if (confirm) await confirmSignatures(h.db.pool, 's.id = $1', [id]);
  return { id, code, email };
}

async function rootsOf(batchId: string) {
  const { rows } = await h.db.pool.query(`SELECT tree_root, leaf_count, chain_root, chain_index, signature_count, reason FROM delivery_batches WHERE id = $1`, [batchId]);
  return rows[0] as { tree_root: Buffer | null; leaf_count: number | null; chain_root: Buffer | null; chain_index: number | null; signature_count: number; reason: string };
}

describe('what a delivery commits to', () => {
  it('the Merkle root of its signatures’ receipt leaves, chained to the delivery before it', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const first = [await sign(fx.action.slug), await sign(fx.action.slug), await sign(fx.action.slug)];
    const b1 = await buildBatch(batchDeps(), fx.action.id, 'test');
    const r1 = await rootsOf(b1!.batchId);
    const leaves1 = sortLeaves(first.map((s) => receiptLeaf(s.code)));
    expect(r1.tree_root!.equals(treeRoot(leaves1))).toBe(true);
    expect(r1.leaf_count).toBe(3);
    expect(r1.chain_index).toBe(1);
    expect(r1.chain_root!.equals(chainHash(null, treeRoot(leaves1), 3))).toBe(true);

    const second = [await sign(fx.action.slug), await sign(fx.action.slug)];
    const b2 = await buildBatch(batchDeps(), fx.action.id, 'test');
    const r2 = await rootsOf(b2!.batchId);
    const root2 = treeRoot(sortLeaves(second.map((s) => receiptLeaf(s.code))));
    expect(r2.tree_root!.equals(root2)).toBe(true);
    expect(r2.chain_index).toBe(2);
    expect(r2.chain_root!.equals(chainHash(r1.chain_root, root2, 2))).toBe(true);
  });

  it('leaves out signatures without a receipt (older rows), and commits a delivery of none of them to the empty tree', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const withReceipt = await sign(fx.action.slug);
    const older = await sign(fx.action.slug);
    await h.db.pool.query(`UPDATE signatures SET receipt_leaf = NULL WHERE id = $1`, [older.id]);
    const b1 = await buildBatch(batchDeps(), fx.action.id, 'test');
    const r1 = await rootsOf(b1!.batchId);
    expect(r1.signature_count).toBe(2);
    expect(r1.leaf_count).toBe(1);
    expect(r1.tree_root!.equals(treeRoot(receiptLeaf(withReceipt.code)))).toBe(true);

    const none = await sign(fx.action.slug);
    await h.db.pool.query(`UPDATE signatures SET receipt_leaf = NULL WHERE id = $1`, [none.id]);
    const b2 = await buildBatch(batchDeps(), fx.action.id, 'test');
    const r2 = await rootsOf(b2!.batchId);
    expect(r2).toMatchObject({ signature_count: 1, leaf_count: 0, chain_index: 2 });
    expect(r2.tree_root!.equals(EMPTY_ROOT)).toBe(true);
    expect(r2.chain_root!.equals(chainHash(r1.chain_root, EMPTY_ROOT, 0))).toBe(true);
  });

  it('a threshold’s formal request and a delivery of paper signatures commit to nothing, and the chain runs on past them', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, { deliveryPolicy: 'ON_CLOSE' });
    await h.cache.refresh();
    const clock = () => new Date();
    await setThresholds({ pool: h.db.pool, clock }, staff.id, fx.action.id, { counts: [2], respondWithinDays: 10 });
    await sign(fx.action.slug);
    await sign(fx.action.slug);
    const b1 = await buildBatch(batchDeps(), fx.action.id, 'test');
    await foldConfirmations(h.db.pool);
    expect((await checkThresholds({ pool: h.db.pool, clock, mailDomain: 'chorus.example.org', queues })).reached.map((r) => r.actionId)).toContain(fx.action.id);
    const preview = await asStaff(h.app, staff.cookie, {
      method: 'POST',
      url: `/api/admin/actions/${fx.action.id}/paper-imports`,
      payload: { filename: 'vigil.csv', event: 'Vigil', collectedOn: '2026-11-28', consentVersion: 'paper v1', namesToOfficials: false, csv: 'sheet,line,first_name,last_name,country\nA,1,Maria,Santos,PH\nA,2,José,Rizal,PH' },
    });
    expect(preview.statusCode, preview.body).toBe(201);
    expect((await asStaff(h.app, staff.cookie, { method: 'POST', url: `/api/admin/paper-imports/${preview.json().id}/count` })).statusCode).toBe(200);
    const { rows } = await h.db.pool.query(`SELECT reason, tree_root, leaf_count, chain_root, chain_index FROM delivery_batches WHERE action_id = $1 AND reason IN ('threshold', 'paper')`, [fx.action.id]);
    expect(rows.map((r) => r.reason).sort()).toEqual(['paper', 'threshold']);
    for (const r of rows) expect(r).toMatchObject({ tree_root: null, leaf_count: null, chain_root: null, chain_index: null });

    const third = await sign(fx.action.slug);
    const b3 = await buildBatch(batchDeps(), fx.action.id, 'test');
    const r3 = await rootsOf(b3!.batchId);
    expect(r3.chain_index).toBe(2);
    expect(r3.chain_root!.equals(chainHash((await rootsOf(b1!.batchId)).chain_root, treeRoot(receiptLeaf(third.code)), 1))).toBe(true);
  });

  it('the preview of the next delivery computes them and keeps nothing', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db);
    await h.cache.refresh();
    await sign(fx.action.slug);
    const res = await asStaff(h.app, staff.cookie, { method: 'GET', url: `/api/admin/deliveries/${fx.action.id}/preview` });
    expect(res.statusCode, res.body).toBe(200);
    const { rows } = await h.db.pool.query(`SELECT count(*)::int AS n FROM delivery_batches WHERE action_id = $1`, [fx.action.id]);
    expect(rows[0].n).toBe(0);
  });
});

describe('GET /api/receipts/:code', () => {
  it('tells the holder it was counted and delivered, with a proof that leads to the root the public ledger shows', async () => {
    const fx = await createAction(h.db, { locales: ['en', 'es'] });
    await h.cache.refresh();
    const signers = [];
    for (let i = 0; i < 7; i++) signers.push(await sign(fx.action.slug, { firstName: `Ana${i}`, lastName: 'Quispe', country: i % 2 ? 'PE' : 'MX' }));
    const built = await buildBatch(batchDeps(), fx.action.id, 'test');
    await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = now(), attempts = 1 WHERE batch_id = $1`, [built!.batchId]);
    const roots = await rootsOf(built!.batchId);

    // typed carelessly: lower case, spaces for hyphens, O for 0
    const mine = signers[3]!;
    const typed = mine.code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
    const res = await inject({ url: `/api/receipts/${encodeURIComponent(typed)}?locale=es` });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({
      code: mine.code,
      leaf: receiptLeaf(mine.code).toString('hex'),
      status: 'delivered',
      action: { slug: fx.action.slug, title: `Title es ${fx.action.slug}` },
      delivery: { day: new Date().toISOString().slice(0, 10), commitment: { root: roots.tree_root!.toString('hex'), leafCount: 7, verified: true } },
    });
    expect(body.delivery.commitment.chain).toEqual({ index: 1, previous: null, root: roots.chain_root!.toString('hex') });
    // the proof, checked here as anyone would: from the code alone to the published root
    const proof = body.delivery.commitment.proof.map((s: { side: 'left' | 'right'; hash: string }) => ({ side: s.side, hash: Buffer.from(s.hash, 'hex') }));
    expect(proof.length).toBeGreaterThanOrEqual(2);
    expect(verifyInclusion(receiptLeaf(mine.code), proof, Buffer.from(body.delivery.commitment.root, 'hex'))).toBe(true);
    expect(chainHash(null, Buffer.from(body.delivery.commitment.root, 'hex'), 7).toString('hex')).toBe(body.delivery.commitment.chain.root);

    // the same root on the public ledger, for every letter of that delivery
    await h.cache.refresh();
    const action = (await inject({ url: `/api/actions/${fx.action.slug}` })).json();
    expect(action.ledger.length).toBeGreaterThan(0);
    for (const e of action.ledger) expect(e.root).toBe(body.delivery.commitment.root);

    // nothing about anyone else: no names, countries, ids, emails or times finer than the day
    const text = res.body;
    for (const s of signers) {
      expect(text).not.toContain(s.id);
      expect(text).not.toContain(s.email);
      if (s !== mine) expect(text).not.toContain(s.code);
    }
    expect(text).not.toMatch(/Ana\d|Quispe|"(MX|PE)"|country|name/i);
    expect(text).not.toMatch(/T\d\d:\d\d/);
    expect(Object.keys(body).sort()).toEqual(['action', 'code', 'delivery', 'leaf', 'status']);
    expect(Object.keys(body.delivery).sort()).toEqual(['commitment', 'day']);

    // the recomputation the members' documentation gives, run as written on this answer
    const doc = readFileSync(new URL('../../../docs/members-and-officials.md', import.meta.url), 'utf8');
    const snippet = /### Recomputing a proof yourself[^]*?```js\n([^]*?)```/.exec(doc)?.[1];
    expect(snippet, 'the documentation has the snippet').toBeTruthy();
    const dir = mkdtempSync(join(tmpdir(), 'receipt-'));
    try {
      writeFileSync(join(dir, 'receipt.json'), res.body);
      writeFileSync(join(dir, 'check.cjs'), snippet!);
      expect(execFileSync(process.execPath, ['check.cjs'], { cwd: dir, encoding: 'utf8' }).trim()).toBe('true true true');
      // and it sees a changed proof
      const changed = { ...body, delivery: { ...body.delivery, commitment: { ...body.delivery.commitment, proof: body.delivery.commitment.proof.slice(1) } } };
      writeFileSync(join(dir, 'receipt.json'), JSON.stringify(changed));
      expect(execFileSync(process.execPath, ['check.cjs'], { cwd: dir, encoding: 'utf8' }).trim()).toBe('true false true');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what became of a signature not delivered: waiting for confirmation, confirmed and waiting, set aside, withdrawn', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const pending = await sign(fx.action.slug, {}, false);
    expect((await inject({ url: `/api/receipts/${pending.code}` })).json()).toMatchObject({ status: 'unconfirmed', delivery: null });
    const confirmed = await sign(fx.action.slug);
    expect((await inject({ url: `/api/receipts/${confirmed.code}` })).json()).toMatchObject({ status: 'confirmed', delivery: null });
    await h.db.pool.query(`UPDATE signatures SET status = 'INVALIDATED', invalid_reason = 'not_me', invalidated_at = now() WHERE id = $1`, [pending.id]);
    expect((await inject({ url: `/api/receipts/${pending.code}` })).json()).toMatchObject({ status: 'not_counted', delivery: null });
    await buildBatch(batchDeps(), fx.action.id, 'test');
    await h.db.pool.query(`UPDATE signatures SET status = 'INVALIDATED', invalid_reason = 'staff', invalidated_at = now() WHERE id = $1`, [confirmed.id]);
    const withdrawn = (await inject({ url: `/api/receipts/${confirmed.code}` })).json();
    // still in the delivery it went in, and its proof still holds
    expect(withdrawn).toMatchObject({ status: 'withdrawn', delivery: { commitment: { leafCount: 1, verified: true } } });
  });

  it('a delivery made before deliveries committed to their signatures has a day and no commitment', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const s = await sign(fx.action.slug);
    const built = await buildBatch(batchDeps(), fx.action.id, 'test');
    await h.db.pool.query(`UPDATE delivery_batches SET tree_root = NULL, leaf_count = NULL, chain_root = NULL, chain_index = NULL WHERE id = $1`, [built!.batchId]);
    await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = now(), attempts = 1 WHERE batch_id = $1`, [built!.batchId]);
    expect((await inject({ url: `/api/receipts/${s.code}` })).json()).toMatchObject({ status: 'delivered', delivery: { commitment: null } });
  });

  it('is "sending", not delivered, until an official’s mail server accepts a letter of its delivery; then delivered on that day', async () => {
    const fx = await createAction(h.db, { targets: [{ country: null, language: 'en' }, { country: null, language: 'en' }] });
    await h.cache.refresh();
    const s = await sign(fx.action.slug);
    const built = await buildBatch(batchDeps(), fx.action.id, 'test');
    // made today, its letters waiting (for the officials' office hours, say): on its way, with its proof
    const made = new Date().toISOString().slice(0, 10);
    const waiting = (await inject({ url: `/api/receipts/${s.code}` })).json();
    expect(waiting).toMatchObject({ status: 'sending', delivery: { day: made, commitment: { leafCount: 1, verified: true } } });
    // one letter accepted, on a later day: delivered, on the day it was accepted
    const { rows } = await h.db.pool.query<{ id: string }>(`SELECT id FROM letters WHERE batch_id = $1 ORDER BY id`, [built!.batchId]);
    expect(rows).toHaveLength(2);
    await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = '2031-03-04T10:00:00Z', attempts = 1 WHERE id = $1`, [rows[0]!.id]);
    expect((await inject({ url: `/api/receipts/${s.code}` })).json()).toMatchObject({ status: 'delivered', delivery: { day: '2031-03-04', commitment: { verified: true } } });
    // a second letter accepted earlier than the first: the first acceptance gives the day
    await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = '2031-03-02T23:00:00Z', attempts = 1 WHERE id = $1`, [rows[1]!.id]);
    expect((await inject({ url: `/api/receipts/${s.code}` })).json()).toMatchObject({ status: 'delivered', delivery: { day: '2031-03-02' } });
  });

  it('answers 400 with what is wrong for what cannot be a code, and 404 for a code nobody holds', async () => {
    const cases: [string, number, string | null][] = [
      ['7K2QX-9MD4R', 400, 'too_short'],
      ['7K2QX-9MD4R-PZ1WA-E6TNB-77777', 400, 'too_long'],
      ['7K2QX-9MD4R-PZ1WA-E6TNU', 400, 'invalid'],
      ['%20%20', 400, 'required'],
      [newReceiptCode(), 404, null],
    ];
    for (const [code, status, issue] of cases) {
      const res = await inject({ url: `/api/receipts/${code}` });
      expect(res.statusCode, `${code}: ${res.body}`).toBe(status);
      if (issue) expect(res.json()).toMatchObject({ code: 'invalid_receipt', issues: [{ path: 'code', code: issue }] });
      else expect(res.json()).toMatchObject({ code: 'receipt_not_found' });
      expect(res.json().message.length).toBeGreaterThan(20);
    }
    expect((await inject({ url: '/api/receipts/7K2QX-9MD4R-PZ1WA-E6TNU' })).json().message).toMatch(/Character 20 /);
  });

  it('hostile codes (huge, unicode, NUL, path tricks, markup) get a 400 or a 404, never a 5xx', async () => {
    const hostile = [
      'A'.repeat(65),
      'A'.repeat(1000),
      'é'.repeat(300),
      '\u0000'.repeat(20),
      '7K2QX-9MD4R-PZ1WA-E6TN\u0000',
      '\uD800\uDC00'.repeat(10),
      '\u202E7K2QX9MD4RPZ1WAE6TNB',
      '７Ｋ２ＱＸ９ＭＤ４ＲＰＺ１ＷＡＥ６ＴＮＢ',
      '../../../etc/passwd',
      '..%2F..%2Fadmin',
      '%2e%2e',
      '<script>alert(1)</script>',
      "' OR 1=1 --",
      '${7*7}',
      '__proto__',
      'constructor',
      '7K2QX 9MD4R PZ1WA E6TNB ',
    ];
    for (const code of hostile) {
      const url = `/api/receipts/${encodeURIComponent(code)}`;
      const res = await inject({ url });
      expect([400, 404], `${JSON.stringify(code)}: ${res.statusCode} ${res.body.slice(0, 200)}`).toContain(res.statusCode);
      expect(res.body).not.toContain('<script>');
    }
    // the path itself played with: a longer path, an encoded slash, a trailing dot segment, a huge one
    for (const url of ['/api/receipts/', '/api/receipts/..', '/api/receipts/..%2F..%2Factions', '/api/receipts/%2F', '/api/receipts/%00', '/api/receipts/%E0%A4%A']) {
      const res = await h.app.inject({ url });
      expect([400, 404], `${url}: ${res.statusCode} ${res.body.slice(0, 200)}`).toContain(res.statusCode);
    }
    // past the router's longest path segment (1,024 characters), the platform's 414, as on every route
    const huge = await h.app.inject({ url: `/api/receipts/${'Z'.repeat(5000)}` });
    expect(huge.statusCode).toBe(414);
    expect(huge.json()).toMatchObject({ statusCode: 414, code: expect.any(String) });
  });
});

describe('the rate limit of receipt lookups', () => {
  it('counts them with the public forms’ per-address limit: 429 with Retry-After past it', async () => {
    const limited = await createHarness({ env: { PUBLIC_POST_LIMIT_PER_IP: '3', TRUSTED_PROXIES: '' } });
    try {
      const ip = `198.51.100.${Math.floor(Math.random() * 200) + 1}`;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await limited.app.inject({ url: `/api/receipts/${newReceiptCode()}`, remoteAddress: ip })).statusCode);
      expect(statuses).toEqual([404, 404, 404, 429, 429]);
      const refused = await limited.app.inject({ url: `/api/receipts/${newReceiptCode()}`, remoteAddress: ip });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.json()).toMatchObject({ code: 'rate_limited' });
      // another address is not held back
      expect((await limited.app.inject({ url: `/api/receipts/${newReceiptCode()}`, remoteAddress: `203.0.113.${Math.floor(Math.random() * 200) + 1}` })).statusCode).toBe(404);
    } finally {
      await limited.close();
    }
  });
});
