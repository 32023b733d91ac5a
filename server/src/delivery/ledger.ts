// The public ledger of an action: proof that its letters were delivered. One row per letter,
// newest first, at most 50: when it was made, to whom, how many signatures it carried, the root
// its delivery commits to (delivery-roots.ts: a signer checks their receipt against it),
// whether the receiving server accepted it, whether it bounced, whether the packet link was
// opened (a link scanner counts as an opening), whether a published answer exists, and how
// long after the delivery it came (the time to answer).
// An expression (ledgerOf) loaded inside the one query that refreshes the public actions
// (action.repository.ts), and by the staff dashboard.
import { expressionBuilder, sql, type Expression, type RawBuilder } from 'kysely';
import { jsonArrayFrom, jsonBuildObject } from 'kysely/helpers/postgres';
import { AnswerStatus, LetterStatus, TargetMode, type DB } from '../db/db.ts';
import { countryReached } from './country-minimum.ts';

export interface LedgerEntry {
  /** ISO date-time the letter was made */
  date: string;
  /** `language`, `names`, `nameIsOfficial`: for the name in the reader's language (target/target-names.ts) */
  target: { name: string; organisation: string; title: string; language: string; names: unknown; nameIsOfficial: boolean };
  count: number;
  /** the receiving mail server accepted the letter (SENT, or BOUNCED later) */
  accepted: boolean;
  bounced: boolean;
  /** the packet link in the letter was fetched */
  opened: boolean;
  /** a published answer exists for this letter */
  answered: boolean;
  /** seconds from the delivery (the first letter of its batch accepted) to the first published answer */
  responseSeconds: number | null;
  status: LetterStatus;
  /** not yet tried, and due later: held until the target's office opens (office-hours policies) */
  heldForOfficeHours: boolean;
  /**
   * the root of the Merkle tree of the delivery the letter belongs to (delivery-roots.ts), 64
   * hexadecimal digits; null for a delivery that commits to nothing (paper, or made before receipts)
   */
  root: string | null;
}

export const LEDGER_LIMIT = 50;

/** When the first letter of a batch was accepted by a mail server: where the time to an answer counts from. */
export function batchFirstSent(batchId: Expression<string | null>) {
  const eb = expressionBuilder<DB, never>();
  return eb
    .selectFrom('letters as f')
    .select((e) => e.fn.min('f.sent_at').as('first'))
    .where('f.batch_id', '=', batchId)
    .$asScalar();
}

/** Whole seconds from `from` to `to` (null when either is null). */
export function secondsBetween(from: Expression<Date | null>, to: Expression<Date | null>): RawBuilder<number | null> {
  return sql<number | null>`round(extract(epoch FROM (${to} - ${from})))::int`;
}

/**
 * The ledger of the action `actionId`, as JSON. With `publicView` it is the public ledger, and
 * where letters go to the officials of each signer's own country (`targetMode`
 * BY_SIGNER_COUNTRY):
 * - a letter to the officials of a country that has not reached the minimum (`countryMin`,
 *   PUBLIC_COUNTRY_MIN, country-minimum.ts) is left out. The batcher writes none since that
 *   rule; this keeps out any written before it.
 * - a letter is shown from the day after it was made (UTC). Once a country has reached the
 *   minimum, an immediate delivery follows each confirmation from that country: a row naming
 *   its officials that appeared seconds later would time that one signer's entry, and say
 *   where they live, finer than the day (promise 6).
 * Staff (the dashboard) read it without.
 */
export function ledgerOf(
  actionId: Expression<string>,
  publicView?: { targetMode: Expression<TargetMode>; countryMin: number },
): RawBuilder<LedgerEntry[]> {
  const eb = expressionBuilder<DB, never>();
  const publishedAnswers = (letterId: Expression<string>) =>
    eb.selectFrom('answers as r').where('r.letter_id', '=', letterId).where('r.status', '=', AnswerStatus.PUBLISHED);
  return jsonArrayFrom(
    eb
      .selectFrom('delivery_batches as b')
      .innerJoin('letters as l', 'l.batch_id', 'b.id')
      .innerJoin('targets as g', 'g.id', 'l.target_id')
      .select((e) => [
        sql<string>`to_char(${e.ref('l.created_at')} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.as('date'),
        jsonBuildObject({
          name: e.ref('g.name'),
          organisation: e.ref('g.organisation'),
          title: e.ref('g.title'),
          language: e.ref('g.language'),
          names: e.ref('g.names'),
          nameIsOfficial: e.ref('g.name_is_official'),
        }).as('target'),
        'l.signature_count as count',
        e('l.status', 'in', [LetterStatus.SENT, LetterStatus.BOUNCED]).$castTo<boolean>().as('accepted'),
        e('l.status', '=', LetterStatus.BOUNCED).$castTo<boolean>().as('bounced'),
        e('l.opened_at', 'is not', null).$castTo<boolean>().as('opened'),
        e.exists(publishedAnswers(e.ref('l.id')).select(sql.lit(1).as('one'))).$castTo<boolean>().as('answered'),
        secondsBetween(
          batchFirstSent(e.ref('l.batch_id')),
          publishedAnswers(e.ref('l.id'))
            .select((a) => a.fn.min('r.received_at').as('at'))
            .$asScalar(),
        ).as('responseSeconds'),
        'l.status',
        e
          .and([e('l.status', '=', LetterStatus.PENDING), e('l.attempts', '=', 0), e('l.next_attempt_at', '>', sql<Date>`now()`)])
          .$castTo<boolean>()
          .as('heldForOfficeHours'),
        sql<string | null>`encode(${e.ref('b.tree_root')}, 'hex')`.as('root'),
      ])
      .where('b.action_id', '=', actionId)
      // a threshold's formal requests are shown with their threshold (threshold.service.ts)
      .where('b.reason', '<>', 'threshold')
      .$if(publicView !== undefined, (q) =>
        q.where((e) =>
          e.or([
            e(publicView!.targetMode, '<>', TargetMode.BY_SIGNER_COUNTRY),
            e.and([
              // the start of today in UTC (the days of the public ledger are UTC days)
              e('l.created_at', '<', sql<Date>`date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`),
              e.or([e('g.country', 'is', null), countryReached(actionId, e.ref('g.country'), publicView!.countryMin)]),
            ]),
          ]),
        ),
      )
      .orderBy('l.created_at', 'desc')
      .orderBy('l.id')
      .limit(LEDGER_LIMIT),
  );
}

export interface PublicLedgerEntry extends Omit<LedgerEntry, 'count'> {
  /** null when the count would be that of one country's signers below the public minimum */
  count: number | null;
}

/**
 * The ledger as the public sees it (promise 6: no public time finer than the day for a person's
 * entry, no public country count below the minimum). A letter is dated by its day only: with
 * immediate delivery a letter follows one confirmation, so its time would be that person's.
 * Where letters go to the officials of each signer's own country, a letter's count is the
 * count of that country's signers, so below `countryMin` it is withheld (null). Staff see the
 * whole ledger on the dashboard.
 */
export function publicLedger(entries: LedgerEntry[], targetMode: TargetMode, countryMin: number): PublicLedgerEntry[] {
  const perCountry = targetMode === TargetMode.BY_SIGNER_COUNTRY;
  return entries.map((e) => ({
    ...e,
    date: e.date.slice(0, 10),
    count: perCountry && e.count < countryMin ? null : e.count,
  }));
}
