// The staff dashboard: signatures over time, confirmation rate, countries, sources and the
// delivery ledger, overall and per action. Every figure is one aggregate query that an index
// answers (signatures' (action_id, status, created_at) index covers the counts and the time
// series without touching the table); nothing fetches rows to count them in JavaScript.
// Staff refreshing a dashboard every 10 s during a spike must not become load: answers are
// kept for a few seconds per key, shared by everyone looking at the same thing.
import { sql, type Expression } from 'kysely';
import type pg from 'pg';
import { ActionStatus, LetterStatus, qb, SignatureStatus, type ActionKind } from '../db/db.ts';
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
  kind: ActionKind;
  status: ActionStatus;
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
  const rows = await qb(pool)
    .selectFrom('actions as a')
    .leftJoin('action_stats as st', 'st.action_id', 'a.id')
    .select((eb) => {
      const countIn = (status: SignatureStatus) =>
        eb.selectFrom('signatures as s').select(sql<number>`count(*)::int`.as('n')).whereRef('s.action_id', '=', 'a.id').where('s.status', '=', status).$asScalar();
      const titleIn = (locale: Expression<string>) =>
        eb.selectFrom('action_texts as t').select('t.title').whereRef('t.action_id', '=', 'a.id').where('t.locale', '=', locale).$asScalar();
      return [
        'a.id',
        'a.slug',
        'a.kind',
        'a.status',
        'a.goal',
        // the title in the staff member's language, else in the action's own
        eb.fn.coalesce(titleIn(eb.val(locale)), titleIn(eb.ref('a.default_locale'))).as('title'),
        countIn(SignatureStatus.CONFIRMED).as('confirmed'),
        countIn(SignatureStatus.PENDING).as('pending'),
        countIn(SignatureStatus.INVALIDATED).as('invalidated'),
        // the public count: the signatures counted from paper too
        eb.fn.coalesce(eb('st.confirmed_count', '+', eb.ref('st.paper_count')), sql.lit(0)).as('counted'),
      ];
    })
    .$if(actionId !== null, (q) => q.where('a.id', '=', actionId!))
    .orderBy((eb) => eb('a.status', '=', ActionStatus.ARCHIVED))
    .orderBy('a.published_at', (o) => o.desc().nullsLast())
    .orderBy('a.created_at', 'desc')
    .execute();
  return rows.map((r) => {
    const c = { confirmed: r.confirmed, pending: r.pending, invalidated: r.invalidated };
    return { id: r.id, slug: r.slug, title: r.title ?? r.slug, kind: r.kind, status: r.status, goal: r.goal, ...c, counted: r.counted, confirmationRate: rate(c) };
  });
}

/** An aggregate that is NULL over no rows (a sum) as an int, 0 then. */
const intOr0 = (e: Expression<number | null>) => sql<number>`COALESCE(${e}, 0)::int`;

/**
 * Signatures made in each bucket, split by what became of them (confirmed, still pending,
 * invalidated). One range scan of the (action_id, status, created_at) index per action;
 * empty buckets are filled in so the chart's axis is continuous.
 */
async function timeSeries(pool: pg.Pool, actionIds: string[], range: Range, since: Date): Promise<Bucket[]> {
  const step = `${RANGE_MS[range] / 1000} seconds`;
  const rows = await qb(pool)
    .with('per', (db) =>
      db
        .selectFrom(sql<{ id: string }>`unnest(${actionIds}::uuid[])`.as<'ids'>(sql`ids(id)`))
        .crossJoinLateral((eb) =>
          eb
            .selectFrom('signatures')
            .select((e) => [sql<Date>`date_bin(${step}::interval, ${e.ref('created_at')}, 'epoch'::timestamptz)`.as('at'), 'status'])
            .whereRef('action_id', '=', 'ids.id')
            .where('status', 'in', [SignatureStatus.PENDING, SignatureStatus.CONFIRMED, SignatureStatus.INVALIDATED])
            .where('created_at', '>=', since)
            .as('s'),
        )
        .select(['s.at', 's.status', sql<number>`count(*)::int`.as('n')])
        .groupBy(['s.at', 's.status']),
    )
    .selectFrom(
      sql<{ at: Date }>`generate_series(${since}::timestamptz, ${since}::timestamptz + ${step}::interval * ${RANGE_BUCKETS[range] - 1}, ${step}::interval)`.as<'g'>(
        sql`g(at)`,
      ),
    )
    .leftJoin('per', 'per.at', 'g.at')
    .select((eb) => [
      'g.at',
      intOr0(eb.fn.sum<number | null>('per.n').filterWhere('per.status', '=', SignatureStatus.CONFIRMED)).as('confirmed'),
      intOr0(eb.fn.sum<number | null>('per.n').filterWhere('per.status', '=', SignatureStatus.PENDING)).as('pending'),
      intOr0(eb.fn.sum<number | null>('per.n').filterWhere('per.status', '=', SignatureStatus.INVALIDATED)).as('invalidated'),
    ])
    .groupBy('g.at')
    .orderBy('g.at')
    .execute();
  return rows.map((r) => ({ at: r.at.toISOString(), confirmed: r.confirmed, pending: r.pending, invalidated: r.invalidated }));
}

/** The folded per-country counts (action_country_stats): already aggregated by the counter. */
async function countryCounts(pool: pg.Pool, actionId: string | null): Promise<{ country: string; count: number }[]> {
  return qb(pool)
    .selectFrom('action_country_stats')
    .select((eb) => ['country', eb.cast<number>(eb.fn.sum('confirmed_count'), 'integer').as('count')])
    .$if(actionId !== null, (q) => q.where('action_id', '=', actionId!))
    .groupBy('country')
    .having((eb) => eb.fn.sum('confirmed_count'), '>', 0)
    .orderBy('count', 'desc')
    .orderBy('country')
    .execute();
}

/** Sources of the signatures in the chart's period, top 20 (the index narrows the rows). */
async function sourceCounts(pool: pg.Pool, actionIds: string[], since: Date): Promise<{ source: string; count: number }[]> {
  return qb(pool)
    .selectFrom(sql<{ id: string }>`unnest(${actionIds}::uuid[])`.as<'ids'>(sql`ids(id)`))
    .crossJoinLateral((eb) =>
      eb
        .selectFrom('signatures')
        // no source and an empty one are the same answer
        .select((e) => e.fn.coalesce('source', sql.lit('')).as('source'))
        .whereRef('action_id', '=', 'ids.id')
        .where('status', 'in', [SignatureStatus.PENDING, SignatureStatus.CONFIRMED])
        .where('created_at', '>=', since)
        .as('s'),
    )
    .select(['s.source', sql<number>`count(*)::int`.as('count')])
    .groupBy('s.source')
    .orderBy('count', 'desc')
    .orderBy('s.source')
    .limit(20)
    .execute();
}

async function deliverySummary(pool: pg.Pool, actionId: string | null): Promise<DeliverySummary> {
  const r = await qb(pool)
    .with('b', (db) =>
      db
        .selectFrom('delivery_batches')
        .select(['id', 'created_at'])
        .$if(actionId !== null, (q) => q.where('action_id', '=', actionId!)),
    )
    .with('l', (db) => db.selectFrom('letters as l').innerJoin('b', 'b.id', 'l.batch_id').select(['l.status', 'l.signature_count', 'l.opened_at']))
    .selectFrom('l')
    .select((eb) => {
      const letters = (status: LetterStatus) => eb.cast<number>(eb.fn.countAll().filterWhere('l.status', '=', status), 'integer');
      return [
        eb.selectFrom('b').select(sql<number>`count(*)::int`.as('n')).$asScalar().as('batches'),
        eb
          .selectFrom('b')
          .select((e) => e.fn.max<Date | null>('b.created_at').as('at'))
          .$asScalar()
          .as('last_batch_at'),
        letters(LetterStatus.PENDING).as('pending'),
        letters(LetterStatus.SUBMITTING).as('submitting'),
        letters(LetterStatus.SENT).as('sent'),
        letters(LetterStatus.FAILED).as('failed'),
        letters(LetterStatus.BOUNCED).as('bounced'),
        // accepted by the receiving server: sent, or bounced later
        intOr0(eb.fn.sum<number | null>('l.signature_count').filterWhere('l.status', 'in', [LetterStatus.SENT, LetterStatus.BOUNCED])).as('delivered'),
        eb.cast<number>(eb.fn.count('l.opened_at'), 'integer').as('opened'),
        eb
          .selectFrom('signatures as s')
          .select(sql<number>`count(*)::int`.as('n'))
          .where('s.status', '=', SignatureStatus.CONFIRMED)
          .where('s.batch_id', 'is', null)
          .$if(actionId !== null, (q) => q.where('s.action_id', '=', actionId!))
          .$asScalar()
          .as('waiting'),
      ];
    })
    .executeTakeFirstOrThrow();
  return {
    batches: r.batches,
    letters: { pending: r.pending, submitting: r.submitting, sent: r.sent, failed: r.failed, bounced: r.bounced },
    signaturesDelivered: r.delivered,
    opened: r.opened,
    waiting: r.waiting,
    lastBatchAt: r.last_batch_at ? r.last_batch_at.toISOString() : null,
  };
}
