// The DKIM signing key of this machine, generated once into .data/ like SECRET_KEY. Plain
// JavaScript with no dependencies: server/bin/chorus.mjs uses it before any TypeScript runs, and
// `npm run dns` (server/bin/dns.ts) uses it to print the record of the same key.
//
// One file per selector (.data/dkim-<selector>.pem): rotating the key is choosing a new
// selector (DKIM_SELECTOR), which gets a new key beside the old one, whose record stays published
// until the mail it signed has been delivered (docs/operating.md).
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** the selector when DKIM_SELECTOR is unset; dated, so a rotation's new selector reads as newer */
export const DEFAULT_DKIM_SELECTOR = 'chorus2026';

/** RSA 2048: what every receiver verifies (RFC 8301 asks signers for 2048 bits at least) */
export const DKIM_KEY_BITS = 2048;

export function dkimKeyFile(dataDir, selector) {
  return join(dataDir, `dkim-${selector}.pem`);
}

/** A new RSA private key in PKCS #8 PEM. */
export function generateDkimKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: DKIM_KEY_BITS });
  return privateKey.export({ type: 'pkcs8', format: 'pem' });
}

/**
 * The key of `selector` under `dataDir`: read from its file, or generated into it (readable by
 * its owner only) when there is none. Answers { pem, file, generated }.
 */
export function ensureDkimKey(dataDir, selector) {
  const file = dkimKeyFile(dataDir, selector);
  if (existsSync(file)) return { pem: readFileSync(file, 'utf8'), file, generated: false };
  mkdirSync(dataDir, { recursive: true });
  // 'wx': two commands starting at once never overwrite each other's key
  try {
    writeFileSync(file, generateDkimKey(), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (err?.code !== 'EEXIST') throw err;
    return { pem: readFileSync(file, 'utf8'), file, generated: false };
  }
  return { pem: readFileSync(file, 'utf8'), file, generated: true };
}
