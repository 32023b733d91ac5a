// The single writer of public counts. Confirmations are folded into action_stats and
// action_country_stats in bulk, never as a +1 on a hot row per signature. An advisory lock
// keeps one folder at a time across any number of worker processes.
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';

/** Held by whoever changes what counts (the fold here, bulk invalidation in insight/fraud.service.ts). */
export const COUNTER_LOCK = 7_310_001;

/** Folds up to `limit` new confirmations; returns how many it folded (0 if another process holds the lock). */
export async function foldConfirmations(pool: pg.Pool, limit = 20_000): Promise<number> {
  return inTransaction(pool, async (client) => {
    const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [COUNTER_LOCK]);
    if (!lock.rows[0]?.ok) return 0;
    const { rows } = await client.query<{ folded: number }>({
      name: 'counter-fold',
      text: `WITH folded AS (
         UPDATE signatures SET counted_at = now()
         WHERE id IN (SELECT id FROM signatures WHERE status = 'CONFIRMED' AND counted_at IS NULL LIMIT $1)
         RETURNING action_id, country
       ), per_action AS (
         INSERT INTO action_stats (action_id, confirmed_count, updated_at)
         SELECT action_id, count(*), now() FROM folded GROUP BY action_id
         ON CONFLICT (action_id) DO UPDATE
           SET confirmed_count = action_stats.confirmed_count + EXCLUDED.confirmed_count, updated_at = now()
       ), per_country AS (
         INSERT INTO action_country_stats (action_id, country, confirmed_count)
         SELECT action_id, country, count(*) FROM folded GROUP BY action_id, country
         ON CONFLICT (action_id, country) DO UPDATE
           SET confirmed_count = action_country_stats.confirmed_count + EXCLUDED.confirmed_count
       )
       SELECT count(*)::int AS folded FROM folded`,
      values: [limit],
    });
    return rows[0]?.folded ?? 0;
  });
}
