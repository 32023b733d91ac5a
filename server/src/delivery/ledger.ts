// The public ledger of an action: proof that its letters were delivered. One row per letter,
// newest first, at most 50: when it was made, to whom, how many signatures it carried,
// whether the receiving server accepted it, whether it bounced, whether the packet link was
// opened (a link scanner counts as an opening), whether a published answer exists, and how
// long after the delivery it came (the response time).
// Loaded inside the one query that refreshes the public actions (action.repository.ts).
import { countryReachedSql } from './country-minimum.ts';

export interface LedgerEntry {
  /** ISO date-time the letter was made */
  date: string;
  target: { name: string; organisation: string };
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
  status: 'PENDING' | 'SUBMITTING' | 'SENT' | 'FAILED' | 'BOUNCED';
}

export const LEDGER_LIMIT = 50;

/** SQL, timestamptz: the start of today in UTC (the days of the public ledger are UTC days) */
const TODAY_UTC = `(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;

/**
 * A correlated subquery giving the ledger of the action aliased `actionAlias`, as JSON (null
 * when empty). With `publicCountryMin` (a SQL int expression: PUBLIC_COUNTRY_MIN), it is the
 * public ledger, and where letters go to the officials of each signer's own country:
 * - a letter to the officials of a country that has not reached the minimum (country-minimum.ts)
 *   is left out. The batcher writes none since that rule; this keeps out any written before it.
 * - a letter is shown from the day after it was made (UTC). Once a country has reached the
 *   minimum, an immediate delivery follows each confirmation from that country: a row naming
 *   its officials that appeared seconds later would time that one signer's entry, and say
 *   where they live, finer than the day (promise 6).
 * Staff (the dashboard) read it without.
 */
export function ledgerSubquery(actionAlias: string, publicCountryMin?: string): string {
  const shown =
    publicCountryMin === undefined
      ? ''
      : `AND (${actionAlias}.target_mode <> 'BY_SIGNER_COUNTRY'
                     OR (l.created_at < ${TODAY_UTC}
                         AND (g.country IS NULL OR ${countryReachedSql(`${actionAlias}.id`, 'g.country', publicCountryMin)})))`;
  return `(SELECT json_agg(json_build_object(
              'date', to_char(x.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'target', json_build_object('name', x.name, 'organisation', x.organisation),
              'count', x.signature_count,
              'accepted', x.status IN ('SENT', 'BOUNCED'),
              'bounced', x.status = 'BOUNCED',
              'opened', x.opened_at IS NOT NULL,
              'answered', x.answered,
              'responseSeconds', x.response_seconds,
              'status', x.status) ORDER BY x.created_at DESC, x.id)
          FROM (SELECT l.id, l.created_at, g.name, g.organisation, l.signature_count, l.status, l.opened_at,
                       EXISTS (SELECT 1 FROM responses r WHERE r.letter_id = l.id AND r.status = 'PUBLISHED') AS answered,
                       round(extract(epoch FROM ((SELECT min(r.received_at) FROM responses r WHERE r.letter_id = l.id AND r.status = 'PUBLISHED')
                                                 - (SELECT min(f.sent_at) FROM letters f WHERE f.batch_id = l.batch_id))))::int AS response_seconds
                FROM delivery_batches b
                JOIN letters l ON l.batch_id = b.id
                JOIN targets g ON g.id = l.target_id
                WHERE b.action_id = ${actionAlias}.id ${shown}
                ORDER BY l.created_at DESC, l.id LIMIT ${LEDGER_LIMIT}) x)`;
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
export function publicLedger(entries: LedgerEntry[], targetMode: string, countryMin: number): PublicLedgerEntry[] {
  const perCountry = targetMode === 'BY_SIGNER_COUNTRY';
  return entries.map((e) => ({
    ...e,
    date: e.date.slice(0, 10),
    count: perCountry && e.count < countryMin ? null : e.count,
  }));
}
