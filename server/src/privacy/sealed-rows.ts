// The sealed columns of a new supporter and of a sign-up's receipt, for the places that write
// such rows outside the signature writer: the seed, the key tool's sealing of rows from before
// sealing, and tests that set up signers directly.
import { randomUUID } from 'node:crypto';
import { canonicalEmail } from '../supporter/email.ts';
import { newReceiptCode, receiptLeaf } from '../signature/receipt.ts';
import { emailDomainIndex, emailIndex, newDataKey, seal, sealName } from './personal-data.ts';

export interface SealedSupporter {
  id: string;
  /** the data key in clear, to seal more under it (a receipt, a letter) */
  key: Buffer;
  email_index: string;
  email_domain_index: string;
  data_key: Buffer;
  email: Buffer;
  name: Buffer | null;
}

/** A new supporter's row: an id, a data key of their own, the address and name sealed under it. */
export function newSealedSupporter(email: string, firstName: string | null, lastName: string | null, id: string = randomUUID()): SealedSupporter {
  const { key, wrapped } = newDataKey('supporter', id);
  const canonical = canonicalEmail(email);
  return {
    id,
    key,
    email_index: emailIndex(canonical),
    email_domain_index: emailDomainIndex(canonical),
    data_key: wrapped,
    email: seal(key, id, 'email', email),
    name: sealName(key, id, firstName, lastName),
  };
}

/** A sign-up's receipt: the code, its leaf, and the code sealed under the supporter's data key. */
export function newSealedReceipt(key: Buffer, supporterId: string): { code: string; receipt_leaf: Buffer; receipt_sealed: Buffer } {
  const code = newReceiptCode();
  return { code, receipt_leaf: receiptLeaf(code), receipt_sealed: seal(key, supporterId, 'receipt', code) };
}
