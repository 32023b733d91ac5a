// A signer's receipt: a random code they are given with their sign-up, that lets them (and only
// whoever holds it) check that their signature was counted and in which delivery. The code is
// never stored in clear: the database keeps it sealed under the supporter's data key, and its
// leaf, a hash keyed by the code itself. Anyone holding the code can recompute the leaf and check
// an inclusion proof against a published root with no secret of ours (docs/members-and-officials.md).
import { createHmac } from 'node:crypto';
import { random } from '../privacy/personal-data.ts';

/** Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 4;
const GROUP = 5;
/** 20 characters of 5 bits: 100 random bits, beyond any guessing */
const LENGTH = GROUPS * GROUP;

/** A new code, as shown: four groups of five, e.g. `7K2QX-9MD4R-PZ1WA-E6TNB`. */
export function newReceiptCode(): string {
  const bytes = random(LENGTH);
  let raw = '';
  for (const b of bytes) raw += ALPHABET[b & 31];
  return formatReceiptCode(raw);
}

function formatReceiptCode(raw: string): string {
  const parts: string[] = [];
  for (let i = 0; i < LENGTH; i += GROUP) parts.push(raw.slice(i, i + GROUP));
  return parts.join('-');
}

/**
 * The code as typed, in its shown form; null when it cannot be one. Case, spaces and hyphens
 * do not matter, and the letters a person may copy for a digit (O for 0, I and L for 1) are read
 * as that digit.
 */
export function normaliseReceiptCode(input: string): string | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const raw = input
    .toUpperCase()
    .replace(/[\s-]+/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (raw.length !== LENGTH) return null;
  for (const ch of raw) if (!ALPHABET.includes(ch)) return null;
  return formatReceiptCode(raw);
}

const LEAF_LABEL = 'chorus receipt leaf v1';

/** The code's leaf: HMAC-SHA-256 keyed by the code (in its shown form) over a fixed label. */
export function receiptLeaf(code: string): Buffer {
  const shown = SHOWN.test(code) ? code : normaliseReceiptCode(code);
  if (!shown) throw new Error('not a receipt code');
  return createHmac('sha256', shown).update(LEAF_LABEL).digest();
}

/** a code already in its shown form (as newReceiptCode makes it) */
const SHOWN = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

/** The cookie that carries a receipt from confirming to the thanks page, once (never in a URL: logs keep URLs). */
export const RECEIPT_COOKIE = 'chorus_receipt';

/** The Set-Cookie value: ten minutes, this site only, not for scripts; Secure over https. */
export function receiptCookie(code: string, secure: boolean): string {
  return `${RECEIPT_COOKIE}=${encodeURIComponent(code)}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
