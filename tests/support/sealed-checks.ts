// What a test that reads personal data from the database checks of the raw columns: that it is
// stored sealed (server/src/privacy/personal-data.ts), not in clear, and that the columns from
// before sealing (*_clear) are empty. The values themselves are read with the helpers of
// server/src/testing/sealed.ts, which open them.
import type pg from 'pg';
import { expect } from 'vitest';
import { indexOfEmail, supporterById, type OpenedSupporter } from '../../server/src/testing/sealed.ts';

type Db = pg.Pool | pg.PoolClient;

/**
 * A sealed column's raw value (bytea): bytes whenever there is something to hold, and none of
 * `clear` (the values opened from it, or that went into it) anywhere in it as text. Null passes
 * only when none of `clear` is given.
 */
export function expectSealed(raw: unknown, ...clear: (string | null | undefined)[]): void {
  const values = clear.filter((c): c is string => typeof c === 'string' && c.length > 0);
  if (raw === null || raw === undefined) {
    expect(values, 'a value to hold, but the sealed column is empty').toEqual([]);
    return;
  }
  expect(raw).toBeInstanceOf(Buffer);
  const bytes = raw as Buffer;
  for (const value of values) expect(bytes.includes(Buffer.from(value, 'utf8')), `"${value}" stored in clear`).toBe(false);
}

const SIGNATURE_CLEAR = ['pending_first_name_clear', 'pending_last_name_clear', 'letter_subject_clear', 'letter_body_clear'];
const SUPPORTER_CLEAR = ['canonical_email_clear', 'email_clear', 'first_name_clear', 'last_name_clear'];

/**
 * A row of openedSignatures(): the name, letter and receipt of the sign-up and the supporter's
 * address and name are held only sealed, and nothing is left in the columns from before sealing.
 */
export function expectSignatureSealed(r: Record<string, unknown>): void {
  expectSealed(r.pending_name, r.pending_first_name as string | null, r.pending_last_name as string | null);
  expectSealed(r.letter, r.letter_subject as string | null, r.letter_body as string | null);
  expectSealed(r.receipt_sealed, r.receipt as string | null);
  expectSealed(r.supporter_email, r.email as string | null);
  expectSealed(r.supporter_name, r.first_name as string | null, r.last_name as string | null);
  for (const c of SIGNATURE_CLEAR) expect(r[c] ?? null, `signatures.${c}`).toBeNull();
}

/**
 * A supporter opened (supporterById), after checking their raw row: the address and name only
 * sealed, the address's blind index (not the address) as its key, the columns from before
 * sealing empty. Null if there is no such supporter.
 */
export async function sealedSupporter(db: Db, id: string): Promise<OpenedSupporter | null> {
  const { rows } = await db.query(`SELECT * FROM supporters WHERE id = $1`, [id]);
  const raw = rows[0] as Record<string, unknown> | undefined;
  if (!raw) return null;
  const opened = (await supporterById(db, id))!;
  expectSealed(raw.email, opened.email);
  expectSealed(raw.name, opened.first_name, opened.last_name);
  if (opened.email) expect(raw.email_index).toBe(indexOfEmail(opened.email));
  for (const c of SUPPORTER_CLEAR) expect(raw[c] ?? null, `supporters.${c}`).toBeNull();
  return opened;
}

/** The live supporter of an address (by its blind index), checked as sealedSupporter() does; null if none. */
export async function sealedSupporterByEmail(db: Db, email: string): Promise<OpenedSupporter | null> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM supporters WHERE email_index = $1`, [indexOfEmail(email)]);
  return rows[0] ? sealedSupporter(db, rows[0].id) : null;
}
