// Test support for receipts: the code a signer holds, as the signing path made it (sealed under the
// supporter's data key, server/src/privacy/personal-data.ts), opened for the test.
import type pg from 'pg';
import { openedSignatures } from './sealed.ts';

/** The receipt code of the signature `id`, as its signer was given it. */
export async function receiptOf(pool: pg.Pool, id: string): Promise<string> {
  const [row] = await openedSignatures(pool, 's.id = $1', [id]);
  const code = row?.receipt as string | null | undefined;
  if (!code) throw new Error(`signature ${id} has no receipt`);
  return code;
}
