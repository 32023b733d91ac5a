// The batcher: claims confirmed, undelivered signatures (FOR UPDATE SKIP LOCKED), records a
// DeliveryBatch with the roots it commits to (delivery-roots.ts) and one Letter per target in the
// same transaction, and only then enqueues the letters' ids. If the enqueue is lost, the sweeper
// finds the PENDING letters.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { sql, type QueryCreator } from 'kysely';
import { ActionStatus, inTransaction, qb, SignatureStatus, TargetMode, type DB } from '../db/db.ts';
import type { Queues } from '../queue/queue.ts';
import { deliveryDue, sendsInOfficeHours } from './delivery.policy.ts';
import { isOfficeOpen, nextOfficeOpening } from './office-hours.ts';
import { owedByCountry } from './country-minimum.ts';
import { rootsAfter, rootsColumns } from './delivery-roots.ts';

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
   * this many are owed a letter (country-minimum.ts)
   */
  countryMin: number;
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
  const candidates = await qb(deps.pool)
    .selectFrom('actions as a')
    .crossJoinLateral((eb) =>
      eb
        .selectFrom(owedByCountry(eb.ref('a.id'), eb.ref('a.target_mode'), deps.countryMin).as('w'))
        .select((e) => e.cast<number>(e.fn.coalesce(e.fn.sum('w.n').filterWhere('w.may_go', '=', true), e.lit(0)), 'integer').as('undelivered'))
        .as('u'),
    )
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('delivery_batches as b')
          .select(['b.created_at', 'b.total_count'])
          .whereRef('b.action_id', '=', 'a.id')
          .orderBy('b.created_at', 'desc')
          .limit(1)
          .as('lb'),
      (join) => join.onTrue(),
    )
    .select((eb) => [
      'a.id',
      'a.status',
      'a.delivery_policy',
      'a.delivery_every_n',
      'a.milestones',
      'u.undelivered',
      eb
        .selectFrom('signatures as c')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('c.action_id', '=', 'a.id')
        .where('c.status', '=', SignatureStatus.CONFIRMED)
        .$asScalar()
        .$notNull()
        .as('confirmed_total'),
      'lb.created_at as last_batch_at',
      'lb.total_count as last_batch_total',
    ])
    .where('a.status', 'in', [ActionStatus.PUBLISHED, ActionStatus.CLOSED])
    .where('a.delivery_paused', '=', false)
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('signatures as s')
          .select(sql.lit(1).as('one'))
          .whereRef('s.action_id', '=', 'a.id')
          .where('s.status', '=', SignatureStatus.CONFIRMED)
          .where('s.batch_id', 'is', null),
      ),
    )
    .where('u.undelivered', '>', 0)
    .execute();
  const built: BuiltBatch[] = [];
  for (const a of candidates) {
    const input = {
      policy: a.delivery_policy,
      everyN: a.delivery_every_n,
      milestones: a.milestones,
      undelivered: a.undelivered,
      confirmedTotal: a.confirmed_total,
      lastBatchAt: a.last_batch_at,
      lastBatchTotal: a.last_batch_total ?? 0,
      status: a.status,
      now,
    };
    let due = deliveryDue({ ...input, anyOfficeOpen: true });
    // the offices are read only for a digest that is otherwise due
    if (due && sendsInOfficeHours(a.delivery_policy) && a.status !== ActionStatus.CLOSED) due = deliveryDue({ ...input, anyOfficeOpen: await anyOfficeOpen(deps.pool, a.id, now) });
    if (!due) continue;
    const reason = a.status === ActionStatus.CLOSED ? 'close' : a.delivery_policy.toLowerCase();
    const batch = await buildBatch(deps, a.id, reason, { officeHours: sendsInOfficeHours(a.delivery_policy) && a.status !== ActionStatus.CLOSED });
    if (batch) built.push(batch);
  }
  return built;
}

export interface BatchOptions {
  officeHours: boolean;
  /** runs inside the batch's transaction once its rows are written (the audit of "send now") */
  onWritten?: (client: pg.PoolClient, batch: BuiltBatch) => Promise<void>;
}

/** Whether the office of one of the action's officials is open at `now` (true when it has none). */
async function anyOfficeOpen(pool: pg.Pool, actionId: string, now: Date): Promise<boolean> {
  const offices = await qb(pool)
    .selectFrom('action_targets as at')
    .innerJoin('targets as t', 't.id', 'at.target_id')
    .select(['t.timezone', 't.office_opens_at', 't.office_closes_at'])
    .where('at.action_id', '=', actionId)
    .where('t.disabled_at', 'is', null)
    .execute();
  return offices.length === 0 || offices.some((o) => isOfficeOpen(now, { timezone: o.timezone, opensAt: o.office_opens_at, closesAt: o.office_closes_at }));
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
  const k = qb(client);
  const lock = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${BATCHER_LOCK}, hashtext(${actionId})) AS ok`.execute(k);
  if (!lock.rows[0]?.ok) return null;
  const { target_mode, default_locale, locales } = await k
    .selectFrom('actions as a')
    .select((eb) => [
      'a.target_mode',
      'a.default_locale',
      sql<string[]>`ARRAY(${eb.selectFrom('action_texts as t').select('t.locale').whereRef('t.action_id', '=', 'a.id')})`.as('locales'),
    ])
    .where('a.id', '=', actionId)
    .executeTakeFirstOrThrow();
  const targets = await k
    .selectFrom('action_targets as at')
    .innerJoin('targets as t', 't.id', 'at.target_id')
    .select(['t.id', 't.country', 't.language', 't.timezone', 't.office_opens_at', 't.office_closes_at'])
    .where('at.action_id', '=', actionId)
    .orderBy('at.position')
    .orderBy('t.name')
    .execute();

  // One statement claims the owed signatures, records the batch and marks them as its own,
  // and answers how many came from each country (what the letters need), so no list of ids
  // travels to Node and back. The confirmed total so far is the public count (action_stats)
  // plus the confirmations the counter has not folded yet: a confirmed signature is in
  // action_stats exactly when its counted_at is set (counter.service.ts), and one statement
  // reads both in one snapshot, so this is exact without counting every confirmed row.
  // In a BY_SIGNER_COUNTRY action only the signatures of countries that reached the minimum
  // are claimed (country-minimum.ts); the others wait, in no batch, for their country.
  const batchId = randomUUID();
  // may_go is computed once (materialized): inlined, PostgreSQL could plan it as a join run again
  // for every owed signature (on a new action whose statistics show none owed, it did: 20,000
  // signatures took 108 s to claim)
  const rows = await k
    .with((cte) => cte('may_go').materialized(), (db) =>
      db
        .selectFrom(owedByCountry(sql.val(actionId), sql.val(target_mode), deps.countryMin).as('w'))
        .select('w.country')
        .where('w.may_go', '=', true),
    )
    .with('claimed', (db) =>
      db
        .selectFrom('signatures')
        .select('id')
        .where('action_id', '=', actionId)
        .where('status', '=', SignatureStatus.CONFIRMED)
        .where('batch_id', 'is', null)
        .where('country', 'in', db.selectFrom('may_go').select('may_go.country'))
        .orderBy('confirmed_at')
        .limit(deps.maxBatch ?? 100_000)
        .forUpdate()
        .skipLocked(),
    )
    .with('batch', (db) =>
      db
        .insertInto('delivery_batches')
        .columns(['id', 'action_id', 'reason', 'signature_count', 'total_count', 'created_at'])
        .expression((eb) =>
          eb
            .selectFrom('claimed')
            .select([
              eb.val(batchId).as('id'),
              eb.val(actionId).as('action_id'),
              eb.val(reason).as('reason'),
              eb.fn.countAll<number>().as('signature_count'),
              // the confirmed total: the public count plus the confirmations not folded into it yet
              sql<number>`GREATEST(count(*), ${eb.fn.coalesce(
                // the public count: the signatures counted from paper too (action/paper.service.ts)
                eb.selectFrom('action_stats').select((s) => s('confirmed_count', '+', s.ref('paper_count')).as('n')).where('action_id', '=', actionId).$asScalar(),
                eb.lit(0),
              )} + ${eb
                .selectFrom('signatures')
                .select(eb.fn.countAll().as('n'))
                .where('action_id', '=', actionId)
                .where('status', '=', SignatureStatus.CONFIRMED)
                .where('counted_at', 'is', null)
                .$asScalar()})`.as('total_count'),
              eb.val(now).as('created_at'),
            ])
            .having(eb.fn.countAll(), '>', 0),
        )
        .returning('id'),
    )
    .with('marked', (db) =>
      db
        .updateTable('signatures as s')
        .from(['claimed as c', 'batch as b'])
        .set((eb) => ({ batch_id: eb.ref('b.id') }))
        .whereRef('s.id', '=', 'c.id')
        .returning(['s.country', 's.receipt_leaf']),
    )
    .selectFrom('marked')
    .select([
      'marked.country',
      sql<number>`count(*)::int`.as('n'),
      sql<Buffer | null>`NULL::bytea`.as('leaves'),
      sql<number | null>`NULL::int`.as('last_index'),
      sql<Buffer | null>`NULL::bytea`.as('last_root'),
    ])
    .groupBy('marked.country')
    // and one more row: what the delivery commits to (delivery-roots.ts), read here rather than by
    // more round trips: the receipt leaves of the signatures claimed, sorted bytewise, and the last
    // link of the action's chain (this statement does not see the batch it inserts)
    .unionAll((db) => {
      const lastLink = db
        .selectFrom('delivery_batches as lb')
        .where('lb.action_id', '=', actionId)
        .where('lb.chain_index', 'is not', null)
        .orderBy('lb.chain_index', 'desc')
        .limit(1);
      return db
        .selectFrom('marked')
        .select([
          sql<string>`NULL`.as('country'),
          sql<number>`-1`.as('n'),
          sql<Buffer | null>`string_agg(marked.receipt_leaf, ''::bytea ORDER BY marked.receipt_leaf)`.as('leaves'),
          lastLink.select('lb.chain_index').$asScalar().as('last_index'),
          lastLink.select('lb.chain_root').$asScalar().as('last_root'),
        ])
        .where('marked.receipt_leaf', 'is not', null);
    })
    .execute();
  const claimed = rows.filter((r) => r.n >= 0);
  if (claimed.length === 0) return null;
  const byCountry = new Map(claimed.map((r) => [r.country, r.n]));
  const signatureCount = claimed.reduce((a, r) => a + r.n, 0);
  const commitment = rows.find((r) => r.n < 0);
  const roots = await rootsAfter(
    commitment?.last_index != null && commitment.last_root ? { chainIndex: commitment.last_index, chainRoot: commitment.last_root } : null,
    commitment?.leaves ?? Buffer.alloc(0),
  );
  // stored with the letters' rows, in the same statement (or alone when no letter is owed)
  const storeRoots = (db: QueryCreator<DB>) => db.updateTable('delivery_batches').set(rootsColumns(roots)).where('id', '=', batchId);

  const letters: { id: string; target: string; count: number; locale: string; messageId: string; due: Date }[] = [];
  for (const t of targets) {
    const count =
      target_mode === TargetMode.BY_SIGNER_COUNTRY ? (t.country === null ? 0 : (byCountry.get(t.country) ?? 0)) : signatureCount;
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
  if (letters.length === 0) await storeRoots(k).execute();
  else {
    await k
      .with('roots', (db) => storeRoots(db).returning('id'))
      .insertInto('letters')
      .values(
        letters.map((l) => ({
          id: l.id,
          batch_id: batchId,
          target_id: l.target,
          signature_count: l.count,
          locale: l.locale,
          message_id: l.messageId,
          next_attempt_at: l.due,
          created_at: now,
        })),
      )
      .execute();
  }
  return {
    batchId,
    actionId,
    signatureCount,
    letterIds: letters.map((l) => l.id),
    jobs: letters.map((l) => ({ id: l.id, attempts: 0, delayMs: Math.max(0, l.due.getTime() - now.getTime()) })),
  };
}
