// Checking a receipt (GET /api/receipts/:code, the /verify page): whether the signature that
// was given this code was counted, in which delivery, and the proof that the delivery's
// published root includes it (docs/members-and-officials.md#checking-a-receipt).
//
// The code finds its signature through its leaf (signature/receipt.ts: a hash keyed by the code,
// unique), so the code itself is never stored or compared in clear. The answer speaks of that
// one signature and of its delivery as a whole: the action, the delivery's day (never a finer
// time), the tree's root and size, the sibling hashes of the proof (hashes of other receipts'
// leaves, which reveal nothing without their codes) and the chain. Nothing about any other signer
// (names, countries, ids, times) and nothing about this signer beyond what the code's holder
// already knows is in it.
import type pg from 'pg';
import { qb, SignatureStatus } from '../db/db.ts';
import { AppError, notFound, type Issue } from '../shared/errors.ts';
import { chainHash, MerkleTree, rootFromProof } from '../shared/merkle.ts';
import { normaliseReceiptCode, receiptLeaf } from '../signature/receipt.ts';
import { actionTitle } from './action-title.ts';
import { batchLeaves } from './delivery-roots.ts';

/** What became of a signature, as its receipt tells it. */
export type ReceiptStatus =
  /** signed, and the emailed link not yet confirmed: not counted until it is */
  | 'unconfirmed'
  /** confirmed and counted, in no delivery yet */
  | 'confirmed'
  /** counted, in a delivery whose letters no official's mail server has accepted yet (waiting for office hours, or being sent) */
  | 'sending'
  /** counted and delivered: a letter of its delivery was accepted by an official's mail server */
  | 'delivered'
  /** never counted: set aside (another sign-up of the same person was confirmed, it was discarded, or it expired) */
  | 'not_counted'
  /** delivered, then taken out of the count */
  | 'withdrawn';

export interface ReceiptAnswer {
  /** the code as it is written, whatever spacing or case it was typed in */
  code: string;
  /** its leaf, hexadecimal: HMAC-SHA-256 keyed by the code over "chorus receipt leaf v1" */
  leaf: string;
  status: ReceiptStatus;
  action: { slug: string; title: string };
  delivery: ReceiptDelivery | null;
}

export interface ReceiptDelivery {
  /** the day its first letter was accepted by an official's mail server, YYYY-MM-DD (UTC); until then, the day the delivery was made */
  day: string;
  /** null for a delivery made before deliveries committed to their signatures */
  commitment: {
    /** the root of its tree, as its letters, packets and the public ledger show it */
    root: string;
    /** the leaves of its tree: its signatures that have a receipt */
    leafCount: number;
    /** from this receipt's leaf node up to the root: each sibling's hash, and its side */
    proof: { side: 'left' | 'right'; hash: string }[];
    /** the delivery's place in its action's chain, and the chain roots before it and of it */
    chain: { index: number; previous: string | null; root: string };
    /** recomputed here, as anyone can: the proof leads to the root, and the chain root follows from the previous one, the root and the count */
    verified: boolean;
  } | null;
}

/** The code as written, or a 400 that says what is wrong with it. */
export function checkReceiptCode(input: string): string {
  const bad = (issue: Issue): never => {
    throw new AppError(400, 'invalid_receipt', issue.message, {}, [issue]);
  };
  const shape = 'A receipt code has 20 characters, in four groups of five (e.g. 7K2QX-9MD4R-PZ1WA-E6TNB)';
  if (typeof input !== 'string' || input.trim() === '') bad({ path: 'code', code: 'required', message: `A receipt code is required. ${shape}` });
  // far longer than any way of writing a code: not looked at further
  if (input.length > 64) bad({ path: 'code', code: 'too_long', max: 64, message: `This is too long to be a receipt code. ${shape}` });
  const code = normaliseReceiptCode(input);
  if (code) return code;
  const raw = input.toUpperCase().replace(/[\s-]+/g, '');
  // every digit and letter but U (O, I and L are read as the digits they look like)
  const wrong = [...raw].findIndex((ch) => !/^[0-9A-TV-Z]$/.test(ch));
  if (wrong >= 0) {
    bad({ path: 'code', code: 'invalid', message: `Character ${wrong + 1} is not one a receipt code uses (digits 0-9 and the letters A-Z except U). ${shape}` });
  }
  if (raw.length < 20) bad({ path: 'code', code: 'too_short', min: 20, message: `This has ${raw.length} of the 20 characters of a receipt code. ${shape}` });
  return bad({ path: 'code', code: 'too_long', max: 20, message: `This has ${raw.length} characters, more than the 20 of a receipt code. ${shape}` });
}

export interface ReceiptDeps {
  pool: pg.Pool;
  /** trees kept for proofs (default: the process's own) */
  trees?: TreeCache;
}

/**
 * Recent deliveries' trees, so that the signers of one delivery checking their receipts in the
 * same minutes do not each rebuild a tree of up to 100,000 leaves (a few hundred milliseconds).
 * Concurrent requests for one delivery wait for one build. A tree is kept for `ttlMs` at most:
 * what the database holds is read again after that.
 */
export class TreeCache {
  private readonly trees = new Map<string, { at: number; tree: Promise<MerkleTree> }>();
  constructor(
    private readonly max = 4,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  get(batchId: string, build: () => Promise<MerkleTree>): Promise<MerkleTree> {
    const now = Date.now();
    const kept = this.trees.get(batchId);
    if (kept && now - kept.at < this.ttlMs) return kept.tree;
    const tree = build();
    this.trees.delete(batchId);
    this.trees.set(batchId, { at: now, tree });
    // a failed build is not kept
    tree.catch(() => this.trees.get(batchId)?.tree === tree && this.trees.delete(batchId));
    while (this.trees.size > this.max) this.trees.delete(this.trees.keys().next().value!);
    return tree;
  }
}

const processTrees = new TreeCache();

const STATUS: Record<SignatureStatus, { inBatch: ReceiptStatus; waiting: ReceiptStatus }> = {
  [SignatureStatus.PENDING]: { inBatch: 'delivered', waiting: 'unconfirmed' },
  [SignatureStatus.CONFIRMED]: { inBatch: 'delivered', waiting: 'confirmed' },
  [SignatureStatus.INVALIDATED]: { inBatch: 'withdrawn', waiting: 'not_counted' },
};

/** The answer for the receipt `input` (as typed); 400 for what cannot be a code, 404 for a code no signature has. */
export async function lookupReceipt(deps: ReceiptDeps, input: string, locale?: string): Promise<ReceiptAnswer> {
  const code = checkReceiptCode(input);
  const leaf = receiptLeaf(code);
  const row = await qb(deps.pool)
    .selectFrom('signatures as s')
    .innerJoin('actions as a', 'a.id', 's.action_id')
    .leftJoin('delivery_batches as b', 'b.id', 's.batch_id')
    .select((eb) => [
      's.status',
      's.batch_id',
      'a.slug',
      actionTitle({ id: eb.ref('a.id'), defaultLocale: eb.ref('a.default_locale'), slug: eb.ref('a.slug') }, locale === undefined ? undefined : eb.val(locale)).as('title'),
      'b.created_at',
      'b.tree_root',
      'b.leaf_count',
      'b.chain_root',
      'b.chain_index',
      // when an official's mail server first accepted a letter of the delivery: until then it
      // is on its way, not delivered (a digest waits for office hours)
      eb.selectFrom('letters as l').whereRef('l.batch_id', '=', 's.batch_id').select((e) => e.fn.min('l.sent_at').as('first')).$asScalar().as('first_sent_at'),
    ])
    .where('s.receipt_leaf', '=', leaf)
    .executeTakeFirst();
  if (!row) throw notFound('receipt_not_found', 'No signature has this receipt code. Check that it is written as it was given to you.');
  const inBatch = STATUS[row.status].inBatch;
  const status = row.batch_id === null ? STATUS[row.status].waiting : inBatch === 'delivered' && row.first_sent_at === null ? 'sending' : inBatch;
  const answer: ReceiptAnswer = { code, leaf: leaf.toString('hex'), status, action: { slug: row.slug, title: row.title }, delivery: null };
  if (row.batch_id === null || row.created_at === null) return answer;
  answer.delivery = { day: (status === 'delivered' && row.first_sent_at ? row.first_sent_at : row.created_at).toISOString().slice(0, 10), commitment: null };
  if (row.tree_root === null || row.leaf_count === null || row.chain_root === null || row.chain_index === null) return answer;

  const batchId = row.batch_id;
  const tree = await (deps.trees ?? processTrees).get(batchId, async () => MerkleTree.inSlices(await batchLeaves(deps.pool, batchId)));
  const index = tree.indexOf(leaf);
  const proof = index >= 0 ? tree.proof(index) : [];
  const previous =
    row.chain_index > 1
      ? ((
          await qb(deps.pool)
            .selectFrom('delivery_batches as p')
            .innerJoin('delivery_batches as b', 'b.action_id', 'p.action_id')
            .select('p.chain_root')
            .where('b.id', '=', batchId)
            .where('p.chain_index', '=', row.chain_index - 1)
            .executeTakeFirst()
        )?.chain_root ?? null)
      : null;
  const verified =
    index >= 0 &&
    rootFromProof(leaf, proof).equals(row.tree_root) &&
    (row.chain_index === 1 || previous !== null) &&
    chainHash(previous, row.tree_root, row.leaf_count).equals(row.chain_root);
  answer.delivery.commitment = {
    root: row.tree_root.toString('hex'),
    leafCount: row.leaf_count,
    proof: proof.map((s) => ({ side: s.side, hash: s.hash.toString('hex') })),
    chain: { index: row.chain_index, previous: previous ? previous.toString('hex') : null, root: row.chain_root.toString('hex') },
    verified,
  };
  return answer;
}
