// Test support for receipts: gives signatures a receipt code of the test's own, as the signing
// path gives one to every new sign-up, so a test knows the code its signer would hold.
import type pg from 'pg';
import { newReceiptCode, receiptLeaf } from '../signature/receipt.ts';

/**
 * Gives each of the signatures `ids` a new receipt code and stores its leaf (replacing any the
 * signing path wrote, whose code the test cannot read); answers the codes by signature id.
 */
export async function giveReceipts(pool: pg.Pool, ids: readonly string[]): Promise<Map<string, string>> {
  const codes = new Map(ids.map((id) => [id, newReceiptCode()]));
  if (ids.length === 0) return codes;
  await pool.query(
    `UPDATE signatures s SET receipt_leaf = v.leaf FROM unnest($1::uuid[], $2::bytea[]) AS v(id, leaf) WHERE s.id = v.id`,
    [[...codes.keys()], [...codes.values()].map((code) => receiptLeaf(code))],
  );
  return codes;
}
