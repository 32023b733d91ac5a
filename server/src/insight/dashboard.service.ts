// The staff dashboard: signatures over time, confirmation rate, countries, sources and the
// delivery ledger, overall and per action. Every figure is one aggregate query that an index
// answers (signatures' (action_id, status, created_at) index covers the counts and the time
// series without touching the table); nothing fetches rows to count them in JavaScript.
// Staff refreshing a dashboard every 10 s during a spike must not become load: answers are
// kept for a few seconds per key, shared by everyone looking at the same thing.
import type pg from 'pg';
import { qb } from '../db/db.ts';
import { ledgerOf, type LedgerEntry } from '../delivery/ledger.ts';
import { notFound } from '../shared/errors.ts';

export type Range = 'minute' | 'hour' | 'day';

/** How far back each bucket size looks, in buckets. */
export const RANGE_BUCKETS: Record<Range, number> = { minute: 60, hour: 48, day: 30 };
const RANGE_MS: Record<Range, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export interface StatusCounts {
  confirmed: number;
  pending: number;
  invalidated: number;
}

export interface Totals extends StatusCounts {
  /** the public count: confirmations folded into action_stats (what the action page shows) */
  counted: number;
  /** confirmed / (confirmed + pending), 0..1; null before the first signature */
  confirmationRate: number | null;
}

export interface Bucket extends StatusCounts {
  /** start of the bucket (UTC) */
  at: string;
}

export interface DeliverySummary {
  batches: number;
  /** letters by status */
  letters: { pending: number; submitting: number; sent: number; failed: number; bounced: number };
  /** signatures carried by letters the receiving servers accepted */
  signaturesDelivered: number;
  opened: number;
  /** confirmed signatures not yet in any batch */
  waiting: number;
  lastBatchAt: string | null;
}

export interface ActionLine extends Totals {
  id: string;
  slug: string;
  title: string;
  kind: 'PETITION' | 'LETTER';
  status: 'DRAFT' | 'PUBLISHED' | 'CLOSED' | 'ARCHIVED';
  goal: number;
}

export interface Dashboard {
  generatedAt: string;
  range: Range;
  totals: Totals;
  series: Bucket[];
  /** confirmed, counted signatures by the signer's country (as on the public page) */
  countries: { country: string; count: number }[];
  /** where signatures in the chart's period came from (the `source` they were signed with) */
  sources: { source: string; count: number }[];
  delivery: DeliverySummary;
}

export interface OverallDashboard extends Dashboard {
  actions: ActionLine[];
}

export interface ActionDashboard extends Dashboard {
  action: ActionLine;
  /** the latest letters, as on the public proof-of-delivery table */
  ledger: LedgerEntry[];
}

const rate = (c: StatusCounts) => (c.confirmed + c.pending === 0 ? null : c.confirmed / (c.confirmed + c.pending));

export class DashboardService {
  private memo = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: () => Date = () => new Date(),
    private readonly ttlMs = 3_000,
  ) {}

  /** Forget cached answers (after staff changed signatures, so their next look is exact). */
  forget(): void {
    this.memo.clear();
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.memo.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value as Promise<T>;
    const value = load();
    this.memo.set(key, { at: now, value });
    value.catch(() => this.memo.delete(key));
    if (this.memo.size > 500) for (const [k, v] of this.memo) if (now - v.at >= this.ttlMs) this.memo.delete(k);
    return value;
  }

  overall(range: Range, locale: string): Promise<OverallDashboard> {
    return this.cached(`all|${range}|${locale}`, async () => {
      const actions = await actionLines(this.pool, null, locale);
      const ids = actions.map((a) => a.id);
      const sum = (k: keyof StatusCounts | 'counted') => actions.reduce((n, a) => n + a[k], 0);
      const counts = { confirmed: sum('confirmed'), pending: sum('pending'), invalidated: sum('invalidated') };
      const since = this.since(range);
      const [series, countries, sources, delivery] = await Promise.all([
        timeSeries(this.pool, ids, range, since),
        countryCounts(this.pool, null),
        sourceCounts(this.pool, ids, since),
        deliverySummary(this.pool, null),
      ]);
      return {
        generatedAt: this.clock().toISOString(),
        range,
        totals: { ...counts, counted: sum('counted'), confirmationRate: rate(counts) },
        series,
        countries,
        sources,
        delivery,
        actions,
      };
    });
  }

  forAction(actionId: string, range: Range, locale: string): Promise<ActionDashboard> {
    return this.cached(`${actionId}|${range}|${locale}`, async () => {
      const [action] = await actionLines(this.pool, actionId, locale);
      if (!action) throw notFound('action_not_found', 'No action has this id');
      const since = this.since(range);
      const [series, countries, sources, delivery, ledger] = await Promise.all([
        timeSeries(this.pool, [actionId], range, since),
        countryCounts(this.pool, actionId),
        sourceCounts(this.pool, [actionId], since),
        deliverySummary(this.pool, actionId),
        qb(this.pool)
          .selectFrom('actions as a')
          .select((eb) => ledgerOf(eb.ref('a.id')).as('ledger'))
          .where('a.id', '=', actionId)
          .executeTakeFirst()
          .then((r) => r?.ledger ?? []),
      ]);
      const { id: _id, slug: _slug, title: _title, kind: _kind, status: _status, goal: _goal, ...totals } = action;
      return { generatedAt: this.clock().toISOString(), range, totals, series, countries, sources, delivery, action, ledger };
    });
  }

  /** Start of the first bucket: the current bucket and the (n - 1) before it. */
  private since(range: Range): Date {
    const step = RANGE_MS[range];
    const current = Math.floor(this.clock().getTime() / step) * step;
    return new Date(current - (RANGE_BUCKETS[range] - 1) * step);
  }
}

/** Every action (or one) with its counts by status; each count is an index-only range scan. */
async function actionLines(pool: pg.Pool, actionId: string | null, locale: string): Promise<ActionLine[]> {
  const { rows } = await pool.query<{
    id: string;
    slug: string;
    title: string | null;
    kind: ActionLine['kind'];
    status: ActionLine['status'];
    goal: number;
    confirmed: number;
    pending: number;
    invalidated: number;
    counted: number;
  }>(
    `SELECT a.id, a.slug, a.kind, a.status, a.goal,
            COALESCE((SELECT t.title FROM action_texts t WHERE t.action_id = a.id AND t.locale = $2),
                     (SELECT t.title FROM action_texts t WHERE t.action_id = a.id AND t.locale = a.default_locale)) AS title,
            (SELECT count(*) FROM signatures s WHERE s.action_id = a.id AND s.status = 'CONFIRMED')::int AS confirmed,
            (SELECT count(*) FROM signatures s WHERE s.action_id = a.id AND s.status = 'PENDING')::int AS pending,
            (SELECT count(*) FROM signatures s WHERE s.action_id = a.id AND s.status = 'INVALIDATED')::int AS invalidated,
            COALESCE(st.confirmed_count, 0) AS counted
       FROM actions a LEFT JOIN action_stats st ON st.action_id = a.id
      WHERE ($1::uuid IS NULL OR a.id = $1::uuid)
      ORDER BY (a.status = 'ARCHIVED'), a.published_at DESC NULLS LAST, a.created_at DESC`,
    [actionId, locale],
  );
  return rows.map((r) => {
    const c = { confirmed: r.confirmed, pending: r.pending, invalidated: r.invalidated };
    return { id: r.id, slug: r.slug, title: r.title ?? r.slug, kind: r.kind, status: r.status, goal: r.goal, ...c, counted: r.counted, confirmationRate: rate(c) };
  });
}

/**
 * Signatures made in each bucket, split by what became of them (confirmed, still pending,
 * invalidated). One range scan of the (action_id, status, created_at) index per action;
 * empty buckets are filled in so the chart's axis is continuous.
 */
async function timeSeries(pool: pg.Pool, actionIds: string[], range: Range, since: Date): Promise<Bucket[]> {
  const { rows } = await pool.query<{ at: Date; confirmed: number; pending: number; invalidated: number }>(
    `WITH per AS (
       SELECT date_bin($3::interval, s.created_at, 'epoch'::timestamptz) AS at, s.status, count(*)::int AS n
         FROM unnest($1::uuid[]) AS ids(id)
         CROSS JOIN LATERAL (
           SELECT created_at, status FROM signatures
            WHERE action_id = ids.id AND status IN ('PENDING', 'CONFIRMED', 'INVALIDATED') AND created_at >= $2
         ) s
        GROUP BY 1, 2)
     SELECT g.at,
            COALESCE(sum(per.n) FILTER (WHERE per.status = 'CONFIRMED'), 0)::int AS confirmed,
            COALESCE(sum(per.n) FILTER (WHERE per.status = 'PENDING'), 0)::int AS pending,
            COALESCE(sum(per.n) FILTER (WHERE per.status = 'INVALIDATED'), 0)::int AS invalidated
       FROM generate_series($2::timestamptz, $2::timestamptz + $3::interval * ($4 - 1), $3::interval) AS g(at)
       LEFT JOIN per ON per.at = g.at
      GROUP BY g.at ORDER BY g.at`,
    [actionIds, since, `${RANGE_MS[range] / 1000} seconds`, RANGE_BUCKETS[range]],
  );
  return rows.map((r) => ({ at: r.at.toISOString(), confirmed: r.confirmed, pending: r.pending, invalidated: r.invalidated }));
}

/** The folded per-country counts (action_country_stats): already aggregated by the counter. */
async function countryCounts(pool: pg.Pool, actionId: string | null): Promise<{ country: string; count: number }[]> {
  const { rows } = await pool.query<{ country: string; count: number }>(
    `SELECT country, sum(confirmed_count)::int AS count FROM action_country_stats
      WHERE ($1::uuid IS NULL OR action_id = $1::uuid)
      GROUP BY country HAVING sum(confirmed_count) > 0
      ORDER BY count DESC, country`,
    [actionId],
  );
  return rows;
}

/** Sources of the signatures in the chart's period, top 20 (the index narrows the rows). */
async function sourceCounts(pool: pg.Pool, actionIds: string[], since: Date): Promise<{ source: string; count: number }[]> {
  const { rows } = await pool.query<{ source: string; count: number }>(
    `SELECT COALESCE(NULLIF(s.source, ''), '') AS source, count(*)::int AS count
       FROM unnest($1::uuid[]) AS ids(id)
       CROSS JOIN LATERAL (
         SELECT source FROM signatures
          WHERE action_id = ids.id AND status IN ('PENDING', 'CONFIRMED') AND created_at >= $2
       ) s
      GROUP BY 1 ORDER BY count DESC, source LIMIT 20`,
    [actionIds, since],
  );
  return rows;
}

async function deliverySummary(pool: pg.Pool, actionId: string | null): Promise<DeliverySummary> {
  const { rows } = await pool.query<{
    batches: number;
    last_batch_at: Date | null;
    pending: number;
    submitting: number;
    sent: number;
    failed: number;
    bounced: number;
    delivered: number;
    opened: number;
    waiting: number;
  }>(
    `WITH b AS (SELECT id, created_at FROM delivery_batches WHERE ($1::uuid IS NULL OR action_id = $1::uuid)),
          l AS (SELECT l.status, l.signature_count, l.opened_at FROM letters l JOIN b ON b.id = l.batch_id)
     SELECT (SELECT count(*) FROM b)::int AS batches,
            (SELECT max(created_at) FROM b) AS last_batch_at,
            count(*) FILTER (WHERE status = 'PENDING')::int AS pending,
            count(*) FILTER (WHERE status = 'SUBMITTING')::int AS submitting,
            count(*) FILTER (WHERE status = 'SENT')::int AS sent,
            count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
            count(*) FILTER (WHERE status = 'BOUNCED')::int AS bounced,
            COALESCE(sum(signature_count) FILTER (WHERE status IN ('SENT', 'BOUNCED')), 0)::int AS delivered,
            count(opened_at)::int AS opened,
            (SELECT count(*) FROM signatures s
              WHERE s.status = 'CONFIRMED' AND s.batch_id IS NULL AND ($1::uuid IS NULL OR s.action_id = $1::uuid))::int AS waiting
       FROM l`,
    [actionId],
  );
  const r = rows[0]!;
  return {
    batches: r.batches,
    letters: { pending: r.pending, submitting: r.submitting, sent: r.sent, failed: r.failed, bounced: r.bounced },
    signaturesDelivered: r.delivered,
    opened: r.opened,
    waiting: r.waiting,
    lastBatchAt: r.last_batch_at ? r.last_batch_at.toISOString() : null,
  };
}
