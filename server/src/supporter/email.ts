// Canonical email addresses: the key that catches one person signing twice.
// Lower-case everything. Only where the mail provider is known to deliver every spelling to one
// mailbox are those spellings one key: a +tag (ana+petition@gmail.com reaches ana@gmail.com),
// and Gmail's dots. Elsewhere a +tag may be part of another person's address (a provider
// without sub-addressing, or a catch-all domain): folding it would let whoever typed
// victim+x@example.org first decide where every email for victim@example.org goes (her
// confirmations, her data links), so there the address is its own key.
import { domainToASCII } from 'node:url';

// (after DOMAIN_ALIASES: a provider's other domain names are already its main one)
const DOTLESS_DOMAINS = new Set(['gmail.com']);

/** Domains that are other names of one provider's mailboxes (its documented aliases). */
const DOMAIN_ALIASES: Record<string, string> = {
  'googlemail.com': 'gmail.com',
  'protonmail.com': 'proton.me',
  'protonmail.ch': 'proton.me',
  'pm.me': 'proton.me',
  'me.com': 'icloud.com',
  'mac.com': 'icloud.com',
  'yandex.com': 'yandex.ru',
  'yandex.by': 'yandex.ru',
  'yandex.kz': 'yandex.ru',
  'yandex.ua': 'yandex.ru',
  'ya.ru': 'yandex.ru',
};

/** Providers that deliver local+tag@domain to local@domain (their documented sub-addressing). */
const PLUS_TAG_DOMAINS = new Set(['gmail.com', 'outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'icloud.com', 'proton.me', 'fastmail.com', 'yandex.ru']);

export { isPlausibleEmail } from '../shared/email.ts';

/**
 * Lower case for the ASCII letters only: Unicode case mapping folds other characters into them
 * (the KELVIN SIGN U+212A into k), and a mail provider need not deliver such a spelling to the
 * mailbox of the ASCII one.
 */
const asciiLower = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

export function canonicalEmail(email: string): string {
  // no Unicode normalisation either: NFC turns the KELVIN SIGN into K
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  let local = asciiLower(trimmed.slice(0, at));
  let domain = domainToASCII(trimmed.slice(at + 1)).toLowerCase() || trimmed.slice(at + 1).toLowerCase();
  domain = DOMAIN_ALIASES[domain] ?? domain;
  const plus = local.indexOf('+');
  if (plus > 0 && PLUS_TAG_DOMAINS.has(domain)) local = local.slice(0, plus);
  if (DOTLESS_DOMAINS.has(domain)) local = local.replaceAll('.', '');
  // Yandex delivers a.b@ and a-b@ to one mailbox
  if (domain === 'yandex.ru') local = local.replaceAll('.', '-');
  return `${local}@${domain}`;
}
