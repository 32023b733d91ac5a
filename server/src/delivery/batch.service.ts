// The batcher: claims confirmed, undelivered signatures (FOR UPDATE SKIP LOCKED), records a
// DeliveryBatch and one Letter per target in the same transaction, and only then enqueues
// the letters' ids. If the enqueue is lost, the sweeper finds the PENDING letters.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';
import type { Queues } from '../queue/queue.ts';
import { deliveryDue, sendsInOfficeHours } from './delivery.policy.ts';
import { nextOfficeOpening } from './office-hours.ts';
import { owedByCountrySql } from './country-minimum.ts';
import type { DeliveryPolicy } from '../generated/kysely/enums.ts';
import { loadConfig } from '../config/config.ts';

const BATCHER_LOCK = 7_310_002;

export interface BatchDeps {
  pool: pg.Pool;
  queues: Pick<Queues, 'enqueueLetters'>;
  mailDomain: string;
  clock?: () => Date;
  /** most signatures one batch claims */
  maxBatch?: number;
  /**
   * PUBLIC_COUNTRY_MIN: in a BY_SIGNER_COUNTRY action, a country's signers wait until at least
   * this many are owed a letter (country-minimum.ts); from the configuration when absent
   */
  countryMin?: number;
}

function countryMinOf(deps: Pick<BatchDeps, 'countryMin'>): number {
  return deps.countryMin ?? loadConfig().PUBLIC_COUNTRY_MIN;
}

export interface BuiltBatch {
  batchId: string;
  actionId: string;
  signatureCount: number;
  letterIds: string[];
}

export async function buildDueBatches(deps: BatchDeps): Promise<BuiltBatch[]> {
  const now = (deps.clock ?? (() => new Date()))();
  // `undelivered` is what a delivery made now would carry: the signatures held for their
  // country's minimum (country-minimum.ts) are not owed to the policy yet
  const { rows: candidates } = await deps.pool.query<{
    id: string;
    status: 'PUBLISHED' | 'CLOSED';
    delivery_policy: DeliveryPolicy;
    delivery_every_n: number;
    milestones: number[];
    undelivered: number;
    confirmed_total: number;
    last_batch_at: Date | null;
    last_batch_total: number | null;
  }>(
    `SELECT a.id, a.status, a.delivery_policy, a.delivery_every_n, a.milestones, u.undelivered,
            (SELECT count(*)::int FROM signatures c WHERE c.action_id = a.id AND c.status = 'CONFIRMED') AS confirmed_total,
            lb.created_at AS last_batch_at, lb.total_count AS last_batch_total
     FROM actions a
     CROSS JOIN LATERAL (SELECT COALESCE(sum(w.n) FILTER (WHERE w.may_go), 0)::int AS undelivered
                         FROM (${owedByCountrySql('a.id', 'a.target_mode', '$1::int')}) w) u
     LEFT JOIN LATERAL (SELECT created_at, total_count FROM delivery_batches b WHERE b.action_id = a.id
                        ORDER BY created_at DESC LIMIT 1) lb ON true
     WHERE a.status IN ('PUBLISHED', 'CLOSED') AND NOT a.delivery_paused
       AND EXISTS (SELECT 1 FROM signatures s WHERE s.action_id = a.id AND s.status = 'CONFIRMED' AND s.batch_id IS NULL)
       AND u.undelivered > 0`,
    [countryMinOf(deps)],
  );
  const built: BuiltBatch[] = [];
  for (const a of candidates) {
    const due = deliveryDue({
      policy: a.delivery_policy,
      everyN: a.delivery_every_n,
      milestones: a.milestones,
      undelivered: a.undelivered,
      confirmedTotal: a.confirmed_total,
      lastBatchAt: a.last_batch_at,
      lastBatchTotal: a.last_batch_total ?? 0,
      status: a.status,
      now,
    });
    if (!due) continue;
    const reason = a.status === 'CLOSED' ? 'close' : a.delivery_policy.toLowerCase();
    const batch = await buildBatch(deps, a.id, reason, { officeHours: sendsInOfficeHours(a.delivery_policy) && a.status !== 'CLOSED' });
    if (batch) built.push(batch);
  }
  return built;
}

export interface BatchOptions {
  officeHours: boolean;
  /** runs inside the batch's transaction once its rows are written (the audit of "send now") */
  onWritten?: (client: pg.PoolClient, batch: BuiltBatch) => Promise<void>;
}

/** Builds one batch for one action now (also used by "send now"); null if nothing to send. */
export async function buildBatch(deps: BatchDeps, actionId: string, reason: string, opts: BatchOptions = { officeHours: false }): Promise<BuiltBatch | null> {
  const result = await inTransaction(deps.pool, async (client) => {
    const written = await writeBatch(client, deps, actionId, reason, opts);
    if (written) {
      const { jobs: _jobs, ...built } = written;
      await opts.onWritten?.(client, built);
    }
    return written;
  });
  if (result) {
    const { jobs, ...built } = result;
    await deps.queues.enqueueLetters(jobs).catch(() => {
      // the letters are PENDING in the database; the sweeper will enqueue them
    });
    return built;
  }
  return null;
}

/**
 * Claims the owed signatures and writes the batch and its letters on `client`, inside the
 * caller's transaction. The preview of the next delivery runs this and rolls back, so what
 * staff preview is built by exactly the code that builds the real thing.
 * Null when there is nothing owed, or another batcher holds this action right now.
 */
export async function writeBatch(
  client: pg.PoolClient,
  deps: Pick<BatchDeps, 'mailDomain' | 'clock' | 'maxBatch' | 'countryMin'>,
  actionId: string,
  reason: string,
  opts: Pick<BatchOptions, 'officeHours'>,
): Promise<(BuiltBatch & { jobs: { id: string; attempts: number; delayMs: number }[] }) | null> {
  const now = (deps.clock ?? (() => new Date()))();
  const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [BATCHER_LOCK, actionId]);
  if (!lock.rows[0]?.ok) return null;
  const action = await client.query<{ target_mode: string; default_locale: string; locales: string[] }>(
    `SELECT target_mode, default_locale, ARRAY(SELECT locale FROM action_texts WHERE action_id = a.id) AS locales
     FROM actions a WHERE id = $1`,
    [actionId],
  );
  const { target_mode, default_locale, locales } = action.rows[0]!;
  const targets = await client.query<{
    id: string;
    country: string | null;
    language: string;
    timezone: string;
    office_opens_at: number;
    office_closes_at: number;
  }>(
    `SELECT t.id, t.country, t.language, t.timezone, t.office_opens_at, t.office_closes_at
     FROM action_targets at JOIN targets t ON t.id = at.target_id
     WHERE at.action_id = $1 ORDER BY at.position, t.name`,
    [actionId],
  );

  // One statement claims the owed signatures, records the batch and marks them as its own,
  // and answers how many came from each country (what the letters need), so no list of ids
  // travels to Node and back. The confirmed total so far is the public count (action_stats)
  // plus the confirmations the counter has not folded yet: a confirmed signature is in
  // action_stats exactly when its counted_at is set (counter.service.ts), and one statement
  // reads both in one snapshot, so this is exact without counting every confirmed row.
  // In a BY_SIGNER_COUNTRY action only the signatures of countries that reached the minimum
  // are claimed (country-minimum.ts); the others wait, in no batch, for their country.
  const batchId = randomUUID();
  const claimed = await client.query<{ country: string; n: number }>(
    `WITH may_go AS (
       SELECT w.country FROM (${owedByCountrySql('$1', '$6::text', '$7::int')}) w WHERE w.may_go
     ), claimed AS (
       SELECT id FROM signatures
       WHERE action_id = $1 AND status = 'CONFIRMED' AND batch_id IS NULL AND country IN (SELECT country FROM may_go)
       ORDER BY confirmed_at LIMIT $2 FOR UPDATE SKIP LOCKED
     ), batch AS (
       INSERT INTO delivery_batches (id, action_id, reason, signature_count, total_count, created_at)
       SELECT $3, $1, $4, count(*),
              GREATEST(count(*), COALESCE((SELECT confirmed_count FROM action_stats WHERE action_id = $1), 0)
                                 + (SELECT count(*) FROM signatures
                                    WHERE action_id = $1 AND status = 'CONFIRMED' AND counted_at IS NULL)),
              $5
       FROM claimed HAVING count(*) > 0
       RETURNING id
     ), marked AS (
       UPDATE signatures s SET batch_id = b.id FROM claimed c, batch b WHERE s.id = c.id RETURNING s.country
     )
     SELECT country, count(*)::int AS n FROM marked GROUP BY country`,
    [actionId, deps.maxBatch ?? 100_000, batchId, reason, now, target_mode, countryMinOf(deps)],
  );
  if (claimed.rows.length === 0) return null;
  const byCountry = new Map(claimed.rows.map((r) => [r.country, r.n]));
  const signatureCount = claimed.rows.reduce((a, r) => a + r.n, 0);

  const letters: { id: string; target: string; count: number; locale: string; messageId: string; due: Date }[] = [];
  for (const t of targets.rows) {
    const count =
      target_mode === 'BY_SIGNER_COUNTRY' ? (t.country === null ? 0 : (byCountry.get(t.country) ?? 0)) : signatureCount;
    if (count === 0) continue;
    const id = randomUUID();
    letters.push({
      id,
      target: t.id,
      count,
      locale: locales.includes(t.language) ? t.language : default_locale,
      messageId: `<letter.${id}@${deps.mailDomain}>`,
      due: opts.officeHours
        ? nextOfficeOpening(now, { timezone: t.timezone, opensAt: t.office_opens_at, closesAt: t.office_closes_at })
        : now,
    });
  }
  if (letters.length > 0) {
    await client.query(
      `INSERT INTO letters (id, batch_id, target_id, signature_count, locale, message_id, next_attempt_at, created_at)
       SELECT i, $1, t, c, l, m, d, $8
       FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::varchar[], $6::varchar[], $7::timestamptz[]) AS x(i, t, c, l, m, d)`,
      [
        batchId,
        letters.map((l) => l.id),
        letters.map((l) => l.target),
        letters.map((l) => l.count),
        letters.map((l) => l.locale),
        letters.map((l) => l.messageId),
        letters.map((l) => l.due),
        now,
      ],
    );
  }
  return {
    batchId,
    actionId,
    signatureCount,
    letterIds: letters.map((l) => l.id),
    jobs: letters.map((l) => ({ id: l.id, attempts: 0, delayMs: Math.max(0, l.due.getTime() - now.getTime()) })),
  };
}
