// Tests read and write supporters' personal data as the platform stores it: sealed under each
// supporter's data key, found by the blind index of the address (server/src/privacy/personal-data.ts).
// These helpers open what a test needs to look at, and make rows a test sets up directly.
import type pg from 'pg';
import { canonicalEmail } from '../supporter/email.ts';
import { emailDomainIndex, emailIndex, openLetter, openName, openOrNull, supporterKey } from '../privacy/personal-data.ts';
import { newSealedReceipt, newSealedSupporter } from '../privacy/sealed-rows.ts';

type Db = pg.Pool | pg.PoolClient;

/** The blind index of an address, as supporters.email_index holds it: `WHERE p.email_index = $1`. */
export function indexOfEmail(email: string): string {
  return emailIndex(canonicalEmail(email));
}

/** A supporter as a test reads them: their row, with the address and names opened. */
export interface OpenedSupporter {
  id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  country: string | null;
  locale: string;
  unsubscribed_at: Date | null;
  erased_at: Date | null;
  email_index: string | null;
  data_key: Buffer | null;
  created_at: Date;
}

function openSupporterRow(r: { id: string; data_key: Buffer | null; email: Buffer | null; name: Buffer | null } & Record<string, unknown>): OpenedSupporter {
  const key = supporterKey(r.id, r.data_key);
  const name = openName(key, r.id, r.name);
  return {
    id: r.id,
    email: openOrNull(key, r.id, 'email', r.email),
    first_name: name.first,
    last_name: name.last,
    country: r.country as string | null,
    locale: r.locale as string,
    unsubscribed_at: r.unsubscribed_at as Date | null,
    erased_at: r.erased_at as Date | null,
    email_index: r.email_index as string | null,
    data_key: r.data_key,
    created_at: r.created_at as Date,
  };
}

/** The live supporter of an address (by its blind index), opened; null if none. */
export async function supporterByEmail(db: Db, email: string): Promise<OpenedSupporter | null> {
  const { rows } = await db.query(`SELECT * FROM supporters WHERE email_index = $1`, [indexOfEmail(email)]);
  return rows[0] ? openSupporterRow(rows[0]) : null;
}

/** A supporter by id, opened (an erased one has no address or name left); null if none. */
export async function supporterById(db: Db, id: string): Promise<OpenedSupporter | null> {
  const { rows } = await db.query(`SELECT * FROM supporters WHERE id = $1`, [id]);
  return rows[0] ? openSupporterRow(rows[0]) : null;
}

/**
 * Signatures with their sign-up's and supporter's personal data opened: every column of
 * `signatures`, and pending_first_name, pending_last_name, letter_subject, letter_body, receipt,
 * email, first_name, last_name. `where` is over `s` (signatures) and `p` (supporters).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a row of signatures with any of its columns, as a test reads it
export async function openedSignatures(db: Db, where: string, params: unknown[]): Promise<Record<string, any>[]> {
  const { rows } = await db.query(
    `SELECT s.*, p.data_key AS supporter_data_key, p.email AS supporter_email, p.name AS supporter_name, p.email_index
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE ${where} ORDER BY s.created_at, s.id`,
    params,
  );
  return rows.map(openSignatureRow);
}

/** Inserts a supporter as the writer would (sealed); answers its id and data key. */
export async function insertSupporter(
  db: Db,
  p: { email: string; firstName?: string | null; lastName?: string | null; country?: string | null; locale?: string; createdAt?: Date },
): Promise<{ id: string; key: Buffer }> {
  const s = newSealedSupporter(p.email, p.firstName ?? null, p.lastName ?? null);
  await db.query(
    `INSERT INTO supporters (id, email_index, email_domain_index, data_key, email, name, country, locale, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [s.id, s.email_index, s.email_domain_index, s.data_key, s.email, s.name, p.country ?? null, p.locale ?? 'en', p.createdAt ?? new Date()],
  );
  return { id: s.id, key: s.key };
}

/** A new receipt for a sign-up of the supporter with data key `key`: the columns receipt_leaf and receipt_sealed, and the code. */
export { newSealedReceipt };

/**
 * What openedSignatures() selects of the supporter `p`, for a query of a test's own (other joins,
 * other columns) whose rows openSignatureRow() then opens: `SELECT s.*, ${SUPPORTER_SEALED}, ... FROM
 * signatures s JOIN supporters p ON p.id = s.supporter_id ...`.
 */
export const SUPPORTER_SEALED = 'p.data_key AS supporter_data_key, p.email AS supporter_email, p.name AS supporter_name, p.email_index';

/**
 * A row of such a query, opened as openedSignatures() opens its rows: pending_first_name,
 * pending_last_name, letter_subject, letter_body, receipt (from the row's pending_name, letter,
 * receipt_sealed, where selected), email, first_name, last_name (from SUPPORTER_SEALED).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a row of signatures with any of its columns, as a test reads it
export function openSignatureRow(r: Record<string, any>): Record<string, any> {
  const key = supporterKey(r.supporter_id, r.supporter_data_key);
  const pending = openName(key, r.supporter_id, r.pending_name);
  const own = openName(key, r.supporter_id, r.supporter_name);
  const letter = openLetter(key, r.supporter_id, r.letter);
  return {
    ...r,
    pending_first_name: pending.first,
    pending_last_name: pending.last,
    letter_subject: letter.subject,
    letter_body: letter.body,
    receipt: openOrNull(key, r.supporter_id, 'receipt', r.receipt_sealed),
    email: openOrNull(key, r.supporter_id, 'email', r.supporter_email),
    first_name: own.first,
    last_name: own.last,
  };
}

/**
 * A supporter's data key (unwrapped), to seal what a test writes straight into their rows, as
 * the platform would: sealName, sealLetter, seal of personal-data.ts, with the supporter's id.
 */
export async function dataKeyOf(db: Db, supporterId: string): Promise<Buffer> {
  const { rows } = await db.query<{ data_key: Buffer | null }>(`SELECT data_key FROM supporters WHERE id = $1`, [supporterId]);
  const key = supporterKey(supporterId, rows[0]?.data_key ?? null);
  if (!key) throw new Error(`supporter ${supporterId} has no data key (erased, or no such supporter)`);
  return key;
}

/**
 * Inserts many supporters at once as the writer would (sealed), in one statement; answers their
 * ids in the order given, for a test that sets up a crowd of signers.
 */
export async function insertSupporters(
  db: Db,
  people: { email: string; firstName?: string | null; lastName?: string | null; country?: string | null; locale?: string; createdAt?: Date }[],
): Promise<string[]> {
  if (people.length === 0) return [];
  const sealed = people.map((p) => newSealedSupporter(p.email, p.firstName ?? null, p.lastName ?? null));
  const now = new Date();
  await db.query(
    `INSERT INTO supporters (id, email_index, email_domain_index, data_key, email, name, country, locale, created_at)
     SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::bytea[], $5::bytea[], $6::bytea[], $7::varchar[], $8::varchar[], $9::timestamptz[])`,
    [
      sealed.map((s) => s.id),
      sealed.map((s) => s.email_index),
      sealed.map((s) => s.email_domain_index),
      sealed.map((s) => s.data_key),
      sealed.map((s) => s.email),
      sealed.map((s) => s.name),
      people.map((p) => p.country ?? null),
      people.map((p) => p.locale ?? 'en'),
      people.map((p) => p.createdAt ?? now),
    ],
  );
  return sealed.map((s) => s.id);
}

/** The blind index of an address's domain, as supporters.email_domain_index holds it: `WHERE p.email_domain_index = $1`. */
export function indexOfDomain(domain: string): string {
  return emailDomainIndex(canonicalEmail(`x@${domain}`));
}
