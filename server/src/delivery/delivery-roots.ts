// What a delivery commits to (docs/members-and-officials.md#checking-a-receipt): the root of
// the Merkle tree of its signatures' receipt leaves (shared/merkle.ts), how many leaves it has,
// and its place and root in the action's chain of deliveries.
//
// - A delivery of online signatures (the batcher's, "send now", closing) commits to the leaves of
//   the signatures it carries that have one. A signature from before receipts has no leaf: it is
//   carried and counted as before, and is simply not in the tree (so the leaf count can be lower
//   than the delivery's signature count). A delivery whose signatures have no leaf at all
//   commits to the empty tree, and still takes its place in the chain.
// - A delivery of paper signatures (no receipts exist on paper) or a threshold's formal request
//   (it carries no signatures) commits to nothing: its roots stay null and it takes no place in
//   the chain, so withdrawing a paper import, which may delete its delivery, never breaks it.
// - Deliveries made before receipts existed have no roots either; an action's chain starts at its
//   first delivery made since.
//
// The batcher writes the roots in the transaction that assigns the signatures (commitBatch), under
// its per-action lock, so two deliveries of one action never chain to the same predecessor (and
// the unique index on (action_id, chain_index) would refuse it if they did).
import { sql } from 'kysely';
import { qb, type Queryable } from '../db/db.ts';
import { chainHash, treeRootInSlices } from '../shared/merkle.ts';

export interface DeliveryRoots {
  treeRoot: Buffer;
  leafCount: number;
  chainRoot: Buffer;
  chainIndex: number;
  /** the chain root of the delivery before, or null for the first of the action */
  previousChainRoot: Buffer | null;
}

/**
 * The receipt leaves of a delivery's signatures, in one buffer sorted bytewise (as PostgreSQL
 * orders bytea), in one query. Every signature the delivery carries counts, whatever its status
 * since: a signature invalidated after delivery was still delivered.
 */
export async function batchLeaves(db: Queryable, batchId: string): Promise<Buffer> {
  const row = await qb(db)
    .selectFrom('signatures')
    .select(sql<Buffer | null>`string_agg(receipt_leaf, ''::bytea ORDER BY receipt_leaf)`.as('leaves'))
    .where('batch_id', '=', batchId)
    .where('receipt_leaf', 'is not', null)
    .executeTakeFirst();
  return row?.leaves ?? Buffer.alloc(0);
}

/** The last link of an action's chain: its place and chain root, or null before the first. */
export async function lastLink(db: Queryable, actionId: string): Promise<{ chainIndex: number; chainRoot: Buffer } | null> {
  const row = await qb(db)
    .selectFrom('delivery_batches')
    .select(['chain_index', 'chain_root'])
    .where('action_id', '=', actionId)
    .where('chain_index', 'is not', null)
    .orderBy('chain_index', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && row.chain_index !== null && row.chain_root !== null ? { chainIndex: row.chain_index, chainRoot: row.chain_root } : null;
}

/** What a delivery of `sortedLeaves` (its signatures' leaves, sorted) commits to, after the action's last link. */
export async function rootsAfter(last: { chainIndex: number; chainRoot: Buffer } | null, sortedLeaves: Buffer): Promise<DeliveryRoots> {
  // in slices: the workers process that builds deliveries sends mail meanwhile
  const root = await treeRootInSlices(sortedLeaves);
  const leafCount = sortedLeaves.length / 32;
  return {
    treeRoot: root,
    leafCount,
    chainIndex: (last?.chainIndex ?? 0) + 1,
    chainRoot: chainHash(last?.chainRoot ?? null, root, leafCount),
    previousChainRoot: last?.chainRoot ?? null,
  };
}

/** The columns of delivery_batches that hold `roots`. */
export function rootsColumns(roots: DeliveryRoots) {
  return { tree_root: roots.treeRoot, leaf_count: roots.leafCount, chain_root: roots.chainRoot, chain_index: roots.chainIndex };
}

/**
 * Commits the delivery `batchId` of `actionId` to `sortedLeaves` (its signatures' leaves, sorted):
 * its tree root and leaf count, chained after the action's last delivery. Runs inside the
 * transaction that assigned the signatures, under the batcher's lock of the action (the batcher
 * itself reads the last link and stores the roots within its own statements: batch.service.ts).
 */
export async function commitBatch(db: Queryable, actionId: string, batchId: string, sortedLeaves: Buffer): Promise<DeliveryRoots> {
  const roots = await rootsAfter(await lastLink(db, actionId), sortedLeaves);
  await qb(db).updateTable('delivery_batches').set(rootsColumns(roots)).where('id', '=', batchId).execute();
  return roots;
}

/** A root as the letters, packets, ledger and API show it: 64 lowercase hexadecimal digits. */
export function rootHex(root: Buffer): string {
  return root.toString('hex');
}

/** The page where a signer checks their receipt (web/src/routes/[[lang=locale]]/verify), in the reader's language. */
export function verifyUrl(publicBaseUrl: string, locale?: string): string {
  const base = publicBaseUrl.replace(/\/+$/, '');
  return `${base}${locale && locale !== 'en' ? `/${locale}` : ''}/verify`;
}
