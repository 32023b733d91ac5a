// The Merkle tree a delivery commits to (docs/members-and-officials.md#checking-a-receipt).
//
// Leaves are the receipts' leaves (signature/receipt.ts), 32 bytes each, sorted bytewise so that
// the same set of signatures always gives the same tree. Hashing is domain-separated as in
// RFC 6962, so a leaf can never pass for an inner node nor the reverse:
//
//   leaf node   = SHA-256(0x00 || leaf)
//   inner node  = SHA-256(0x01 || left || right)
//   tree of n   = inner(tree of the first k, tree of the other n - k), k the largest power of two below n
//   empty tree  = SHA-256 of nothing
//
// Built bottom-up: pairing the nodes of a level from the left, and carrying a last node without
// a partner up unchanged, gives exactly the split at the largest power of two (the tests compare
// it with the recursive definition).
//
// Each delivery of an action is chained to the one before it (append-only):
//
//   chain = SHA-256(0x02 || previous chain, or 32 zero bytes for the first || tree root || leaf count as 8 bytes big-endian)
//
// so a delivery's chain root commits to every delivery of the action before it. Pure functions
// of their inputs, on Node's one-shot hash; shared with the web, whose /verify page checks a
// proof itself.
import { hash } from 'node:crypto';

export const HASH_BYTES = 32;
const LEAF = 0x00;
const NODE = 0x01;
const CHAIN = 0x02;

function sha256(data: Buffer): Buffer {
  return hash('sha256', data, 'buffer');
}

/** The root of the tree of no leaves: SHA-256 of the empty string (RFC 6962). */
export const EMPTY_ROOT: Buffer = sha256(Buffer.alloc(0));

/** SHA-256(0x00 || leaf). */
export function leafHash(leaf: Buffer): Buffer {
  const input = Buffer.allocUnsafe(1 + leaf.length);
  input[0] = LEAF;
  leaf.copy(input, 1);
  return sha256(input);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = NODE;
  left.copy(input, 1);
  right.copy(input, 1 + left.length);
  return sha256(input);
}

/** The chain root of a delivery: its tree and leaf count after the chain root of the one before (null for the first). */
export function chainHash(previous: Buffer | null, treeRoot: Buffer, leafCount: number): Buffer {
  if (previous !== null && previous.length !== HASH_BYTES) throw new Error('a chain root is 32 bytes');
  if (treeRoot.length !== HASH_BYTES) throw new Error('a tree root is 32 bytes');
  if (!Number.isSafeInteger(leafCount) || leafCount < 0) throw new Error('a leaf count is a whole number');
  const input = Buffer.alloc(1 + 2 * HASH_BYTES + 8);
  input[0] = CHAIN;
  if (previous) previous.copy(input, 1);
  treeRoot.copy(input, 1 + HASH_BYTES);
  input.writeBigUInt64BE(BigInt(leafCount), 1 + 2 * HASH_BYTES);
  return sha256(input);
}

/**
 * Leaves as one buffer of 32-byte leaves in bytewise order (the form PostgreSQL's
 * `string_agg(receipt_leaf, '' ORDER BY receipt_leaf)` answers in). Throws unless the length is a
 * multiple of 32.
 */
export function sortLeaves(leaves: readonly Buffer[]): Buffer {
  for (const l of leaves) if (l.length !== HASH_BYTES) throw new Error('a leaf is 32 bytes');
  return Buffer.concat([...leaves].sort(Buffer.compare));
}

function leafCountOf(sorted: Buffer): number {
  if (sorted.length % HASH_BYTES !== 0) throw new Error('leaves are 32 bytes each');
  return sorted.length / HASH_BYTES;
}

/** Throws unless the leaves are in strictly increasing bytewise order (sorted, no repeats). */
export function assertSorted(sorted: Buffer): void {
  const n = leafCountOf(sorted);
  for (let i = 1; i < n; i++) {
    if (Buffer.compare(sorted.subarray((i - 1) * HASH_BYTES, i * HASH_BYTES), sorted.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)) >= 0) {
      throw new Error('leaves are not in increasing order');
    }
  }
}

/** Hashes between two pauses of the asynchronous builders: about a millisecond of work. */
const HASHES_PER_SLICE = 1024;

/**
 * The levels of the tree over `sorted`, leaf nodes first, each one buffer of 32-byte nodes (only
 * the last, the root, unless `keep`). A generator that pauses every HASHES_PER_SLICE hashes, so the
 * asynchronous builders can let other work run between slices; the synchronous ones run it through.
 */
function* levelsOf(sorted: Buffer, keep: boolean): Generator<void, Buffer[]> {
  const n = leafCountOf(sorted);
  if (n === 0) return [EMPTY_ROOT];
  let level = Buffer.allocUnsafe(n * HASH_BYTES);
  const leafInput = Buffer.allocUnsafe(1 + HASH_BYTES);
  leafInput[0] = LEAF;
  for (let i = 0; i < n; i++) {
    sorted.copy(leafInput, 1, i * HASH_BYTES, (i + 1) * HASH_BYTES);
    sha256(leafInput).copy(level, i * HASH_BYTES);
    if (i % HASHES_PER_SLICE === HASHES_PER_SLICE - 1) yield;
  }
  const levels = [level];
  const nodeInput = Buffer.allocUnsafe(1 + 2 * HASH_BYTES);
  nodeInput[0] = NODE;
  let width = n;
  while (width > 1) {
    const up = Math.ceil(width / 2);
    const next = Buffer.allocUnsafe(up * HASH_BYTES);
    for (let i = 0; i + 1 < width; i += 2) {
      level.copy(nodeInput, 1, i * HASH_BYTES, (i + 2) * HASH_BYTES);
      sha256(nodeInput).copy(next, (i / 2) * HASH_BYTES);
      if ((i / 2) % HASHES_PER_SLICE === HASHES_PER_SLICE - 1) yield;
    }
    // a last node without a partner goes up as it is
    if (width % 2 === 1) level.copy(next, (up - 1) * HASH_BYTES, (width - 1) * HASH_BYTES, width * HASH_BYTES);
    if (keep) levels.push(next);
    else levels[0] = next;
    level = next;
    width = up;
  }
  return levels;
}

function runThrough<T>(work: Generator<void, T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}

async function runInSlices<T>(work: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The root of the tree over `sorted` (32-byte leaves in increasing order, as sortLeaves gives). */
export function treeRoot(sorted: Buffer): Buffer {
  const levels = runThrough(levelsOf(sorted, false));
  return Buffer.from(levels[levels.length - 1]!.subarray(0, HASH_BYTES));
}

/**
 * The same root, computed in slices of about a millisecond with the event loop free between them:
 * for a process that serves other work meanwhile (a tree of 100,000 leaves is some 200,000 hashes).
 */
export async function treeRootInSlices(sorted: Buffer): Promise<Buffer> {
  const levels = await runInSlices(levelsOf(sorted, false));
  return Buffer.from(levels[levels.length - 1]!.subarray(0, HASH_BYTES));
}

/** One step of an inclusion proof: the sibling's hash, and on which side of the path it stands. */
export interface ProofStep {
  side: 'left' | 'right';
  hash: Buffer;
}

/** A tree kept whole, to answer inclusion proofs. */
export class MerkleTree {
  readonly size: number;
  readonly root: Buffer;
  private readonly levels: Buffer[];
  private readonly leaves: Buffer;

  /** `sorted`: 32-byte leaves in increasing order (checked); `levels` only from inSlices. */
  private constructor(sorted: Buffer, levels?: Buffer[]) {
    // levels given come from inSlices, which checked the leaves itself
    if (!levels) assertSorted(sorted);
    this.leaves = sorted;
    this.size = sorted.length / HASH_BYTES;
    this.levels = levels ?? runThrough(levelsOf(sorted, true));
    this.root = Buffer.from(this.levels[this.levels.length - 1]!.subarray(0, HASH_BYTES));
  }

  /** The tree over `sorted`: 32-byte leaves in increasing order (checked). */
  static of(sorted: Buffer): MerkleTree {
    return new MerkleTree(sorted);
  }

  /** The same tree, built in slices of about a millisecond with the event loop free between them. */
  static async inSlices(sorted: Buffer): Promise<MerkleTree> {
    assertSorted(sorted);
    return new MerkleTree(sorted, await runInSlices(levelsOf(sorted, true)));
  }

  /** The leaf at `index`. */
  leaf(index: number): Buffer {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError('no such leaf');
    return this.leaves.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
  }

  /** The position of `leaf` among the leaves (binary search), or -1. */
  indexOf(leaf: Buffer): number {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(this.leaves.subarray(mid * HASH_BYTES, (mid + 1) * HASH_BYTES), leaf);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The siblings from the leaf at `index` up to the root, nearest first. */
  proof(index: number): ProofStep[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError('no such leaf');
    const steps: ProofStep[] = [];
    let i = index;
    for (let d = 0; d < this.levels.length - 1; d++) {
      const level = this.levels[d]!;
      const width = level.length / HASH_BYTES;
      if (i % 2 === 1) steps.push({ side: 'left', hash: Buffer.from(level.subarray((i - 1) * HASH_BYTES, i * HASH_BYTES)) });
      else if (i + 1 < width) steps.push({ side: 'right', hash: Buffer.from(level.subarray((i + 1) * HASH_BYTES, (i + 2) * HASH_BYTES)) });
      // else: the last node of an odd level, carried up without a sibling
      i = Math.floor(i / 2);
    }
    return steps;
  }
}

/** The root a leaf and its proof lead to. */
export function rootFromProof(leaf: Buffer, proof: readonly ProofStep[]): Buffer {
  let h = leafHash(leaf);
  for (const step of proof) h = step.side === 'left' ? nodeHash(step.hash, h) : nodeHash(h, step.hash);
  return h;
}

/** Whether `leaf` with `proof` leads to `root`. */
export function verifyInclusion(leaf: Buffer, proof: readonly ProofStep[], root: Buffer): boolean {
  if (leaf.length !== HASH_BYTES || root.length !== HASH_BYTES) return false;
  if (proof.some((s) => s.hash.length !== HASH_BYTES || (s.side !== 'left' && s.side !== 'right'))) return false;
  return rootFromProof(leaf, proof).equals(root);
}
