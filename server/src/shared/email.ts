// The shape of an email address we accept, wherever one is typed: the sign form (the API's
// schema and the pages' check before posting), "my data" requests, staff accounts.
import { domainToASCII } from 'node:url';

/** A deliberately strict shape: one @, no spaces or control characters, a dotted domain. */
const EMAIL_SHAPE = /^[^\s@\p{Cc}\p{Cf}]{1,64}@[^\s@\p{Cc}\p{Cf}]{1,253}$/u;

export function isPlausibleEmail(email: string): boolean {
  if (email.length > 254 || !EMAIL_SHAPE.test(email)) return false;
  // the local part is a dot-atom: no dot at either end, never two in a row (SMTP refuses
  // "a..b@" unquoted: an address folded into someone's that no mail can reach)
  const local = email.slice(0, email.lastIndexOf('@'));
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  const ascii = domainToASCII(domain);
  return ascii !== '' && /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(ascii) && !/[<>"'(),;:\\[\]]/.test(email);
}
