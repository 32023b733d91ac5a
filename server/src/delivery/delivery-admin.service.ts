// What staff do with an action's delivery: choose its policy, pause and resume it, send what
// is owed now, preview the next delivery, read the full ledger, and retry a failed letter.
// Every change is audited in the transaction that makes it. The preview writes nothing: it
// builds the next batch with the batcher's own code (writeBatch) inside a transaction,
// renders each letter with the delivery's own renderer (renderLetter), and rolls back.
import { expressionBuilder, sql, type Expression } from 'kysely';
import type pg from 'pg';
import { z } from 'zod';
import { ActionStatus, AnswerStatus, ContactStatus, DeliveryPolicy, LetterStatus, inTransaction, qb, type DB, type Queryable } from '../db/db.ts';
import { renderLetter, type PacketLinkOptions } from '../letter/letter.service.ts';
import { letterStates } from '../letter/letter.states.ts';
import type { Queues } from '../queue/queue.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { recordAudit } from '../staff/audit.ts';
import { buildBatch, writeBatch } from './batch.service.ts';
import { actionTitle } from './action-title.ts';
import { owedAndHeld } from './country-minimum.ts';
import { sendsInOfficeHours } from './delivery.policy.ts';
import { batchFirstSent } from './ledger.ts';

export interface DeliveryAdminDeps {
  pool: pg.Pool;
  queues?: Pick<Queues, 'enqueueLetters'>;
  mailDomain: string;
  organisation: string;
  clock: () => Date;
  packet: PacketLinkOptions;
  /** PUBLIC_COUNTRY_MIN: the country minimum of BY_SIGNER_COUNTRY actions (country-minimum.ts) */
  countryMin: number;
}

export const policyInputSchema = z.strictObject({
  policy: z.enum(DeliveryPolicy, { error: `policy must be one of ${Object.values(DeliveryPolicy).join(', ')}` }),
  everyN: z.coerce.number({ error: 'everyN must be a number' }).int('everyN must be a whole number').min(1).max(1_000_000).optional(),
  milestones: z
    .array(z.coerce.number().int('milestones are whole numbers').min(1).max(100_000_000))
    .max(50, 'at most 50 milestones')
    .optional(),
});
export type PolicyInput = z.infer<typeof policyInputSchema>;

/** What a last_error says, in one word staff can filter on. */
export type ErrorClass = 'smtp-permanent' | 'smtp-transient' | 'timeout' | 'connection' | 'gave-up' | 'other';

export function classifyError(lastError: string | null): ErrorClass | null {
  if (!lastError) return null;
  if (/^gave up after/.test(lastError)) return 'gave-up';
  if (/^5\d\d\b/.test(lastError)) return 'smtp-permanent';
  if (/^4\d\d\b/.test(lastError)) return 'smtp-transient';
  if (/timeout|ETIMEDOUT/i.test(lastError)) return 'timeout';
  if (/ECONNREFUSED|ECONNRESET|ESOCKET|ECONNECTION|EPIPE|closed/i.test(lastError)) return 'connection';
  return 'other';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function mustBeUuid(id: string, what: string): void {
  if (!UUID.test(id)) throw notFound(`${what}_not_found`, `No ${what} ${JSON.stringify(id.slice(0, 60))}`);
}

export interface DeliveryActionSummary {
  id: string;
  slug: string;
  title: string;
  status: ActionStatus;
  policy: DeliveryPolicy;
  everyN: number;
  paused: boolean;
  /** confirmed signatures in no batch yet that a delivery made now would carry */
  owed: number;
  /**
   * confirmed signatures in no batch yet that wait for their country to reach the minimum
   * (BY_SIGNER_COUNTRY actions only, country-minimum.ts); an action closed with some held
   * delivers nothing for them
   */
  held: number;
  pendingLetters: number;
  failedLetters: number;
  staleTargets: number;
  lastBatchAt: Date | null;
}

/** Actions with what their delivery owes, holds, has pending and has failed (DeliveryActionSummary). */
function deliverySummaries(db: Queryable, countryMin: number) {
  return qb(db)
    .selectFrom('actions as a')
    .crossJoinLateral((eb) => owedAndHeld(eb.ref('a.id'), eb.ref('a.target_mode'), countryMin).as('oh'))
    .select((eb) => {
      const letters = (statuses: LetterStatus[]) =>
        eb
          .selectFrom('letters as l')
          .innerJoin('delivery_batches as b', 'b.id', 'l.batch_id')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('b.action_id', '=', 'a.id')
          .where('l.status', 'in', statuses)
          .$asScalar();
      return [
        'a.id',
        'a.slug',
        'a.status',
        'a.delivery_policy as policy',
        'a.delivery_every_n as everyN',
        'a.delivery_paused as paused',
        actionTitle({ id: eb.ref('a.id'), defaultLocale: eb.ref('a.default_locale'), slug: eb.ref('a.slug') }).as('title'),
        'oh.owed',
        'oh.held',
        letters([LetterStatus.PENDING, LetterStatus.SUBMITTING]).as('pendingLetters'),
        letters([LetterStatus.FAILED, LetterStatus.BOUNCED]).as('failedLetters'),
        eb
          .selectFrom('action_targets as at')
          .innerJoin('targets as g', 'g.id', 'at.target_id')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('at.action_id', '=', 'a.id')
          .where('g.contact_status', '=', ContactStatus.STALE)
          .$asScalar()
          .as('staleTargets'),
        eb
          .selectFrom('delivery_batches as b')
          .select((e) => e.fn.max<Date | null>('b.created_at').as('at'))
          .whereRef('b.action_id', '=', 'a.id')
          .$asScalar()
          .as('lastBatchAt'),
      ];
    });
}

export async function listDeliveryActions(pool: pg.Pool, countryMin: number): Promise<DeliveryActionSummary[]> {
  return deliverySummaries(pool, countryMin)
    .where('a.status', 'in', [ActionStatus.PUBLISHED, ActionStatus.CLOSED])
    .orderBy('a.published_at', (ob) => ob.desc().nullsLast())
    .orderBy('a.slug')
    .execute();
}

export interface LedgerLetter {
  id: string;
  target: { id: string; name: string; organisation: string; email: string; contactStatus: ContactStatus };
  status: LetterStatus;
  locale: string;
  signatureCount: number;
  attempts: number;
  lastError: string | null;
  errorClass: ErrorClass | null;
  nextAttemptAt: Date | null;
  messageId: string;
  smtpResponse: string | null;
  createdAt: Date;
  sentAt: Date | null;
  bouncedAt: Date | null;
  openedAt: Date | null;
  answeredAt: Date | null;
  /** seconds from the first letter of the batch accepted to this target's first answer */
  responseSeconds: number | null;
}

export interface DeliveryDetail {
  action: DeliveryActionSummary & { milestones: number[]; defaultLocale: string };
  targets: {
    id: string;
    name: string;
    organisation: string;
    /** ISO 3166-1 alpha-2 of a national authority; null for an inter-governmental body */
    country: string | null;
    email: string;
    language: string;
    timezone: string;
    officeOpensAt: number;
    officeClosesAt: number;
    contactStatus: ContactStatus;
    bounceCount: number;
    /** median seconds from delivery to an answer over this action's answered letters */
    medianResponseSeconds: number | null;
    answered: number;
  }[];
  batches: {
    id: string;
    reason: string;
    signatureCount: number;
    totalCount: number;
    createdAt: Date;
    /** what the delivery commits to (delivery-roots.ts): its Merkle root in hex, the signatures with a receipt it seals, its place in the action's chain; null for one that carried none */
    root: string | null;
    receiptCount: number | null;
    chainIndex: number | null;
    letters: LedgerLetter[];
  }[];
  failures: LedgerLetter[];
  /** PUBLIC_COUNTRY_MIN, the country minimum behind `action.held` */
  countryMin: number;
}

const BATCH_PAGE = 100;

export async function deliveryDetail(pool: pg.Pool, actionId: string, countryMin: number): Promise<DeliveryDetail> {
  mustBeUuid(actionId, 'action');
  const summary = await listOne(pool, actionId, countryMin);
  const targets = await qb(pool)
    .selectFrom('action_targets as at')
    .innerJoin('targets as g', 'g.id', 'at.target_id')
    .select((eb) => {
      const delays = answerDelays(eb.val(actionId), eb.ref('g.id')).as('x');
      return [
        'g.id',
        'g.name',
        'g.organisation',
        'g.country',
        'g.email',
        'g.language',
        'g.timezone',
        'g.office_opens_at as officeOpensAt',
        'g.office_closes_at as officeClosesAt',
        'g.contact_status as contactStatus',
        'g.bounce_count as bounceCount',
        eb
          .selectFrom(delays)
          .select((e) => sql<number | null>`percentile_cont(0.5) WITHIN GROUP (ORDER BY ${e.ref('x.secs')})`.as('median'))
          .$asScalar()
          .as('medianResponseSeconds'),
        eb.selectFrom(delays).select(sql<number>`count(*)::int`.as('n')).$asScalar().as('answered'),
      ];
    })
    .where('at.action_id', '=', actionId)
    .orderBy('at.position')
    .orderBy('g.name')
    .execute();
  const batches = await qb(pool)
    .selectFrom('delivery_batches')
    .select(['id', 'reason', 'signature_count as signatureCount', 'total_count as totalCount', 'created_at as createdAt', 'leaf_count as receiptCount', 'chain_index as chainIndex'])
    .select(sql<string | null>`encode(tree_root, 'hex')`.as('root'))
    .where('action_id', '=', actionId)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(BATCH_PAGE)
    .execute();
  const letters = await ledgerLetters(pool, actionId, { batchIds: batches.map((b) => b.id) });
  const failures = await ledgerLetters(pool, actionId, { failures: true });
  return {
    action: summary,
    targets: targets.map((t) => ({ ...t, medianResponseSeconds: t.medianResponseSeconds === null ? null : Math.round(t.medianResponseSeconds) })),
    batches: batches.map((b) => ({ ...b, letters: letters.filter((l) => l.batchId === b.id).map(({ batchId: _b, ...l }) => l) })),
    failures: failures.map(({ batchId: _b, ...l }) => l),
    countryMin,
  };
}

/**
 * Seconds from delivery to answer for one action and target: per answered letter, from the
 * first letter of its batch accepted by a mail server to the first answer received.
 */
function answerDelays(actionId: Expression<string>, targetId: Expression<string>) {
  return expressionBuilder<DB, never>()
    .selectFrom('letters as l2')
    .innerJoin('delivery_batches as b2', 'b2.id', 'l2.batch_id')
    .innerJoin('answers as r', 'r.letter_id', 'l2.id')
    .select((eb) => sql<number>`extract(epoch FROM (${eb.fn.min('r.received_at')} - ${batchFirstSent(eb.ref('l2.batch_id'))}))::float8`.as('secs'))
    .where('b2.action_id', '=', actionId)
    .where('l2.target_id', '=', targetId)
    .where('l2.sent_at', 'is not', null)
    .where('r.status', '<>', AnswerStatus.REJECTED)
    .groupBy(['l2.id', 'l2.batch_id']);
}

async function listOne(db: Queryable, actionId: string, countryMin: number) {
  const row = await deliverySummaries(db, countryMin)
    .select(['a.milestones', 'a.default_locale as defaultLocale'])
    .where('a.id', '=', actionId)
    .executeTakeFirst();
  if (!row) throw notFound('action_not_found', 'No such action');
  return row;
}

/** The ledger's letters of one action: those of some batches, or those that failed or whose target is stale. */
async function ledgerLetters(
  pool: pg.Pool,
  actionId: string,
  only: { batchIds: string[] } | { failures: true },
): Promise<(LedgerLetter & { batchId: string })[]> {
  if ('batchIds' in only && only.batchIds.length === 0) return [];
  const rows = await qb(pool)
    .selectFrom('letters as l')
    .innerJoin('delivery_batches as b', 'b.id', 'l.batch_id')
    .innerJoin('targets as g', 'g.id', 'l.target_id')
    .select((eb) => [
      'l.id',
      'l.batch_id',
      'l.target_id',
      'g.name',
      'g.organisation',
      'g.email',
      'g.contact_status',
      'l.status',
      'l.locale',
      'l.signature_count',
      'l.attempts',
      'l.last_error',
      'l.next_attempt_at',
      'l.message_id',
      'l.smtp_response',
      'l.created_at',
      'l.sent_at',
      'l.bounced_at',
      'l.opened_at',
      eb
        .selectFrom('answers as r')
        .select((e) => e.fn.min<Date | null>('r.received_at').as('at'))
        .whereRef('r.letter_id', '=', 'l.id')
        .where('r.status', '<>', AnswerStatus.REJECTED)
        .$asScalar()
        .as('answered_at'),
      batchFirstSent(eb.ref('l.batch_id')).$castTo<Date | null>().as('first_sent'),
    ])
    .where('b.action_id', '=', actionId)
    .$if('batchIds' in only, (q) => q.where('b.id', 'in', (only as { batchIds: string[] }).batchIds))
    .$if('failures' in only, (q) =>
      q.where((eb) => eb.or([eb('l.status', 'in', [LetterStatus.FAILED, LetterStatus.BOUNCED]), eb('g.contact_status', '=', ContactStatus.STALE)])),
    )
    .orderBy('l.created_at', 'desc')
    .orderBy('g.name')
    .limit(1000)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    batchId: r.batch_id,
    target: { id: r.target_id, name: r.name, organisation: r.organisation, email: r.email, contactStatus: r.contact_status },
    status: r.status,
    locale: r.locale,
    signatureCount: r.signature_count,
    attempts: r.attempts,
    lastError: r.last_error,
    errorClass: classifyError(r.last_error),
    nextAttemptAt: r.status === LetterStatus.PENDING ? r.next_attempt_at : null,
    messageId: r.message_id,
    smtpResponse: r.smtp_response,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    bouncedAt: r.bounced_at,
    openedAt: r.opened_at,
    answeredAt: r.answered_at,
    responseSeconds: r.answered_at && r.first_sent ? Math.max(0, Math.round((r.answered_at.getTime() - r.first_sent.getTime()) / 1000)) : null,
  }));
}

export async function setPolicy(deps: DeliveryAdminDeps, staffId: string, actionId: string, input: PolicyInput) {
  mustBeUuid(actionId, 'action');
  if (input.policy === DeliveryPolicy.EVERY_N && input.everyN === undefined) throw new AppError(422, 'validation_failed', 'everyN is required for EVERY_N');
  if (input.policy === DeliveryPolicy.MILESTONES && !input.milestones?.length) throw new AppError(422, 'validation_failed', 'milestones are required for MILESTONES');
  return inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const prev = await db
      .selectFrom('actions')
      .select(['delivery_policy as policy', 'delivery_every_n as everyN', 'milestones'])
      .where('id', '=', actionId)
      .forUpdate()
      .executeTakeFirst();
    if (!prev) throw notFound('action_not_found', 'No such action');
    const after = {
      policy: input.policy,
      everyN: input.everyN ?? prev.everyN,
      milestones: input.milestones ? [...new Set(input.milestones)].sort((a, b) => a - b) : prev.milestones,
    };
    await db
      .updateTable('actions')
      .set({ delivery_policy: after.policy, delivery_every_n: after.everyN, milestones: after.milestones, updated_at: deps.clock() })
      .where('id', '=', actionId)
      .execute();
    await recordAudit(client, { staffId, verb: 'delivery_policy_set', entity: 'action', entityId: actionId, before: prev, after, at: deps.clock() });
    return after;
  });
}

export async function setPaused(deps: DeliveryAdminDeps, staffId: string, actionId: string, paused: boolean) {
  mustBeUuid(actionId, 'action');
  return inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const before = await db.selectFrom('actions').select('delivery_paused as paused').where('id', '=', actionId).forUpdate().executeTakeFirst();
    if (!before) throw notFound('action_not_found', 'No such action');
    if (before.paused !== paused) {
      await db.updateTable('actions').set({ delivery_paused: paused, updated_at: deps.clock() }).where('id', '=', actionId).execute();
      await recordAudit(client, {
        staffId,
        verb: paused ? 'delivery_paused' : 'delivery_resumed',
        entity: 'action',
        entityId: actionId,
        before: { paused: before.paused },
        after: { paused },
        at: deps.clock(),
      });
    }
    return { paused };
  });
}

/**
 * "Send now": a batch of everything owed, built at once and sent at once (not held for
 * office hours), whatever the policy, and even while paused (staff chose to). Exactly once:
 * the batcher's advisory lock and the signatures' batch_id make a second press find nothing.
 * The action's earlier letters still waiting (for office hours, or a retry) go now too: sent
 * later, an official would read tomorrow a total lower than today's.
 */
export async function sendNow(deps: DeliveryAdminDeps, staffId: string, actionId: string) {
  mustBeUuid(actionId, 'action');
  const action = await listOne(deps.pool, actionId, deps.countryMin);
  if (action.status !== ActionStatus.PUBLISHED && action.status !== ActionStatus.CLOSED) {
    throw conflict('action_not_live', `Only a published or closed action delivers; this one is ${action.status}`);
  }
  let released: { id: string; attempts: number }[] = [];
  const built = await buildBatch(
    {
      pool: deps.pool,
      // without queues in this process the letters wait, PENDING, for the sweeper
      queues: deps.queues ?? { enqueueLetters: async () => {} },
      mailDomain: deps.mailDomain,
      clock: deps.clock,
      countryMin: deps.countryMin,
    },
    actionId,
    'send-now',
    {
      officeHours: false,
      onWritten: async (client, batch) => {
        const { rows } = await client.query<{ id: string; attempts: number }>(
          `UPDATE letters SET next_attempt_at = $3
           WHERE status = $2 AND next_attempt_at > $3 AND batch_id IN (SELECT id FROM delivery_batches WHERE action_id = $1 AND id <> $4)
           RETURNING id, attempts`,
          [actionId, LetterStatus.PENDING, deps.clock(), batch.batchId],
        );
        released = rows;
        await recordAudit(client, {
          staffId,
          verb: 'delivery_sent_now',
          entity: 'action',
          entityId: actionId,
          after: { batchId: batch.batchId, signatureCount: batch.signatureCount, letters: batch.letterIds.length, earlierLettersReleased: rows.length },
          at: deps.clock(),
        });
      },
    },
  );
  if (!built) throw conflict('nothing_owed', 'Nothing is owed to the targets of this action right now');
  if (released.length > 0) {
    await deps.queues?.enqueueLetters(released.map((r) => ({ id: r.id, attempts: r.attempts }))).catch(() => {
      // due now in the database: the sweeper enqueues them
    });
  }
  return built;
}

export interface DeliveryPreview {
  /** false when nothing is owed: the rest is then empty */
  owed: boolean;
  policy: DeliveryPolicy;
  paused: boolean;
  /** when the batcher would send it under the policy, null for "not by itself" (paused, at close) */
  heldForOfficeHours: boolean;
  signatureCount: number;
  totalCount: number;
  /** confirmed signatures this delivery leaves waiting for their country to reach the minimum (country-minimum.ts) */
  held: number;
  countries: { country: string; count: number }[];
  letters: { target: { name: string; organisation: string; email: string }; locale: string; signatureCount: number; subject: string; text: string; html: string; sendAt: Date }[];
}

/** Thrown to end a transaction that must leave nothing behind: it carries what was read inside. */
class RolledBack<T> extends Error {
  constructor(readonly value: T) {
    super('rolled back');
  }
}

/** Runs fn in a transaction that is always rolled back, and returns what fn returned. */
async function inRolledBackTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    return await inTransaction<never>(pool, async (client) => {
      throw new RolledBack(await fn(client));
    });
  } catch (err) {
    if (err instanceof RolledBack) return err.value as T;
    throw err;
  }
}

/** The next delivery as it would be built right now, rendered by the delivery's own code; nothing is kept. */
export async function previewNextDelivery(deps: DeliveryAdminDeps, actionId: string): Promise<DeliveryPreview> {
  mustBeUuid(actionId, 'action');
  const action = await listOne(deps.pool, actionId, deps.countryMin);
  // the preview is never kept: everything written here is undone when it returns
  return inRolledBackTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const officeHours = sendsInOfficeHours(action.policy);
    const built = await writeBatch(client, { mailDomain: deps.mailDomain, clock: deps.clock, countryMin: deps.countryMin }, actionId, 'preview', { officeHours });
    const empty: DeliveryPreview = {
      owed: false,
      policy: action.policy,
      paused: action.paused,
      heldForOfficeHours: officeHours,
      signatureCount: 0,
      totalCount: 0,
      held: action.held,
      countries: [],
      letters: [],
    };
    if (!built) {
      if (action.owed > 0) throw conflict('batch_in_progress', 'A delivery of this action is being built right now; try again in a moment');
      return empty;
    }
    const batch = await db.selectFrom('delivery_batches').select('total_count').where('id', '=', built.batchId).executeTakeFirstOrThrow();
    const countries = await db
      .selectFrom('signatures')
      .select(['country', sql<number>`count(*)::int`.as('count')])
      .where('batch_id', '=', built.batchId)
      .groupBy('country')
      .orderBy(sql`count(*)`, 'desc')
      .orderBy('country')
      .execute();
    const letters: DeliveryPreview['letters'] = [];
    for (const id of built.letterIds) {
      const rendered = await renderLetter(client, id, deps.organisation, { ...deps.packet, now: deps.clock() });
      if (!rendered) continue;
      const d = await db
        .selectFrom('letters as l')
        .innerJoin('targets as g', 'g.id', 'l.target_id')
        .select(['l.next_attempt_at', 'g.name', 'g.organisation', 'g.email'])
        .where('l.id', '=', id)
        .executeTakeFirstOrThrow();
      letters.push({
        target: { name: d.name, organisation: d.organisation, email: d.email },
        locale: rendered.letter.locale,
        signatureCount: rendered.letter.signature_count,
        subject: rendered.mail.subject,
        text: rendered.mail.text,
        html: rendered.mail.html,
        sendAt: d.next_attempt_at,
      });
    }
    return {
      ...empty,
      owed: true,
      signatureCount: built.signatureCount,
      totalCount: batch.total_count,
      countries,
      letters,
    };
  });
}

/** A FAILED letter owed again: back to PENDING, due now, and enqueued. Audited. */
export async function retryLetter(deps: DeliveryAdminDeps, staffId: string, letterId: string) {
  mustBeUuid(letterId, 'letter');
  const result = await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const l = await db
      .selectFrom('letters as l')
      .innerJoin('delivery_batches as b', 'b.id', 'l.batch_id')
      .select(['l.status', 'l.attempts', 'l.last_error', 'b.action_id'])
      .where('l.id', '=', letterId)
      .forUpdate('l')
      .executeTakeFirst();
    if (!l) throw notFound('letter_not_found', 'No such letter');
    if (l.status !== LetterStatus.FAILED || !letterStates.can(l.status, LetterStatus.PENDING)) {
      throw conflict('letter_not_failed', `Only a FAILED letter can be retried; this one is ${l.status}`);
    }
    await db
      .updateTable('letters')
      .set({ status: LetterStatus.PENDING, next_attempt_at: deps.clock() })
      .where('id', '=', letterId)
      .where('status', '=', LetterStatus.FAILED)
      .execute();
    await recordAudit(client, {
      staffId,
      verb: 'letter_retried',
      entity: 'letter',
      entityId: letterId,
      before: { status: l.status, attempts: l.attempts, lastError: l.last_error },
      after: { status: LetterStatus.PENDING },
      at: deps.clock(),
    });
    return { actionId: l.action_id, attempts: l.attempts };
  });
  await deps.queues?.enqueueLetters([{ id: letterId, attempts: result.attempts }]).catch(() => {
    // PENDING and due: the sweeper enqueues it
  });
  return { status: LetterStatus.PENDING, actionId: result.actionId };
}
