// DKIM: every email the platform sends is signed by the one mailer (mailer.ts) with the key of
// DKIM_SELECTOR, for the domain of MAIL_FROM, so receivers can check that it comes from that
// domain and was not changed on the way. `npm run dns` (server/bin/dns.ts) prints the record
// that publishes the public half of the key.
//
// - key: RSA, 2048 bits by default (server/bin/dkim-key.mjs). Every receiver verifies RSA; Ed25519
//   (RFC 8463) is still not verified by several large providers, so a message signed only with it
//   counts as unsigned there. 2048 to 4096 bits are accepted from DKIM_PRIVATE_KEY.
// - algorithm rsa-sha256, canonicalisation relaxed/relaxed (header and body): relays that refold
//   headers or change trailing whitespace do not break the signature, as they do with simple.
// - headers signed: DKIM_SIGNED_HEADERS, those of them a message has.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** The headers the signature covers, when present: what a reader sees and what one-click unsubscribe needs signed (RFC 8058). */
export const DKIM_SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'In-Reply-To',
  'References',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'Auto-Submitted',
] as const;

const MIN_BITS = 2048;
const MAX_BITS = 4096;

/**
 * Reads a DKIM private key given as PEM text (PKCS #8 or PKCS #1; line breaks may be written as
 * `\n`, as one-line environment files need). Answers the key as PKCS #8 PEM, or why it cannot
 * sign.
 */
export function parseDkimPrivateKey(text: string): { pem: string } | { error: string } {
  const pem = `${text.replaceAll('\\n', '\n').trim()}\n`;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    return { error: 'must be an unencrypted PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)' };
  }
  if (key.asymmetricKeyType !== 'rsa') return { error: `must be an RSA key (this one is ${key.asymmetricKeyType ?? 'of another type'})` };
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_BITS || bits > MAX_BITS) return { error: `must be an RSA key of ${MIN_BITS} to ${MAX_BITS} bits (this one has ${bits})` };
  return { pem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The public half of a private key, as the p= of its DKIM record (base64 of the DER SubjectPublicKeyInfo). */
export function dkimPublicKey(privatePem: string): string {
  return createPublicKey(privatePem).export({ type: 'spki', format: 'der' }).toString('base64');
}

/** The TXT record's text that publishes the key: at `<selector>._domainkey.<domain>`. */
export function dkimRecordText(privatePem: string): string {
  return `v=DKIM1; k=rsa; p=${dkimPublicKey(privatePem)}`;
}
