// The single writer of public counts. Confirmations are folded into action_stats and
// action_country_stats in bulk, never as a +1 on a hot row per signature. An advisory lock
// keeps one folder at a time across any number of worker processes.
import type pg from 'pg';
import { sql } from 'kysely';
import { inTransaction, qb } from '../db/db.ts';
import { counterFold, runHot } from '../db/hot-statements.ts';

/** Held by whoever changes what counts (the fold here, bulk invalidation in insight/fraud.service.ts). */
export const COUNTER_LOCK = 7_310_001;

/** Folds up to `limit` new confirmations; returns how many it folded (0 if another process holds the lock). */
export async function foldConfirmations(pool: pg.Pool, limit = 20_000): Promise<number> {
  return inTransaction(pool, async (client) => {
    const lock = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${COUNTER_LOCK}) AS ok`.execute(qb(client));
    if (!lock.rows[0]?.ok) return 0;
    const rows = await runHot(client, counterFold, [limit]);
    return rows[0]?.folded ?? 0;
  });
}
