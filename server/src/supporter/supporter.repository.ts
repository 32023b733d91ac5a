// SQL for member self-service. Every change takes the supporter's row lock first (the same
// order as the signature writer: supporter, then signatures), so an erasure, a consent change
// and a repeat signature by the same person are serialised rather than interleaved.
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';
import type { MyDataExport, SelfServicePurpose } from './supporter.schema.ts';

export interface SupporterRow {
  id: string;
  email: string | null;
  locale: string;
  unsubscribed_at: Date | null;
  erased_at: Date | null;
}

/** Consent wording versions for choices made outside the signing form. */
export const UNSUBSCRIBE_WORDING_VERSION = 'unsubscribe-2026-11';
export const SELF_SERVICE_WORDING_VERSION = 'self-service-2026-11';

export async function findSupporter(pool: pg.Pool | pg.PoolClient, id: string): Promise<SupporterRow | null> {
  const { rows } = await pool.query<SupporterRow>(
    'SELECT id, email, locale, unsubscribed_at, erased_at FROM supporters WHERE id = $1',
    [id],
  );
  return rows[0] ?? null;
}

/** A supporter who can still be written to: known by canonical email, not erased. */
export async function findMailableByCanonicalEmail(pool: pg.Pool, canonical: string): Promise<SupporterRow | null> {
  const { rows } = await pool.query<SupporterRow>(
    `SELECT id, email, locale, unsubscribed_at, erased_at FROM supporters
     WHERE canonical_email = $1 AND erased_at IS NULL AND email IS NOT NULL`,
    [canonical],
  );
  return rows[0] ?? null;
}

/** Locks a live (not erased) supporter for the rest of the transaction; false if there is none. */
async function lockLive(client: pg.PoolClient, id: string): Promise<SupporterRow | null> {
  const { rows } = await client.query<SupporterRow>(
    'SELECT id, email, locale, unsubscribed_at, erased_at FROM supporters WHERE id = $1 AND erased_at IS NULL FOR UPDATE',
    [id],
  );
  return rows[0] ?? null;
}

async function appendConsent(
  client: pg.PoolClient,
  c: { supporterId: string; signatureId: string | null; purpose: string; granted: boolean; wordingVersion: string; at: Date },
): Promise<void> {
  await client.query(
    `INSERT INTO consents (supporter_id, signature_id, purpose, granted, wording_version, created_at)
     VALUES ($1, $2, $3::"ConsentPurpose", $4, $5, $6)`,
    [c.supporterId, c.signatureId, c.purpose, c.granted, c.wordingVersion, c.at],
  );
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
    await client.query('UPDATE supporters SET unsubscribed_at = $2 WHERE id = $1', [id, at]);
    await appendConsent(client, { supporterId: id, signatureId: null, purpose: 'CONTACT', granted: false, wordingVersion: UNSUBSCRIBE_WORDING_VERSION, at });
    return 'unsubscribed';
  });
}

const FLAG_COLUMN: Record<Exclude<SelfServicePurpose, 'CONTACT'>, string> = {
  NAMED_DISCLOSURE: 'named_disclosure',
  NAMED_TO_OWN_COUNTRY: 'named_to_own_country',
  PUBLIC_WALL: 'public_wall',
};

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
    const record = (purpose: SelfServicePurpose, granted: boolean, signatureId: string | null) =>
      appendConsent(client, { supporterId: c.supporterId, signatureId, purpose, granted, wordingVersion: SELF_SERVICE_WORDING_VERSION, at: c.at });

    if (c.purpose === 'CONTACT') {
      await client.query(
        `UPDATE supporters SET unsubscribed_at = CASE WHEN $2::bool THEN NULL ELSE COALESCE(unsubscribed_at, $3) END WHERE id = $1`,
        [c.supporterId, c.granted, c.at],
      );
      await record('CONTACT', c.granted, null);
      return 'changed';
    }

    const { rows } = await client.query<{ id: string; named_disclosure: boolean; named_to_own_country: boolean }>(
      // only a signature its owner confirmed has choices to change: a waiting sign-up's are what its
      // email asks to confirm (changing them would void its link), a set-aside one has none left
      'SELECT id, named_disclosure, named_to_own_country FROM signatures WHERE id = $1 AND supporter_id = $2 AND confirmed_at IS NOT NULL FOR UPDATE',
      [c.signatureId, c.supporterId],
    );
    const sig = rows[0];
    if (!sig) return 'signature_not_found';
    if (c.purpose === 'NAMED_TO_OWN_COUNTRY' && c.granted && !sig.named_disclosure) return 'needs_named';

    await client.query(`UPDATE signatures SET ${FLAG_COLUMN[c.purpose]} = $2 WHERE id = $1`, [sig.id, c.granted]);
    await record(c.purpose, c.granted, sig.id);
    if (c.purpose === 'NAMED_DISCLOSURE' && !c.granted && sig.named_to_own_country) {
      await client.query('UPDATE signatures SET named_to_own_country = false WHERE id = $1', [sig.id]);
      await record('NAMED_TO_OWN_COUNTRY', false, sig.id);
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
    await client.query(
      `UPDATE signatures
       SET letter_subject = NULL, letter_body = NULL, ip_hash = NULL, net_hash = NULL,
           named_disclosure = false, public_wall = false, named_to_own_country = false,
           pending_first_name = NULL, pending_last_name = NULL, pending_contact = NULL
       WHERE supporter_id = $1`,
      [id],
    );
    // a sign-up never confirmed can no longer be: its link, still in the person's mailbox,
    // would otherwise count and deliver someone who asked to be forgotten
    await client.query(
      `UPDATE signatures SET status = 'INVALIDATED', invalid_reason = 'erased', invalidated_at = $2
       WHERE supporter_id = $1 AND status = 'PENDING'`,
      [id, at],
    );
    await client.query(
      `UPDATE supporters
       SET email = NULL, first_name = NULL, last_name = NULL, erased_at = $2,
           -- nothing is emailed to an erased address: its email budget has nothing left to say
           confirmation_window_at = NULL, confirmation_window_sent = 0,
           -- a random value, not a hash of the address: a hash could be matched against a list
           -- of suspected addresses to learn who signed. The price: an erased person who signs
           -- again is a new supporter, and may be counted twice on an action they signed before.
           canonical_email = 'erased:' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
       WHERE id = $1`,
      [id, at],
    );
    return true;
  });
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Everything stored about one supporter, in the shape of GET /api/my-data/:token. */
export async function loadExport(pool: pg.Pool, id: string, now: Date): Promise<MyDataExport | null> {
  const sup = await pool.query<{
    email: string | null;
    first_name: string | null;
    last_name: string | null;
    country: string | null;
    locale: string;
    created_at: Date;
    unsubscribed_at: Date | null;
  }>(
    `SELECT email, first_name, last_name, country, locale, created_at, unsubscribed_at
     FROM supporters WHERE id = $1 AND erased_at IS NULL`,
    [id],
  );
  const s = sup.rows[0];
  if (!s) return null;
  const [sigs, consents] = await Promise.all([
    pool.query<{
      id: string;
      slug: string;
      title: string;
      status: 'PENDING' | 'CONFIRMED' | 'INVALIDATED';
      country: string;
      locale: string;
      created_at: Date;
      confirmed_at: Date | null;
      letter_subject: string | null;
      letter_body: string | null;
      named_disclosure: boolean;
      public_wall: boolean;
      named_to_own_country: boolean;
      pending_first_name: string | null;
      pending_last_name: string | null;
      pending_contact: boolean | null;
    }>(
      `SELECT s.id, a.slug,
              COALESCE((SELECT title FROM action_texts WHERE action_id = a.id AND locale = s.locale),
                       (SELECT title FROM action_texts WHERE action_id = a.id AND locale = a.default_locale), a.slug) AS title,
              s.status, s.country, s.locale, s.created_at, s.confirmed_at, s.letter_subject, s.letter_body,
              s.named_disclosure, s.public_wall, s.named_to_own_country, s.pending_first_name, s.pending_last_name, s.pending_contact
       FROM signatures s JOIN actions a ON a.id = s.action_id
       WHERE s.supporter_id = $1
       ORDER BY s.created_at, s.id`,
      [id],
    ),
    pool.query<{ purpose: MyDataExport['consentHistory'][number]['purpose']; granted: boolean; wording_version: string; created_at: Date; slug: string | null }>(
      `SELECT c.purpose, c.granted, c.wording_version, c.created_at, a.slug
       FROM consents c
       LEFT JOIN signatures s ON s.id = c.signature_id
       LEFT JOIN actions a ON a.id = s.action_id
       WHERE c.supporter_id = $1
       ORDER BY c.created_at, c.purpose, c.id`,
      [id],
    ),
  ]);
  return {
    exportedAt: now.toISOString(),
    supporter: {
      email: s.email,
      firstName: s.first_name,
      lastName: s.last_name,
      country: s.country,
      locale: s.locale,
      createdAt: s.created_at.toISOString(),
      unsubscribedAt: iso(s.unsubscribed_at),
    },
    signatures: sigs.rows.map((r) => ({
      id: r.id,
      action: { slug: r.slug, title: r.title },
      status: r.status,
      country: r.country,
      locale: r.locale,
      createdAt: r.created_at.toISOString(),
      confirmedAt: iso(r.confirmed_at),
      letterSubject: r.letter_subject,
      letterBody: r.letter_body,
      consents: { named: r.named_disclosure, wall: r.public_wall, namedToOwnCountry: r.named_to_own_country },
      pending:
        r.status === 'CONFIRMED' || (r.pending_first_name === null && r.pending_last_name === null && r.pending_contact === null)
          ? null
          : { firstName: r.pending_first_name, lastName: r.pending_last_name, contact: r.pending_contact },
    })),
    consentHistory: consents.rows.map((r) => ({
      purpose: r.purpose,
      granted: r.granted,
      wordingVersion: r.wording_version,
      createdAt: r.created_at.toISOString(),
      actionSlug: r.slug,
    })),
  };
}
