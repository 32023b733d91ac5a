// What a supporter consented to. Each confirmed signature records the choices it was confirmed
// with, one consents row (the purposes as columns, the row itself the consent to be counted);
// every later change is appended to consent_events. A purpose's current choice is the latest of
// the two; the history is both, in time order.
import { expressionBuilder, sql, type Expression, type Kysely } from 'kysely';
import { ConsentPurpose, SignatureStatus, type DB } from '../db/db.ts';

const eb = expressionBuilder<DB>();

/**
 * Whether the supporter `supporter` (an expression: a column of the outer query) last said yes to
 * being contacted. Only the owner of an address records a choice: a consents row when they confirm
 * (a pending sign-up writes none, so one made with someone else's address proves nothing), a
 * consent event on their data page or by unsubscribing. A "yes" counts while the signature it came
 * with stands: one staff set aside (found to be fraud, say) gives no consent. A "no" always counts:
 * setting a signature aside never brings back an older "yes". NULL when never asked.
 */
export function latestContactConsent(supporter: Expression<string>) {
  const changed = eb
    .selectFrom('consent_events as e')
    .leftJoin('signatures as es', 'es.id', 'e.signature_id')
    .select(['e.granted', 'e.created_at', sql<number>`1`.as('later')])
    .where('e.supporter_id', '=', supporter)
    .where('e.purpose', '=', ConsentPurpose.CONTACT)
    .where((w) => w.or([w('e.granted', '=', false), w('e.signature_id', 'is', null), w('es.status', '=', SignatureStatus.CONFIRMED)]));
  const confirmed = eb
    .selectFrom('consents as c')
    .innerJoin('signatures as cs', 'cs.id', 'c.signature_id')
    .select(['c.contact as granted', 'c.created_at', sql<number>`0`.as('later')])
    .where('c.supporter_id', '=', supporter)
    .where((w) => w.or([w('c.contact', '=', false), w('cs.status', '=', SignatureStatus.CONFIRMED)]));
  return eb
    .selectFrom(changed.unionAll(confirmed).as('k'))
    .select('k.granted')
    .orderBy('k.created_at', 'desc')
    .orderBy('k.later', 'desc')
    .limit(1)
    .$asScalar();
}

export interface ConsentRecord {
  purpose: ConsentPurpose;
  granted: boolean;
  wordingVersion: string;
  createdAt: Date;
  /** the action of the signature it came with, if any */
  actionSlug: string | null;
}

const ORDER = Object.values(ConsentPurpose);

/** Every consent record of a supporter, oldest first: each confirmation's choices, then each change. */
export async function consentHistory(k: Kysely<DB>, supporterId: string): Promise<ConsentRecord[]> {
  const [confirmed, changed] = await Promise.all([
    k
      .selectFrom('consents as c')
      .innerJoin('signatures as s', 's.id', 'c.signature_id')
      .innerJoin('actions as a', 'a.id', 's.action_id')
      .select(['c.named_disclosure', 'c.named_to_own_country', 'c.public_wall', 'c.contact', 'c.wording_version', 'c.created_at', 'a.slug'])
      .where('c.supporter_id', '=', supporterId)
      .execute(),
    k
      .selectFrom('consent_events as e')
      .leftJoin('signatures as s', 's.id', 'e.signature_id')
      .leftJoin('actions as a', 'a.id', 's.action_id')
      .select(['e.purpose', 'e.granted', 'e.wording_version', 'e.created_at', 'a.slug'])
      .where('e.supporter_id', '=', supporterId)
      .orderBy('e.id')
      .execute(),
  ]);
  const records: ConsentRecord[] = [];
  for (const c of confirmed) {
    const at = { wordingVersion: c.wording_version, createdAt: c.created_at, actionSlug: c.slug };
    records.push(
      { purpose: ConsentPurpose.COUNT, granted: true, ...at },
      { purpose: ConsentPurpose.NAMED_DISCLOSURE, granted: c.named_disclosure, ...at },
      { purpose: ConsentPurpose.NAMED_TO_OWN_COUNTRY, granted: c.named_to_own_country, ...at },
      { purpose: ConsentPurpose.PUBLIC_WALL, granted: c.public_wall, ...at },
      { purpose: ConsentPurpose.CONTACT, granted: c.contact, ...at },
    );
  }
  for (const e of changed) records.push({ purpose: e.purpose, granted: e.granted, wordingVersion: e.wording_version, createdAt: e.created_at, actionSlug: e.slug });
  // stable: records of one moment keep the purposes' order
  return records.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || ORDER.indexOf(a.purpose) - ORDER.indexOf(b.purpose));
}
