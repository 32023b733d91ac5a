// The country minimum of actions that write to the officials of each signer's own country
// (targetMode BY_SIGNER_COUNTRY), promises 5 and 6. It is one rule, written once here:
//
//   In a BY_SIGNER_COUNTRY action, the officials of a country are written to only once at
//   least PUBLIC_COUNTRY_MIN signers from that country are owed a letter in total: its
//   confirmed signatures, delivered or waiting, plus any of its signatures already delivered
//   and invalidated since. Every signer counts, named or not.
//
// Why: in such an action a letter to a country's officials exists only because someone from
// that country signed. Without the minimum, one unnamed signer from Kazakhstan who confirms
// makes, within seconds, a letter to the Kazakh officials (which locates that one person in
// the officials' own country) and a row naming them on the public ledger (which tells anyone
// what the public counts by country hide: that a single new signer is from Kazakhstan).
//
// Until their country reaches the minimum, its signatures wait, confirmed and in no batch
// ("held"): they are not lost; once the country reaches it they are owed like any other, and
// the next delivery the action's policy makes carries them all. A country that has reached it stays there (what counts only grows, except when a
// waiting signature is invalidated), so its later deliveries follow the action's policy as
// usual. An action that closes below the minimum of a country delivers nothing for it; the
// staff console's delivery view says how many signatures are held, and nothing public names
// a country below the minimum. The rule does not depend on which officials the action has:
// the signers of a country without officials on the action wait in the same way, so adding
// such an official later finds them.
//
// Used by: the batcher (which signatures a batch may claim, and how many are owed to the
// policy: batch.service.ts), and so by "send now" and the preview of the next delivery; the
// staff console's owed and held counts (delivery-admin.service.ts); the public ledger
// (ledger.ts: a letter to a country below the minimum, say one written before this rule, is
// not shown). The count stops at the minimum (LIMIT), through the partial index
// signatures_by_country, so the check costs at most PUBLIC_COUNTRY_MIN index entries.

import { expressionBuilder, sql, type Expression } from 'kysely';
import { SignatureStatus, TargetMode, type DB } from '../db/db.ts';

/**
 * Boolean: the signers from `country` of the action `action` may be written to that country's
 * officials (the rule above). `min` is PUBLIC_COUNTRY_MIN.
 */
export function countryReached(action: Expression<string>, country: Expression<string | null>, min: number) {
  const eb = expressionBuilder<DB, never>();
  const upToMin = eb
    .selectFrom('signatures as cm')
    .select(sql.lit(1).as('one'))
    .where('cm.action_id', '=', action)
    .where('cm.country', '=', country)
    .where((w) => w.or([w('cm.status', '=', SignatureStatus.CONFIRMED), w('cm.batch_id', 'is not', null)]))
    .limit(min);
  return eb(eb.selectFrom(upToMin.as('cm')).select(eb.fn.countAll().as('n')).$asScalar(), '>=', min);
}

/**
 * Rows (country, n, may_go): the signatures of the action `action` owed a letter (confirmed, in
 * no batch yet) by country, and whether they may go now: always in an action of fixed targets,
 * and in a BY_SIGNER_COUNTRY action once their country reached the minimum. `targetMode` is the
 * action's target_mode.
 */
export function owedByCountry(action: Expression<string>, targetMode: Expression<TargetMode>, min: number) {
  const eb = expressionBuilder<DB, never>();
  const owed = eb
    .selectFrom('signatures as s')
    .select(['s.country', sql<number>`count(*)::int`.as('n')])
    .where('s.action_id', '=', action)
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .where('s.batch_id', 'is', null)
    .groupBy('s.country');
  return eb
    .selectFrom(owed.as('o'))
    .select((e) => ['o.country', 'o.n', e.or([e(targetMode, '<>', TargetMode.BY_SIGNER_COUNTRY), countryReached(action, e.ref('o.country'), min)]).as('may_go')]);
}

/** Two ints: `owed` (what a delivery made now would carry) and `held` (waiting for their country's minimum). */
export function owedAndHeld(action: Expression<string>, targetMode: Expression<TargetMode>, min: number) {
  const eb = expressionBuilder<DB, never>();
  return eb
    .selectFrom(owedByCountry(action, targetMode, min).as('w'))
    .select((e) => [
      e.cast<number>(e.fn.coalesce(e.fn.sum('w.n').filterWhere('w.may_go', '=', true), e.lit(0)), 'integer').as('owed'),
      e.cast<number>(e.fn.coalesce(e.fn.sum('w.n').filterWhere((f) => f.not(f.ref('w.may_go'))), e.lit(0)), 'integer').as('held'),
    ]);
}
