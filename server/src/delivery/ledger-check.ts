// Recomputes what every delivery committed to (delivery-roots.ts) from the database as it is now,
// and says which deliveries no longer match what was stored and published: `npm run verify-ledger`
// (server/bin/verify-ledger.ts). For each delivery of online signatures, in each action's chain
// order:
//
// - its tree: the root and leaf count recomputed from the receipt leaves of the signatures that
//   now name it, against the stored ones (a signature moved out or in, a leaf changed);
// - its link: its chain root against the one recomputed from the stored chain root before it,
//   its stored root and count (a stored root rewritten without the chain after it);
// - its place: the chain of an action runs 1, 2, 3... with no gap (a delivery deleted);
// - and a delivery of online signatures made after its action's chain began that commits to
//   nothing (its roots wiped).
// A delivery of paper signatures or a threshold's formal request commits to nothing by design
// (delivery-roots.ts) and is not checked; neither are deliveries made before receipts.
import type pg from 'pg';
import { sql } from 'kysely';
import { qb } from '../db/db.ts';
import { chainHash, treeRoot } from '../shared/merkle.ts';
import { batchLeaves } from './delivery-roots.ts';

export interface LedgerProblem {
  batchId: string;
  action: string;
  /** its place in the action's chain (null for a delivery that commits to nothing) */
  chainIndex: number | null;
  /** YYYY-MM-DD */
  day: string;
  /** what does not match, in words */
  problems: string[];
}

export interface LedgerCheck {
  actions: number;
  deliveries: number;
  leaves: number;
  problems: LedgerProblem[];
}

export interface LedgerCheckOptions {
  /** only these actions (ids); all by default */
  actionIds?: string[];
  /** told after each delivery checked: how many so far, of how many */
  onProgress?: (done: number, total: number) => void;
}

const short = (b: Buffer | null) => (b ? b.toString('hex') : 'none');

export async function checkLedger(pool: pg.Pool, opts: LedgerCheckOptions = {}): Promise<LedgerCheck> {
  const k = qb(pool);
  const only = opts.actionIds;
  if (only && only.length === 0) return { actions: 0, deliveries: 0, leaves: 0, problems: [] };
  const batches = await k
    .selectFrom('delivery_batches as b')
    .innerJoin('actions as a', 'a.id', 'b.action_id')
    .select(['b.id', 'b.action_id', 'a.slug', 'b.created_at', 'b.tree_root', 'b.leaf_count', 'b.chain_root', 'b.chain_index'])
    .where('b.chain_index', 'is not', null)
    .$if(only !== undefined, (q) => q.where('b.action_id', 'in', only!))
    .orderBy('b.action_id')
    .orderBy('b.chain_index')
    .execute();
  // deliveries of online signatures that commit to nothing, made after their action's chain began
  const uncommitted = await k
    .selectFrom('delivery_batches as b')
    .innerJoin('actions as a', 'a.id', 'b.action_id')
    .select(['b.id', 'b.action_id', 'a.slug', 'b.created_at'])
    .where('b.chain_index', 'is', null)
    // whatever its reason says (a column anyone with the database can edit): a delivery carrying
    // online signatures is one that must commit to them
    .where(({ exists, selectFrom }) => exists(selectFrom('signatures as s').select(sql.lit(1).as('one')).whereRef('s.batch_id', '=', 'b.id')))
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('delivery_batches as f')
          .select(sql.lit(1).as('one'))
          .whereRef('f.action_id', '=', 'b.action_id')
          .where('f.chain_index', '=', 1)
          .whereRef('f.created_at', '<=', 'b.created_at'),
      ),
    )
    .$if(only !== undefined, (q) => q.where('b.action_id', 'in', only!))
    .execute();

  const problems: LedgerProblem[] = uncommitted.map((b) => ({
    batchId: b.id,
    action: b.slug,
    chainIndex: null,
    day: b.created_at.toISOString().slice(0, 10),
    problems: ['carries online signatures but commits to no root, though deliveries of its action before it do'],
  }));
  const actions = new Set<string>();
  let leaves = 0;
  let previous = null as { action: string; index: number; chainRoot: Buffer } | null;
  for (const [i, b] of batches.entries()) {
    actions.add(b.action_id);
    const found: string[] = [];
    const sorted = await batchLeaves(pool, b.id);
    const count = sorted.length / 32;
    leaves += count;
    const root = treeRoot(sorted);
    if (count !== b.leaf_count) found.push(`its signatures now have ${count} receipt leaves, where ${b.leaf_count} were committed to`);
    if (!root.equals(b.tree_root!)) found.push(`its tree root is now ${root.toString('hex')}, where ${short(b.tree_root)} was published`);
    const before: typeof previous = previous && previous.action === b.action_id ? previous : null;
    const index = b.chain_index!;
    if (index !== (before ? before.index + 1 : 1)) {
      found.push(before ? `it is number ${index} of its action's chain, but the one before it is number ${before.index}: a delivery is missing` : `it is number ${index} of its action's chain, but the chain has nothing before it: a delivery is missing`);
    }
    // the link, from the chain root stored before it, so a wrong root is reported where it is
    // (after a gap there is nothing to check it against: the gap is reported)
    const linked = index === 1 ? null : before?.index === index - 1 ? before.chainRoot : undefined;
    if (linked !== undefined) {
      const link = chainHash(linked, b.tree_root!, b.leaf_count!);
      if (!link.equals(b.chain_root!)) found.push(`its chain root ${short(b.chain_root)} does not follow from the one before it, its root and its count (that gives ${link.toString('hex')})`);
    }
    if (found.length > 0) problems.push({ batchId: b.id, action: b.slug, chainIndex: index, day: b.created_at.toISOString().slice(0, 10), problems: found });
    previous = { action: b.action_id, index, chainRoot: b.chain_root! };
    opts.onProgress?.(i + 1, batches.length);
  }
  return { actions: actions.size, deliveries: batches.length, leaves, problems };
}

/** One line per delivery that does not match. */
export function problemLine(p: LedgerProblem): string {
  const where = p.chainIndex === null ? 'not in the chain' : `number ${p.chainIndex} of the chain`;
  return `MISMATCH delivery ${p.batchId} of action "${p.action}" (${where}, made ${p.day}): ${p.problems.join('; ')}`;
}
