// Fraud and moderation: find signatures by address hash, network hash, email domain, time
// window or name, preview how many match, then invalidate them in one transaction that also
// takes them back out of the public counts. Staff never see a raw address: a typed address
// is hashed here with the signing path's key, compared, and forgotten.
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';
import { COUNTER_LOCK } from '../signature/counter.service.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { hashIp, hashNetwork } from '../shared/tokens.ts';
import { recordAudit } from '../staff/audit.ts';

export interface FraudFilter {
  /** every search is within one action */
  actionId: string;
  /** a raw address typed by staff: hashed, never stored */
  ip?: string;
  ipHash?: string;
  /** any address inside the network (its /24 or /64): hashed, never stored */
  network?: string;
  netHash?: string;
  emailDomain?: string;
  from?: Date;
  to?: Date;
  /** case-insensitive substring of "first last"; % and _ are literal */
  namePattern?: string;
  /** which signatures: both live states by default */
  status?: 'PENDING' | 'CONFIRMED';
}

export interface SampleRow {
  id: string;
  actionSlug: string;
  createdAt: string;
  status: 'PENDING' | 'CONFIRMED';
  /** first name only, and the domain of the email: never a full address */
  firstName: string | null;
  emailDomain: string | null;
  country: string;
  source: string | null;
  ipHash: string | null;
  netHash: string | null;
}

export interface Preview {
  count: number;
  /** the filter applies to signatures made up to this instant; invalidation uses the same bound */
  asOf: string;
  sample: SampleRow[];
  /** the most frequent address hashes, networks and domains among the matches (top 5 each) */
  clusters: { ipHash: { value: string; count: number }[]; netHash: { value: string; count: number }[]; emailDomain: { value: string; count: number }[] };
}

export const SAMPLE_LIMIT = 20;

export interface FraudDeps {
  pool: pg.Pool;
  secret: string;
  clock: () => Date;
}

/**
 * The spellings under which the signing path may have seen a typed address: IPv6 in its
 * canonical compressed form (as sockets report it), and IPv4 both plain and IPv4-mapped
 * (a server listening on "::" sees IPv4 clients as ::ffff:a.b.c.d).
 */
export function addressSpellings(ip: string): string[] {
  const trimmed = ip.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  const v4 = mapped ? mapped[1]! : /^\d+\.\d+\.\d+\.\d+$/.test(trimmed) ? trimmed : null;
  if (v4) return [v4, `::ffff:${v4}`];
  try {
    return [new URL(`http://[${trimmed}]`).hostname.slice(1, -1)];
  } catch {
    return [trimmed.toLowerCase()];
  }
}

/** `%`, `_` and `\` typed by staff mean themselves in ILIKE. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function narrows(f: FraudFilter): boolean {
  return Boolean(f.ip || f.ipHash || f.network || f.netHash || f.emailDomain || f.from || f.to || f.namePattern);
}

/** The WHERE clause over signatures `s` joined to supporters `p`, and its parameters. */
function whereOf(deps: FraudDeps, f: FraudFilter, asOf: Date): { sql: string; params: unknown[] } {
  if (!narrows(f)) {
    throw new AppError(422, 'filter_too_broad', 'Choose at least one of: address, network, email domain, time window or name');
  }
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('?', `$${params.length}`));
  };
  if (f.status) add(`s.status = ?::"SignatureStatus"`, f.status);
  else where.push(`s.status IN ('PENDING', 'CONFIRMED')`);
  if (f.actionId) add('s.action_id = ?::uuid', f.actionId);
  if (f.ip) add('s.ip_hash = ANY(?::varchar[])', addressSpellings(f.ip).map((a) => hashIp(deps.secret, a)));
  if (f.ipHash) add('s.ip_hash = ?', f.ipHash);
  if (f.network) add('s.net_hash = ?', hashNetwork(deps.secret, f.network));
  if (f.netHash) add('s.net_hash = ?', f.netHash);
  if (f.emailDomain) add(`split_part(p.canonical_email, '@', 2) = ?`, f.emailDomain.replace(/^@/, '').toLowerCase());
  if (f.from) add('s.created_at >= ?', f.from);
  if (f.to) add('s.created_at < ?', f.to);
  if (f.namePattern) {
    // a sign-up not yet confirmed carries its own name (the supporter's changes only at confirmation)
    add(
      `(COALESCE(s.pending_first_name, p.first_name, '') || ' ' || COALESCE(s.pending_last_name, p.last_name, '')) ILIKE ? ESCAPE '\\'`,
      `%${escapeLike(f.namePattern)}%`,
    );
  }
  add('s.created_at <= ?', asOf);
  return { sql: where.join(' AND '), params };
}

async function checkAction(pool: pg.Pool, actionId: string): Promise<void> {
  const { rowCount } = await pool.query('SELECT 1 FROM actions WHERE id = $1', [actionId]);
  if (!rowCount) throw notFound('action_not_found', 'No action has this id');
}

/**
 * What a filter matches, for staff to decide on. A look at personal data (it answers whether
 * an address, a name or a domain signed the action), so it is audited: who, the filter as the
 * invalidation keeps it (a typed address only as a flag), how many matched, and which
 * signatures were shown. No audit row, no answer.
 */
export async function previewFraud(deps: FraudDeps, staffId: string, f: FraudFilter): Promise<Preview> {
  const asOf = deps.clock();
  const { sql, params } = whereOf(deps, f, asOf);
  await checkAction(deps.pool, f.actionId);
  const from = 'FROM signatures s JOIN supporters p ON p.id = s.supporter_id';
  const [count, sample, clusters] = await Promise.all([
    deps.pool.query<{ n: number }>(`SELECT count(*)::int AS n ${from} WHERE ${sql}`, params),
    deps.pool.query<SampleRow & { createdAt: Date }>(
      `SELECT s.id, a.slug AS "actionSlug", s.created_at AS "createdAt", s.status, COALESCE(s.pending_first_name, p.first_name) AS "firstName",
              NULLIF(split_part(p.canonical_email, '@', 2), '') AS "emailDomain", s.country, s.source,
              s.ip_hash AS "ipHash", s.net_hash AS "netHash"
         ${from} JOIN actions a ON a.id = s.action_id
        WHERE ${sql} ORDER BY s.created_at DESC, s.id LIMIT ${SAMPLE_LIMIT}`,
      params,
    ),
    deps.pool.query<{ kind: 'ipHash' | 'netHash' | 'emailDomain'; value: string; count: number }>(
      `WITH m AS (SELECT s.ip_hash, s.net_hash, split_part(p.canonical_email, '@', 2) AS domain ${from} WHERE ${sql})
       (SELECT 'ipHash' AS kind, ip_hash AS value, count(*)::int AS count FROM m WHERE ip_hash IS NOT NULL GROUP BY ip_hash ORDER BY 3 DESC, 2 LIMIT 5)
       UNION ALL
       (SELECT 'netHash', net_hash, count(*)::int FROM m WHERE net_hash IS NOT NULL GROUP BY net_hash ORDER BY 3 DESC, 2 LIMIT 5)
       UNION ALL
       (SELECT 'emailDomain', domain, count(*)::int FROM m WHERE domain <> '' GROUP BY domain ORDER BY 3 DESC, 2 LIMIT 5)`,
      params,
    ),
  ]);
  const pick = (kind: string) => clusters.rows.filter((r) => r.kind === kind).map(({ value, count }) => ({ value, count }));
  await recordAudit(deps.pool, {
    staffId,
    verb: 'fraud_previewed',
    entity: 'signature',
    entityId: f.actionId,
    before: { filter: auditFilter(f), asOf: asOf.toISOString() },
    after: { matched: count.rows[0]!.n, shown: sample.rows.map((r) => r.id) },
    at: asOf,
  });
  return {
    count: count.rows[0]!.n,
    asOf: asOf.toISOString(),
    sample: sample.rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
    clusters: { ipHash: pick('ipHash'), netHash: pick('netHash'), emailDomain: pick('emailDomain') },
  };
}

export interface InvalidateInput {
  filter: FraudFilter;
  /** the preview's asOf: signatures made after the preview are left alone */
  asOf: Date;
  /** the preview's count: if the matches changed since, nothing is done (409) */
  expectedCount: number;
  reason: string;
}

export interface InvalidateResult {
  invalidated: number;
  /** of which had been folded into the public counts, and were taken back out of them */
  uncounted: number;
}

/**
 * Invalidates every match in one transaction and corrects the public counts.
 *
 * A confirmed signature is in action_stats/action_country_stats exactly when the counter
 * has stamped its counted_at. Holding the counter's advisory lock for this transaction
 * means no fold runs concurrently: each invalidated row either had been folded (counted_at
 * set, so its action and country lose one) or never will be (the counter folds only
 * CONFIRMED rows). Signatures already delivered in a letter stay delivered; they just stop
 * counting.
 */
export async function invalidateFraud(deps: FraudDeps, staffId: string, input: InvalidateInput): Promise<InvalidateResult> {
  const { sql, params } = whereOf(deps, input.filter, input.asOf);
  await checkAction(deps.pool, input.filter.actionId);
  const result = await inTransaction(deps.pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [COUNTER_LOCK]);
    const n = params.length;
    const { rows } = await client.query<{ invalidated: number; uncounted: number }>(
      `WITH gone AS (
         UPDATE signatures s SET status = 'INVALIDATED', invalidated_at = $${n + 1}, invalid_reason = $${n + 2}
           FROM supporters p
          WHERE p.id = s.supporter_id AND ${sql}
         RETURNING s.action_id, s.country, (s.counted_at IS NOT NULL) AS counted
       ), per_action AS (
         UPDATE action_stats st SET confirmed_count = st.confirmed_count - x.n, updated_at = $${n + 1}
           FROM (SELECT action_id, count(*)::int AS n FROM gone WHERE counted GROUP BY action_id) x
          WHERE st.action_id = x.action_id
       ), per_country AS (
         UPDATE action_country_stats cs SET confirmed_count = cs.confirmed_count - x.n
           FROM (SELECT action_id, country, count(*)::int AS n FROM gone WHERE counted GROUP BY action_id, country) x
          WHERE cs.action_id = x.action_id AND cs.country = x.country
       )
       SELECT count(*)::int AS invalidated, (count(*) FILTER (WHERE counted))::int AS uncounted FROM gone`,
      [...params, deps.clock(), input.reason],
    );
    const r = rows[0]!;
    if (r.invalidated !== input.expectedCount) {
      throw conflict(
        'count_changed',
        `The filter now matches ${r.invalidated} signatures, not ${input.expectedCount}. Nothing was changed; preview again.`,
      );
    }
    await recordAudit(client, {
      staffId,
      verb: 'bulk_invalidated',
      entity: 'signature',
      entityId: input.filter.actionId,
      before: { filter: auditFilter(input.filter), asOf: input.asOf.toISOString() },
      after: { invalidated: r.invalidated, uncounted: r.uncounted, reason: input.reason },
      at: deps.clock(),
    });
    return r;
  });
  return result;
}

/** The filter as the audit log keeps it: a typed address is kept only as its hashes. */
export function auditFilter(f: FraudFilter): Record<string, unknown> {
  const { ip: _ip, network: _network, ...rest } = f;
  return {
    ...rest,
    ...(f.ip ? { ipTyped: true } : {}),
    ...(f.network ? { networkTyped: true } : {}),
    from: f.from?.toISOString(),
    to: f.to?.toISOString(),
  };
}

// ---------------------------------------------------------------- the public wall

export interface WallEntry {
  signatureId: string;
  firstName: string;
  country: string;
  confirmedAt: string;
  hiddenAt: string | null;
}

export const WALL_LIST_LIMIT = 100;

/**
 * The signers who may appear on an action's wall (confirmed, chose to), newest first, hidden or
 * not. Hidden entries and exact times are not public: the look is audited.
 */
export async function listWall(deps: FraudDeps, staffId: string, actionId: string): Promise<WallEntry[]> {
  await checkAction(deps.pool, actionId);
  const { rows } = await deps.pool.query<{ id: string; first_name: string; country: string; confirmed_at: Date; wall_hidden_at: Date | null }>(
    `SELECT s.id, p.first_name, s.country, s.confirmed_at, s.wall_hidden_at
       FROM signatures s JOIN supporters p ON p.id = s.supporter_id
      WHERE s.action_id = $1 AND s.status = 'CONFIRMED' AND s.public_wall AND p.erased_at IS NULL AND p.first_name IS NOT NULL
      ORDER BY s.confirmed_at DESC LIMIT ${WALL_LIST_LIMIT}`,
    [actionId],
  );
  await recordAudit(deps.pool, { staffId, verb: 'wall_listed', entity: 'signature', entityId: actionId, after: { shown: rows.map((r) => r.id) }, at: deps.clock() });
  return rows.map((r) => ({
    signatureId: r.id,
    firstName: r.first_name,
    country: r.country,
    confirmedAt: r.confirmed_at.toISOString(),
    hiddenAt: r.wall_hidden_at ? r.wall_hidden_at.toISOString() : null,
  }));
}

/** Hides (or shows again) one signer's entry on the public wall; audited. */
export async function setWallHidden(deps: FraudDeps, staffId: string, signatureId: string, hidden: boolean): Promise<WallEntry> {
  return inTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<{ action_id: string; first_name: string | null; country: string; confirmed_at: Date | null; wall_hidden_at: Date | null }>(
      `SELECT s.action_id, p.first_name, s.country, s.confirmed_at, s.wall_hidden_at
         FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE s.id = $1 FOR UPDATE OF s`,
      [signatureId],
    );
    const row = rows[0];
    if (!row) throw notFound('signature_not_found', 'No signature has this id');
    const before = row.wall_hidden_at;
    const after = hidden ? (before ?? deps.clock()) : null;
    if ((before === null) !== (after === null)) {
      await client.query('UPDATE signatures SET wall_hidden_at = $2 WHERE id = $1', [signatureId, after]);
      await recordAudit(client, {
        staffId,
        verb: hidden ? 'wall_hidden' : 'wall_shown',
        entity: 'signature',
        entityId: signatureId,
        before: { actionId: row.action_id, wallHiddenAt: before?.toISOString() ?? null },
        after: { actionId: row.action_id, wallHiddenAt: after?.toISOString() ?? null },
        at: deps.clock(),
      });
    }
    return {
      signatureId,
      firstName: row.first_name ?? '',
      country: row.country,
      confirmedAt: row.confirmed_at?.toISOString() ?? '',
      hiddenAt: after?.toISOString() ?? null,
    };
  });
}
