// SQL for member self-service. Every change takes the supporter's row lock first (the same
// order as the signature writer: supporter, then signatures), so an erasure, a consent change
// and a repeat signature by the same person are serialised rather than interleaved.
import { sql } from 'kysely';
import type pg from 'pg';
import { ConsentPurpose, inTransaction, qb, SignatureStatus, type Queryable } from '../db/db.ts';
import type { MyDataExport, SelfServicePurpose } from './supporter.schema.ts';
import { consentHistory } from './consent.ts';
import { emailIndex, forgetDataKey, openLetter, openName, openOrNull, supporterKey } from '../privacy/personal-data.ts';
import { SELF_SERVICE_WORDING_VERSION, UNSUBSCRIBE_WORDING_VERSION } from '../shared/consent-wording.ts';

const SUPPORTER_COLUMNS = ['id', 'email', 'data_key', 'locale', 'unsubscribed_at', 'erased_at'] as const;

/** A supporter as self-service reads it. */
export type SupporterRow = NonNullable<Awaited<ReturnType<typeof findSupporter>>>;

/** Consent wording versions for choices made outside the signing form (shared/consent-wording.ts). */
export { UNSUBSCRIBE_WORDING_VERSION, SELF_SERVICE_WORDING_VERSION } from '../shared/consent-wording.ts';

export async function findSupporter(db: Queryable, id: string) {
  return (await qb(db).selectFrom('supporters').select(SUPPORTER_COLUMNS).where('id', '=', id).executeTakeFirst()) ?? null;
}

/** A supporter who can still be written to: known by canonical email, not erased. */
export async function findMailableByCanonicalEmail(pool: pg.Pool, canonical: string): Promise<SupporterRow | null> {
  const row = await qb(pool)
    .selectFrom('supporters')
    .select(SUPPORTER_COLUMNS)
    .where('email_index', '=', emailIndex(canonical))
    .where('erased_at', 'is', null)
    .where('email', 'is not', null)
    .executeTakeFirst();
  return row ?? null;
}

/** Locks a live (not erased) supporter for the rest of the transaction; null if there is none. */
async function lockLive(client: pg.PoolClient, id: string): Promise<SupporterRow | null> {
  const row = await qb(client)
    .selectFrom('supporters')
    .select(SUPPORTER_COLUMNS)
    .where('id', '=', id)
    .where('erased_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
  return row ?? null;
}

async function appendConsent(
  client: pg.PoolClient,
  c: { supporterId: string; signatureId: string | null; purpose: ConsentPurpose; granted: boolean; wordingVersion: string; at: Date },
): Promise<void> {
  await qb(client)
    .insertInto('consent_events')
    .values({
      supporter_id: c.supporterId,
      signature_id: c.signatureId,
      purpose: c.purpose,
      granted: c.granted,
      wording_version: c.wordingVersion,
      created_at: c.at,
    })
    .execute();
}

/**
 * Sets unsubscribed_at and records the withdrawal of CONTACT, once: repeating it (mail clients
 * may post the one-click request more than once) changes nothing. 'gone' if the supporter is erased.
 */
export async function markUnsubscribed(pool: pg.Pool, id: string, at: Date): Promise<'unsubscribed' | 'already' | 'gone'> {
  return inTransaction(pool, async (client) => {
    const sup = await lockLive(client, id);
    if (!sup) return 'gone';
    if (sup.unsubscribed_at) return 'already';
    await qb(client).updateTable('supporters').set({ unsubscribed_at: at }).where('id', '=', id).execute();
    await appendConsent(client, {
      supporterId: id,
      signatureId: null,
      purpose: ConsentPurpose.CONTACT,
      granted: false,
      wordingVersion: UNSUBSCRIBE_WORDING_VERSION,
      at,
    });
    return 'unsubscribed';
  });
}

/** The signature's current flag for each choice made per signature. */
const FLAG_COLUMN = {
  NAMED_DISCLOSURE: 'named_disclosure',
  NAMED_TO_OWN_COUNTRY: 'named_to_own_country',
  PUBLIC_WALL: 'public_wall',
} as const satisfies Record<Exclude<SelfServicePurpose, typeof ConsentPurpose.CONTACT>, string>;

export type ConsentChangeResult = 'changed' | 'gone' | 'signature_not_found' | 'needs_named';

/**
 * Sets the current flag and appends the choice to the history, in one transaction.
 * Withdrawing named disclosure also withdraws naming to one's own country (it only ever
 * counts together with it), so that giving the first again later never silently revives
 * the second; giving the second needs the first.
 */
export async function changeConsent(
  pool: pg.Pool,
  c: { supporterId: string; signatureId: string | null; purpose: SelfServicePurpose; granted: boolean; at: Date },
): Promise<ConsentChangeResult> {
  return inTransaction(pool, async (client) => {
    const sup = await lockLive(client, c.supporterId);
    if (!sup) return 'gone';
    const k = qb(client);
    const record = (purpose: SelfServicePurpose, granted: boolean, signatureId: string | null) =>
      appendConsent(client, { supporterId: c.supporterId, signatureId, purpose, granted, wordingVersion: SELF_SERVICE_WORDING_VERSION, at: c.at });

    if (c.purpose === ConsentPurpose.CONTACT) {
      // giving it clears the withdrawal; withdrawing it keeps the first withdrawal's time
      await k
        .updateTable('supporters')
        .set((eb) => ({ unsubscribed_at: c.granted ? null : eb.fn.coalesce('unsubscribed_at', eb.val(c.at)) }))
        .where('id', '=', c.supporterId)
        .execute();
      await record(ConsentPurpose.CONTACT, c.granted, null);
      return 'changed';
    }

    // only a signature its owner confirmed has choices to change: a waiting sign-up's are what its
    // email asks to confirm (changing them would void its link), a set-aside one has none left
    const sig = c.signatureId
      ? await k
          .selectFrom('signatures')
          .select(['id', 'named_disclosure', 'named_to_own_country'])
          .where('id', '=', c.signatureId)
          .where('supporter_id', '=', c.supporterId)
          .where('confirmed_at', 'is not', null)
          .forUpdate()
          .executeTakeFirst()
      : undefined;
    if (!sig) return 'signature_not_found';
    if (c.purpose === ConsentPurpose.NAMED_TO_OWN_COUNTRY && c.granted && !sig.named_disclosure) return 'needs_named';

    await k.updateTable('signatures').set(FLAG_COLUMN[c.purpose], c.granted).where('id', '=', sig.id).execute();
    await record(c.purpose, c.granted, sig.id);
    if (c.purpose === ConsentPurpose.NAMED_DISCLOSURE && !c.granted && sig.named_to_own_country) {
      await k.updateTable('signatures').set({ named_to_own_country: false }).where('id', '=', sig.id).execute();
      await record(ConsentPurpose.NAMED_TO_OWN_COUNTRY, false, sig.id);
    }
    return 'changed';
  });
}

/**
 * Erases a supporter's personal data in one transaction. The signatures stay, with their
 * status, so counts and delivered totals do not change; what identifies or speaks for the
 * person (address, names, personalised letters, IP hash, consents to be named or shown) goes.
 * The canonical email becomes a hash, so the unique key no longer holds the address.
 */
export async function eraseSupporter(pool: pg.Pool, id: string, at: Date): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    if (!(await lockLive(client, id))) return false;
    const k = qb(client);
    await k
      .updateTable('signatures')
      .set({
        letter: null,
        receipt_sealed: null,
        // a keyed hash of the name, country and choices: it could be tried against names
        signup_version: null,
        ip_hash: null,
        net_hash: null,
        named_disclosure: false,
        public_wall: false,
        named_to_own_country: false,
        pending_name: null,
        pending_contact: null,
      })
      .where('supporter_id', '=', id)
      .execute();
    // a sign-up never confirmed can no longer be: its link, still in the person's mailbox,
    // would otherwise count and deliver someone who asked to be forgotten
    await k
      .updateTable('signatures')
      .set({ status: SignatureStatus.INVALIDATED, invalid_reason: 'erased', invalidated_at: at })
      .where('supporter_id', '=', id)
      .where('status', '=', SignatureStatus.PENDING)
      .execute();
    await k
      .updateTable('supporters')
      .set({
        // the data key is destroyed: what a backup still holds of this person, sealed under it,
        // opens only with the key-encryption key of that day (crypto-shredding; docs/threat-model.md)
        data_key: null,
        email: null,
        name: null,
        erased_at: at,
        // nothing is emailed to an erased address: its email budget has nothing left to say
        confirmation_window_at: null,
        confirmation_window_sent: 0,
        // a random value, not a hash of the address: a hash could be matched against a list
        // of suspected addresses to learn who signed. The price: an erased person who signs
        // again is a new supporter, and may be counted twice on an action they signed before.
        email_index: sql<string>`replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')`,
        // nor is the domain kept: staff searching a rare domain would find the erased person
        // again (the fraud search by domain), and a leaked SECRET_KEY could test domains
        email_domain_index: null,
      })
      .where('id', '=', id)
      .execute();
    forgetDataKey('supporter', id);
    return true;
  });
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A supporter's address in clear, opened with their data key; null once erased. */
export function supporterEmail(row: Pick<SupporterRow, 'id' | 'email' | 'data_key'>): string | null {
  return openOrNull(supporterKey(row.id, row.data_key), row.id, 'email', row.email);
}

/** Everything stored about one supporter, in the shape of GET /api/my-data/:token. */
export async function loadExport(pool: pg.Pool, id: string, now: Date): Promise<MyDataExport | null> {
  const k = qb(pool);
  const s = await k
    .selectFrom('supporters')
    .select(['email', 'name', 'data_key', 'country', 'locale', 'created_at', 'unsubscribed_at'])
    .where('id', '=', id)
    .where('erased_at', 'is', null)
    .executeTakeFirst();
  if (!s) return null;
  const key = supporterKey(id, s.data_key);
  const name = openName(key, id, s.name);
  const [sigs, consents] = await Promise.all([
    k
      .selectFrom('signatures as s')
      .innerJoin('actions as a', 'a.id', 's.action_id')
      .select((eb) => [
        's.id',
        'a.slug',
        // the title in the language signed in, else in the action's own, else its slug
        eb.fn
          .coalesce(
            eb.selectFrom('action_texts as t').select('t.title').whereRef('t.action_id', '=', 'a.id').whereRef('t.locale', '=', 's.locale').$asScalar(),
            eb
              .selectFrom('action_texts as t')
              .select('t.title')
              .whereRef('t.action_id', '=', 'a.id')
              .whereRef('t.locale', '=', 'a.default_locale')
              .$asScalar(),
            'a.slug',
          )
          .as('title'),
        's.status',
        's.country',
        's.locale',
        's.created_at',
        's.confirmed_at',
        's.letter',
        's.named_disclosure',
        's.public_wall',
        's.named_to_own_country',
        's.pending_name',
        's.pending_contact',
        's.receipt_sealed',
      ])
      .where('s.supporter_id', '=', id)
      .orderBy('s.created_at')
      .orderBy('s.id')
      .execute(),
    consentHistory(k, id),
  ]);
  return {
    exportedAt: now.toISOString(),
    supporter: {
      email: openOrNull(key, id, 'email', s.email),
      firstName: name.first,
      lastName: name.last,
      country: s.country,
      locale: s.locale,
      createdAt: s.created_at.toISOString(),
      unsubscribedAt: iso(s.unsubscribed_at),
    },
    signatures: sigs.map((r) => {
      const letter = openLetter(key, id, r.letter);
      const pending = openName(key, id, r.pending_name);
      return {
      id: r.id,
      action: { slug: r.slug, title: r.title },
      status: r.status,
      country: r.country,
      locale: r.locale,
      createdAt: r.created_at.toISOString(),
      confirmedAt: iso(r.confirmed_at),
      letterSubject: letter.subject,
      letterBody: letter.body,
      consents: { named: r.named_disclosure, wall: r.public_wall, namedToOwnCountry: r.named_to_own_country },
      pending:
        r.status === SignatureStatus.CONFIRMED || (r.pending_name === null && r.pending_contact === null)
          ? null
          : { firstName: pending.first, lastName: pending.last, contact: r.pending_contact },
      // the sign-up's receipt (shown on the confirmed page and in the confirmation email)
      receipt: openOrNull(key, id, 'receipt', r.receipt_sealed),
      };
    }),
    consentHistory: consents.map((r) => ({
      purpose: r.purpose,
      granted: r.granted,
      wordingVersion: r.wordingVersion,
      createdAt: r.createdAt.toISOString(),
      actionSlug: r.actionSlug,
    })),
  };
}
