// Canonical email addresses: the key that catches one person signing twice.
// Lower-case everything, drop a +tag, and for Gmail (which ignores dots) drop the dots.
import { domainToASCII } from 'node:url';

const DOTLESS_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/** A deliberately strict shape: one @, no spaces or control characters, a dotted domain. */
const EMAIL_SHAPE = /^[^\s@\p{Cc}\p{Cf}]{1,64}@[^\s@\p{Cc}\p{Cf}]{1,253}$/u;

export function isPlausibleEmail(email: string): boolean {
  if (email.length > 254 || !EMAIL_SHAPE.test(email)) return false;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  const ascii = domainToASCII(domain);
  return ascii !== '' && /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(ascii) && !/[<>"'(),;:\\[\]]/.test(email);
}

export function canonicalEmail(email: string): string {
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  let local = trimmed.slice(0, at).toLowerCase();
  let domain = domainToASCII(trimmed.slice(at + 1)).toLowerCase() || trimmed.slice(at + 1).toLowerCase();
  if (domain === 'googlemail.com') domain = 'gmail.com';
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (DOTLESS_DOMAINS.has(domain)) local = local.replaceAll('.', '');
  return `${local}@${domain}`;
}
