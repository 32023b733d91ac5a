// Fraud and moderation: find signatures by address hash, network hash, email domain, time
// window or name, preview how many match, then invalidate them in one transaction that also
// takes them back out of the public counts. Staff never see a raw address: a typed address
// is hashed here with the signing path's key, compared, and forgotten.
import { expressionBuilder, sql, type Expression, type SqlBool } from 'kysely';
import type pg from 'pg';
import { inTransaction, qb, SignatureStatus, type DB } from '../db/db.ts';
import { COUNTER_LOCK } from '../signature/counter.service.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { hashIp, hashNetwork } from '../shared/tokens.ts';
import { recordAudit } from '../staff/audit.ts';
import { signaturesInvalidated } from '../shared/metrics.ts';
import { emailDomainIndex, openName, openOrNull, supporterKey } from '../privacy/personal-data.ts';

/** The states a signature can be invalidated from. */
export type LiveStatus = typeof SignatureStatus.PENDING | typeof SignatureStatus.CONFIRMED;

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
  status?: LiveStatus;
}

export interface SampleRow {
  id: string;
  actionSlug: string;
  createdAt: string;
  status: LiveStatus;
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

type ClusterKind = keyof Preview['clusters'];

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

function narrows(f: FraudFilter): boolean {
  return Boolean(f.ip || f.ipHash || f.network || f.netHash || f.emailDomain || f.from || f.to || f.namePattern);
}

/** Signatures `s` with their supporters `p`: what a filter is written over. */
type Matched = DB & { s: DB['signatures']; p: DB['supporters'] };

const matchedEb = expressionBuilder<Matched, 's' | 'p'>();

/**
 * The most signatures a name search opens: names are sealed, so they are matched here, one by
 * one, among the signatures the other criteria (and the action) leave.
 */
export const NAME_SEARCH_MAX = 200_000;

/** The domain of a sealed address ('' if it has none). */
function domainOf(supporterId: string, dataKey: Buffer | null, email: Buffer | null): string {
  const address = openOrNull(supporterKey(supporterId, dataKey), supporterId, 'email', email) ?? '';
  return address.includes('@') ? address.slice(address.lastIndexOf('@') + 1).toLowerCase() : '';
}

/** The condition over signatures `s` joined to supporters `p` (every criterion given), made up to asOf. */
function requireNarrow(f: FraudFilter): void {
  if (!narrows(f)) {
    throw new AppError(422, 'filter_too_broad', 'Choose at least one of: address, network, email domain, time window or name');
  }
}

async function whereOf(deps: FraudDeps, f: FraudFilter, asOf: Date): Promise<Expression<SqlBool>> {
  requireNarrow(f);
  const eb = matchedEb;
  const where: Expression<SqlBool>[] = [
    f.status ? eb('s.status', '=', f.status) : eb('s.status', 'in', [SignatureStatus.PENDING, SignatureStatus.CONFIRMED]),
  ];
  if (f.actionId) where.push(eb('s.action_id', '=', f.actionId));
  if (f.ip) where.push(eb('s.ip_hash', '=', eb.fn.any(eb.val(addressSpellings(f.ip).map((a) => hashIp(deps.secret, a))))));
  if (f.ipHash) where.push(eb('s.ip_hash', '=', f.ipHash));
  if (f.network) where.push(eb('s.net_hash', '=', hashNetwork(deps.secret, f.network)));
  if (f.netHash) where.push(eb('s.net_hash', '=', f.netHash));
  // by the domain's blind index: the addresses are sealed
  if (f.emailDomain) where.push(eb('p.email_domain_index', '=', emailDomainIndex(`@${f.emailDomain.replace(/^@/, '')}`)));
  if (f.from) where.push(eb('s.created_at', '>=', f.from));
  if (f.to) where.push(eb('s.created_at', '<', f.to));
  where.push(eb('s.created_at', '<=', asOf));
  if (!f.namePattern) return eb.and(where);
  // Names are sealed: the signatures the other criteria leave are read, their names opened and
  // matched here, and the condition becomes the list of those that match. A sign-up not yet
  // confirmed carries its own name (the supporter's changes only at confirmation).
  const candidates = await qb(deps.pool)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select(['s.id', 's.supporter_id', 's.pending_name', 'p.name', 'p.data_key'])
    .where(eb.and(where))
    .limit(NAME_SEARCH_MAX + 1)
    .execute();
  if (candidates.length > NAME_SEARCH_MAX) {
    throw new AppError(422, 'filter_too_broad', `A name is looked for among at most ${NAME_SEARCH_MAX} signatures: add a time window, an address or a domain`);
  }
  const pattern = f.namePattern.toLocaleLowerCase();
  const ids = candidates
    .filter((r) => {
      const key = supporterKey(r.supporter_id, r.data_key);
      const pending = openName(key, r.supporter_id, r.pending_name);
      const own = r.pending_name ? pending : openName(key, r.supporter_id, r.name);
      return `${own.first ?? ''} ${own.last ?? ''}`.toLocaleLowerCase().includes(pattern);
    })
    .map((r) => r.id);
  return ids.length === 0 ? sql<boolean>`false` : eb.and([...where, eb('s.id', 'in', ids)]);
}

async function checkAction(pool: pg.Pool, actionId: string): Promise<void> {
  const found = await qb(pool).selectFrom('actions').select('id').where('id', '=', actionId).executeTakeFirst();
  if (!found) throw notFound('action_not_found', 'No action has this id');
}

/**
 * What a filter matches, for staff to decide on. A look at personal data (it answers whether
 * an address, a name or a domain signed the action), so it is audited: who, the filter as the
 * invalidation keeps it (a typed address only as a flag), how many matched, and which
 * signatures were shown. No audit row, no answer.
 */
export async function previewFraud(deps: FraudDeps, staffId: string, f: FraudFilter): Promise<Preview> {
  const asOf = deps.clock();
  requireNarrow(f);
  await checkAction(deps.pool, f.actionId);
  const where = await whereOf(deps, f, asOf);
  const k = qb(deps.pool);
  const matched = () => k.selectFrom('signatures as s').innerJoin('supporters as p', 'p.id', 's.supporter_id').where(where);
  const [count, sample, clusters] = await Promise.all([
    matched().select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
    matched()
      .innerJoin('actions as a', 'a.id', 's.action_id')
      .select([
        's.id',
        'a.slug as actionSlug',
        's.created_at as createdAt',
        's.status',
        's.supporter_id as supporterId',
        's.pending_name as pendingName',
        'p.name',
        'p.data_key as dataKey',
        'p.email',
        's.country',
        's.source',
        's.ip_hash as ipHash',
        's.net_hash as netHash',
      ])
      .$narrowType<{ status: LiveStatus }>()
      .orderBy('s.created_at', 'desc')
      .orderBy('s.id')
      .limit(SAMPLE_LIMIT)
      .execute(),
    // the five most frequent values of each column among the matches
    k
      .with('m', () => matched().select(['s.ip_hash', 's.net_hash', 'p.email_domain_index as domain']))
      .selectFrom((eb) =>
        eb
          .selectFrom('m')
          .select([sql.lit<ClusterKind>('ipHash').as('kind'), 'ip_hash as value', sql<number>`count(*)::int`.as('count')])
          .where('ip_hash', 'is not', null)
          .groupBy('ip_hash')
          .orderBy('count', 'desc')
          .orderBy('value')
          .limit(5)
          .as('top'),
      )
      .selectAll()
      .unionAll((eb) =>
        eb
          .selectFrom((e) =>
            e
              .selectFrom('m')
              .select([sql.lit<ClusterKind>('netHash').as('kind'), 'net_hash as value', sql<number>`count(*)::int`.as('count')])
              .where('net_hash', 'is not', null)
              .groupBy('net_hash')
              .orderBy('count', 'desc')
              .orderBy('value')
              .limit(5)
              .as('top'),
          )
          .selectAll(),
      )
      .unionAll((eb) =>
        eb
          .selectFrom((e) =>
            e
              .selectFrom('m')
              .select([sql.lit<ClusterKind>('emailDomain').as('kind'), 'domain as value', sql<number>`count(*)::int`.as('count')])
              .where('domain', 'is not', null)
              .groupBy('domain')
              .orderBy('count', 'desc')
              .orderBy('value')
              .limit(5)
              .as('top'),
          )
          .selectAll(),
      )
      .execute(),
  ]);
  // a domain is known by its blind index: shown as the domain of one of its addresses
  const domainIndexes = clusters.filter((r) => r.kind === 'emailDomain').map((r) => r.value!);
  const domainNames = new Map<string, string>();
  if (domainIndexes.length > 0) {
    const one = await k
      .selectFrom('supporters as p')
      .distinctOn('p.email_domain_index')
      .select(['p.email_domain_index', 'p.id', 'p.data_key', 'p.email'])
      .where('p.email_domain_index', 'in', domainIndexes)
      .where('p.email', 'is not', null)
      .orderBy('p.email_domain_index')
      .execute();
    for (const r of one) domainNames.set(r.email_domain_index!, domainOf(r.id, r.data_key, r.email));
  }
  const pick = (kind: string) =>
    clusters.filter((r) => r.kind === kind).map(({ value, count }) => ({ value: kind === 'emailDomain' ? (domainNames.get(value!) ?? '') : value!, count }));
  await recordAudit(deps.pool, {
    staffId,
    verb: 'fraud_previewed',
    entity: 'action',
    entityId: f.actionId,
    before: { filter: auditFilter(f), asOf: asOf.toISOString() },
    after: { matched: count.n, shown: sample.map((r) => r.id) },
    at: asOf,
  });
  return {
    count: count.n,
    asOf: asOf.toISOString(),
    sample: sample.map(({ supporterId, pendingName, name, dataKey, email, ...r }) => {
      const key = supporterKey(supporterId, dataKey);
      const shown = pendingName ? openName(key, supporterId, pendingName) : openName(key, supporterId, name);
      const domain = domainOf(supporterId, dataKey, email);
      return { ...r, firstName: shown.first, emailDomain: domain || null, createdAt: r.createdAt.toISOString() };
    }),
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
  requireNarrow(input.filter);
  await checkAction(deps.pool, input.filter.actionId);
  const where = await whereOf(deps, input.filter, input.asOf);
  const result = await inTransaction(deps.pool, async (client) => {
    const k = qb(client);
    await k.selectNoFrom((eb) => eb.fn('pg_advisory_xact_lock', [eb.val(COUNTER_LOCK)]).as('locked')).execute();
    const now = deps.clock();
    const r = await k
      .with('gone', (db) =>
        db
          .updateTable('signatures as s')
          .from('supporters as p')
          .set({ status: SignatureStatus.INVALIDATED, invalidated_at: now, invalid_reason: input.reason })
          .whereRef('p.id', '=', 's.supporter_id')
          .where(where)
          .returning((eb) => ['s.action_id', 's.country', eb('s.counted_at', 'is not', null).as('counted')]),
      )
      .with('per_action', (db) =>
        db
          .updateTable('action_stats as st')
          .from((eb) =>
            eb
              .selectFrom('gone')
              .select(['action_id', sql<number>`count(*)::int`.as('n')])
              .where((w) => w.ref('counted'))
              .groupBy('action_id')
              .as('x'),
          )
          .set((eb) => ({ confirmed_count: eb('st.confirmed_count', '-', eb.ref('x.n')), updated_at: now }))
          .whereRef('st.action_id', '=', 'x.action_id'),
      )
      .with('per_country', (db) =>
        db
          .updateTable('action_country_stats as cs')
          .from((eb) =>
            eb
              .selectFrom('gone')
              .select(['action_id', 'country', sql<number>`count(*)::int`.as('n')])
              .where((w) => w.ref('counted'))
              .groupBy(['action_id', 'country'])
              .as('x'),
          )
          .set((eb) => ({ confirmed_count: eb('cs.confirmed_count', '-', eb.ref('x.n')) }))
          .whereRef('cs.action_id', '=', 'x.action_id')
          .whereRef('cs.country', '=', 'x.country'),
      )
      .selectFrom('gone')
      .select((eb) => [
        sql<number>`count(*)::int`.as('invalidated'),
        eb.cast<number>(eb.fn.countAll().filterWhere((w) => w.ref('counted')), 'integer').as('uncounted'),
      ])
      .executeTakeFirstOrThrow();
    if (r.invalidated !== input.expectedCount) {
      throw conflict(
        'count_changed',
        `The filter now matches ${r.invalidated} signatures, not ${input.expectedCount}. Nothing was changed; preview again.`,
      );
    }
    await recordAudit(client, {
      staffId,
      verb: 'bulk_invalidated',
      entity: 'action',
      entityId: input.filter.actionId,
      before: { filter: auditFilter(input.filter), asOf: input.asOf.toISOString() },
      after: { invalidated: r.invalidated, uncounted: r.uncounted, reason: input.reason },
      at: deps.clock(),
    });
    return r;
  });
  // staff's free-text reason stays in the audit log; the metric gets one fixed label
  if (result.invalidated > 0) signaturesInvalidated.inc({ reason: 'fraud' }, result.invalidated);
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
  const rows = await qb(deps.pool)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select(['s.id', 's.supporter_id', 'p.data_key', 'p.name', 's.country', 's.confirmed_at', 's.wall_hidden_at'])
    .where('s.action_id', '=', actionId)
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .where((eb) => eb.ref('s.public_wall'))
    .where('p.erased_at', 'is', null)
    .where('p.name', 'is not', null)
    .$narrowType<{ confirmed_at: Date }>()
    .orderBy('s.confirmed_at', 'desc')
    .limit(WALL_LIST_LIMIT)
    .execute();
  // a look at one action's wall: the record is the action (the signatures shown are in `after`)
  await recordAudit(deps.pool, { staffId, verb: 'wall_listed', entity: 'action', entityId: actionId, after: { shown: rows.map((r) => r.id) }, at: deps.clock() });
  return rows.map((r) => ({
    signatureId: r.id,
    firstName: openName(supporterKey(r.supporter_id, r.data_key), r.supporter_id, r.name).first ?? '',
    country: r.country,
    confirmedAt: r.confirmed_at.toISOString(),
    hiddenAt: r.wall_hidden_at ? r.wall_hidden_at.toISOString() : null,
  }));
}

/** Hides (or shows again) one signer's entry on the public wall; audited. */
export async function setWallHidden(deps: FraudDeps, staffId: string, signatureId: string, hidden: boolean): Promise<WallEntry> {
  return inTransaction(deps.pool, async (client) => {
    const k = qb(client);
    const row = await k
      .selectFrom('signatures as s')
      .innerJoin('supporters as p', 'p.id', 's.supporter_id')
      .select(['s.action_id', 's.supporter_id', 'p.data_key', 'p.name', 's.country', 's.confirmed_at', 's.wall_hidden_at'])
      .where('s.id', '=', signatureId)
      .forUpdate('s')
      .executeTakeFirst();
    if (!row) throw notFound('signature_not_found', 'No signature has this id');
    const before = row.wall_hidden_at;
    const after = hidden ? (before ?? deps.clock()) : null;
    if ((before === null) !== (after === null)) {
      await k.updateTable('signatures').set({ wall_hidden_at: after }).where('id', '=', signatureId).execute();
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
      firstName: openName(supporterKey(row.supporter_id, row.data_key), row.supporter_id, row.name).first ?? '',
      country: row.country,
      confirmedAt: row.confirmed_at?.toISOString() ?? '',
      hiddenAt: after?.toISOString() ?? null,
    };
  });
}
