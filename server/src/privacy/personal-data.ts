// Personal data sealed at rest. Every supporter (and every paper import, and every export file)
// has a random 256-bit data key of its own, stored only wrapped (XChaCha20-Poly1305) under a
// key-encryption key that is never in the database: DATA_KEY, or the keyring file DATA_KEY_FILE
// (`npm start` generates one into .data/). What identifies a person is sealed under their data key
// with XChaCha20-Poly1305 (libsodium, through sodium-native), bound to its row and field
// (associated data), so a sealed value copied into another row or column does not open. Values
// sealed before (version 1: AES-256-GCM through node:crypto) still open, and a key rotation
// re-wraps their data keys in the new form. Equality lookups use a keyed blind index (HMAC-SHA-256
// under a key derived from SECRET_KEY), never the clear value.
//
// Erasing a supporter destroys their data key: what a backup still holds of them opens only with
// the key-encryption key it was wrapped under, and not at all once that key has been rotated out
// (`npm run keys -- rotate`, server/bin/keys.ts). docs/threat-model.md says what this does and does not stop.
import { createDecipheriv, createHash, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import sodium from 'sodium-native';

/** version 1: AES-256-GCM (node:crypto), a 12-byte IV; still opened, no longer written */
const AES_GCM = 1;
/**
 * version 2: XChaCha20-Poly1305 (libsodium), a random 24-byte nonce: no bound worth counting on
 * how many values one key may seal (every data key is wrapped under the same key-encryption key).
 * One call into libsodium instead of node:crypto's cipher object with its five calls; a sign-up
 * seals four values, and this was most of the time they took.
 */
const XCHACHA = 2;
const VERSION = XCHACHA;
const IV = 12;
const NONCE = 24;
const TAG = 16;
const KEY = 32;
/** a key-encryption key's id: the first 8 bytes of its SHA-256 */
const KEK_ID = 8;

export interface KeyEncryptionKey {
  id: Buffer;
  key: Buffer;
  /** what a data key wrapped under it begins with: the version, then `id` */
  head: Buffer;
}

/** The key-encryption keys this process knows: the current one wraps, every one unwraps. */
export interface Keyring {
  current: KeyEncryptionKey;
  all: KeyEncryptionKey[];
}

export function kekOf(key: Buffer): KeyEncryptionKey {
  if (key.length !== KEY) throw new Error(`a data key-encryption key is ${KEY} bytes, not ${key.length}`);
  const id = createHash('sha256').update(key).digest().subarray(0, KEK_ID);
  return { id, key, head: Buffer.concat([Buffer.from([VERSION]), id]) };
}

/** 32 bytes as 64 hex digits or as base64 (43 or 44 characters). */
export function parseKeyText(text: string, name: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, 'base64') : null;
  if (!key || key.length !== KEY) throw new Error(`${name} must be 32 random bytes, as 64 hex digits or base64 (openssl rand -hex 32)`);
  return key;
}

/** The keyring file: `{"keys": ["<hex>", ...]}`, the current key first. */
export interface KeyringFile {
  keys: string[];
}

export function parseKeyringFile(text: string, path: string): Keyring {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not JSON: it should be {"keys": ["<64 hex digits>", ...]}, the current key first`);
  }
  const keys = (parsed as KeyringFile | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${path} holds no keys: it should be {"keys": ["<64 hex digits>", ...]}`);
  const all = keys.map((k, i) => kekOf(parseKeyText(String(k), `key ${i + 1} of ${path}`)));
  return { current: all[0]!, all };
}

/** The keyring from DATA_KEY (and DATA_KEY_PREVIOUS, comma-separated), or from DATA_KEY_FILE. */
function keyringFromEnv(env: NodeJS.ProcessEnv): { ring: Keyring; file: string | null } {
  if (env.DATA_KEY) {
    const current = kekOf(parseKeyText(env.DATA_KEY, 'DATA_KEY'));
    const previous = (env.DATA_KEY_PREVIOUS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s, i) => kekOf(parseKeyText(s, `DATA_KEY_PREVIOUS (key ${i + 1})`)));
    return { ring: { current, all: [current, ...previous] }, file: null };
  }
  const file = env.DATA_KEY_FILE;
  if (!file) {
    throw new Error(
      'DATA_KEY or DATA_KEY_FILE is required: the key that seals personal data at rest (openssl rand -hex 32; `npm start` generates a keyring into .data/; docs/operating.md)',
    );
  }
  if (!existsSync(file)) throw new Error(`DATA_KEY_FILE ${file} does not exist`);
  return { ring: parseKeyringFile(readFileSync(file, 'utf8'), file), file };
}

/** How often a process looks whether its keyring file changed (a rotation adds a key, then drops the old one). */
export const KEYRING_RELOAD_MS = 2_000;

let loaded: { ring: Keyring; file: string | null; mtimeMs: number; checkedAt: number } | null = null;

function keyring(): Keyring {
  const now = Date.now();
  if (!loaded) {
    const { ring, file } = keyringFromEnv(process.env);
    loaded = { ring, file, mtimeMs: file ? statSync(file).mtimeMs : 0, checkedAt: now };
  } else if (loaded.file && now - loaded.checkedAt >= KEYRING_RELOAD_MS) {
    loaded.checkedAt = now;
    const mtimeMs = statSync(loaded.file).mtimeMs;
    if (mtimeMs !== loaded.mtimeMs) {
      loaded = { ring: parseKeyringFile(readFileSync(loaded.file, 'utf8'), loaded.file), file: loaded.file, mtimeMs, checkedAt: now };
    }
  }
  return loaded.ring;
}

/** Reads the keyring now (at start, so a missing key stops the process with a clear message, and after a rotation step). */
export function loadKeyring(): Keyring {
  if (loaded) loaded.checkedAt = 0;
  return keyring();
}

/** For tests: forget the keyring read, so the next use reads the environment again. */
export function forgetKeyring(): void {
  loaded = null;
  unwrapped.clear();
  secretRead = undefined;
}

/**
 * Random bytes for IVs and keys, drawn from a buffer filled 4 KiB at a time: one call into
 * OpenSSL's generator per ~100 values instead of one per value (a sign-up takes six), which is
 * most of the cost of so small a request. Each slice is handed out once.
 */
let randomPool = Buffer.alloc(0);
let randomAt = 0;
export function random(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  randomInto(out, 0, n);
  return out;
}

/** `n` random bytes from the same buffer, written into `out` at `at`. */
function randomInto(out: Buffer, at: number, n: number): void {
  if (randomAt + n > randomPool.length) {
    randomPool = randomBytes(Math.max(4096, n));
    randomAt = 0;
  }
  randomPool.copy(out, at, randomAt, randomAt + n);
  randomPool.fill(0, randomAt, randomAt + n);
  randomAt += n;
}

/** `head` | nonce | `plain` sealed | tag, under `key` with XChaCha20-Poly1305, made in one buffer with the nonce drawn into it. */
function aead(key: Buffer, aad: Buffer, plain: Buffer, head: Buffer): Buffer {
  const at = head.length;
  const out = Buffer.allocUnsafe(at + NONCE + plain.length + TAG);
  head.copy(out, 0);
  randomInto(out, at, NONCE);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(at + NONCE), plain, aad, null, out.subarray(at, at + NONCE), key);
  return out;
}

/** The text of `sealed` (what follows the head: nonce | ciphertext | tag); throws when it does not open. */
function unaead(key: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < NONCE + TAG) throw new Error('too short to be sealed');
  const out = Buffer.allocUnsafe(sealed.length - NONCE - TAG);
  sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed.subarray(NONCE), aad, sealed.subarray(0, NONCE), key);
  return out;
}

/** The text of a version 1 value (iv | tag | ciphertext, AES-256-GCM); throws when it does not open. */
function ungcm(key: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(IV, IV + TAG));
  return Buffer.concat([d.update(sealed.subarray(IV + TAG)), d.final()]);
}

/** Opens what follows a value's version byte, by that version. */
function unseal(version: number | undefined, key: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  if (version === XCHACHA) return unaead(key, aad, sealed);
  if (version === AES_GCM) return ungcm(key, aad, sealed);
  throw new Error(`no sealed data of version ${version}`);
}

/** What owns a data key: the row it is stored in, bound into its wrapping. */
export type KeyOwner = 'supporter' | 'paper-import' | 'export';

export const wrapAad = (owner: KeyOwner, id: string) => Buffer.from(`chorus data key v1\n${owner}\n${id}`);

/** A new data key for the row `id` of `owner`, and its wrapping under the current key-encryption key. */
export function newDataKey(owner: KeyOwner, id: string): { key: Buffer; wrapped: Buffer } {
  const key = random(KEY);
  return { key, wrapped: wrapDataKey(owner, id, key) };
}

/** version | key-encryption key id | nonce | the data key sealed | tag */
export function wrapDataKey(owner: KeyOwner, id: string, key: Buffer, kek: KeyEncryptionKey = keyring().current): Buffer {
  return aead(kek.key, wrapAad(owner, id), key, kek.head);
}

/** The id of the key-encryption key a wrapped data key is under. */
export function wrappedUnder(wrapped: Buffer): Buffer {
  return wrapped.subarray(1, 1 + KEK_ID);
}

export class SealedDataError extends Error {}

/** Unwrapped data keys, by their wrapping: the same signers are read again by letters, packets and pages. */
const unwrapped = new Map<string, Buffer>();
const UNWRAPPED_MAX = 20_000;

/** The data key of row `id` of `owner`; throws SealedDataError when no known key-encryption key opens it. */
export function unwrapDataKey(owner: KeyOwner, id: string, wrapped: Buffer): Buffer {
  const memo = `${owner}:${id}:${wrapped.toString('base64')}`;
  const hit = unwrapped.get(memo);
  if (hit) return hit;
  const size = wrapped[0] === XCHACHA ? NONCE + TAG : wrapped[0] === AES_GCM ? IV + TAG : NaN;
  if (wrapped.length !== 1 + KEK_ID + size + KEY) throw new SealedDataError(`the ${owner} ${id} has a malformed data key`);
  const under = wrappedUnder(wrapped);
  let kek = keyring().all.find((k) => k.id.equals(under));
  if (!kek) kek = loadKeyring().all.find((k) => k.id.equals(under));
  if (!kek) throw new SealedDataError(`the data key of ${owner} ${id} is wrapped under key ${under.toString('hex')}, which this process does not have`);
  let key: Buffer;
  try {
    key = unseal(wrapped[0], kek.key, wrapAad(owner, id), wrapped.subarray(1 + KEK_ID));
  } catch {
    throw new SealedDataError(`the data key of ${owner} ${id} does not open`);
  }
  if (unwrapped.size >= UNWRAPPED_MAX) unwrapped.delete(unwrapped.keys().next().value!);
  unwrapped.set(memo, key);
  return key;
}

/** Forgets a data key this process unwrapped (an erasure destroys it). */
export function forgetDataKey(owner: KeyOwner, id: string): void {
  const prefix = `${owner}:${id}:`;
  for (const k of unwrapped.keys()) if (k.startsWith(prefix)) unwrapped.delete(k);
}

/** The fields sealed under a data key; the name is bound in, so a value opens only in its own field. */
export type SealedField = 'email' | 'name' | 'letter' | 'receipt' | 'paper-name';

export const fieldAad = (id: string, field: SealedField) => Buffer.from(`chorus sealed v1\n${id}\n${field}`);

const SEALED_HEAD = Buffer.from([VERSION]);

/** `value` sealed under the data key of row `id`: version | nonce | ciphertext | tag. */
export function seal(key: Buffer, id: string, field: SealedField, value: string): Buffer {
  return aead(key, fieldAad(id, field), Buffer.from(value, 'utf8'), SEALED_HEAD);
}

export function sealOrNull(key: Buffer, id: string, field: SealedField, value: string | null | undefined): Buffer | null {
  return value === null || value === undefined ? null : seal(key, id, field, value);
}

export function open(key: Buffer, id: string, field: SealedField, sealed: Buffer): string {
  if (sealed.length < 1 + IV + TAG || (sealed[0] !== XCHACHA && sealed[0] !== AES_GCM)) throw new SealedDataError(`the ${field} of ${id} is not sealed data`);
  try {
    return unseal(sealed[0], key, fieldAad(id, field), sealed.subarray(1)).toString('utf8');
  } catch {
    throw new SealedDataError(`the ${field} of ${id} does not open under its data key`);
  }
}

export function openOrNull(key: Buffer | null, id: string, field: SealedField, sealed: Buffer | null | undefined): string | null {
  if (sealed === null || sealed === undefined || key === null) return null;
  return open(key, id, field, sealed);
}

/** A person's name, sealed as one value: the first name and the last name. */
export interface SealedName {
  first: string | null;
  last: string | null;
}

/** Null when there is no name to seal (neither part given): whether a name is stored is what SQL may see. */
export function sealName(key: Buffer, id: string, first: string | null, last: string | null): Buffer | null {
  return !first && !last ? null : seal(key, id, 'name', JSON.stringify([first, last]));
}

export function openName(key: Buffer | null, id: string, sealed: Buffer | null | undefined): SealedName {
  const text = openOrNull(key, id, 'name', sealed);
  if (text === null) return { first: null, last: null };
  const [first, last] = JSON.parse(text) as [string | null, string | null];
  return { first, last };
}

/** A member's letter, sealed as one value: subject and body. */
export function sealLetter(key: Buffer, id: string, subject: string | null, body: string | null): Buffer | null {
  return subject === null && body === null ? null : seal(key, id, 'letter', JSON.stringify([subject, body]));
}

export function openLetter(key: Buffer | null, id: string, sealed: Buffer | null | undefined): { subject: string | null; body: string | null } {
  const text = openOrNull(key, id, 'letter', sealed);
  if (text === null) return { subject: null, body: null };
  const [subject, body] = JSON.parse(text) as [string | null, string | null];
  return { subject, body };
}

/** A supporter's data key from their row (null once erased). */
export function supporterKey(id: string, wrapped: Buffer | null): Buffer | null {
  return wrapped ? unwrapDataKey('supporter', id, wrapped) : null;
}

/**
 * What an official may read of a delivery's signer (letters, packets): the name only of a signer
 * who chose to be named, and the letter they wrote. The key is unwrapped only when there is
 * something to open.
 */
export function openSigner(r: { supporter_id: string; data_key: Buffer | null; name: Buffer | null; letter: Buffer | null; named_disclosure: boolean }): {
  first_name: string | null;
  last_name: string | null;
  letter_subject: string | null;
  letter_body: string | null;
} {
  const key = r.named_disclosure || r.letter ? supporterKey(r.supporter_id, r.data_key) : null;
  const name = r.named_disclosure ? openName(key, r.supporter_id, r.name) : { first: null, last: null };
  const letter = openLetter(key, r.supporter_id, r.letter);
  return { first_name: name.first, last_name: name.last, letter_subject: letter.subject, letter_body: letter.body };
}

// ---------------------------------------------------------------- blind index

/** derived once per secret and purpose, held as KeyObjects (shared/hmac-key.ts says why) */
const indexKeys = new Map<string, Map<string, KeyObject>>();

function indexKey(secret: string, purpose: string): KeyObject {
  let ofSecret = indexKeys.get(secret);
  if (!ofSecret) indexKeys.set(secret, (ofSecret = new Map()));
  let key = ofSecret.get(purpose);
  if (!key) {
    key = createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'chorus-blind-index', purpose, 32)));
    ofSecret.set(purpose, key);
  }
  return key;
}

/** SECRET_KEY, read from the environment once: reading process.env is a call into the runtime each time. */
let secretRead: string | undefined;
function secretKey(): string {
  if (secretRead !== undefined) return secretRead;
  const secret = process.env.SECRET_KEY;
  if (!secret) throw new Error('SECRET_KEY is required (the blind index of email addresses is keyed by it)');
  return (secretRead = secret);
}

/** The blind index of a canonical email address: 64 hex digits, the same for the same address. */
export function emailIndex(canonical: string, secret = secretKey()): string {
  return createHmac('sha256', indexKey(secret, 'email')).update(canonical).digest('hex');
}

/**
 * The blind indexes of the domains met lately, by key: a few domains (the large mail providers)
 * carry most addresses, and every new supporter's needs one. The oldest goes first past the limit.
 */
const domainIndexes = new WeakMap<KeyObject, Map<string, string>>();
const DOMAIN_INDEXES_MAX = 4_096;

/** The blind index of an address's domain (lower-cased), for the fraud search by domain. */
export function emailDomainIndex(canonical: string, secret = secretKey()): string {
  const domain = canonical.slice(canonical.lastIndexOf('@') + 1).toLowerCase();
  const key = indexKey(secret, 'email-domain');
  let memo = domainIndexes.get(key);
  if (!memo) domainIndexes.set(key, (memo = new Map()));
  let index = memo.get(domain);
  if (index === undefined) {
    index = createHmac('sha256', key).update(domain).digest('hex');
    if (memo.size >= DOMAIN_INDEXES_MAX) memo.delete(memo.keys().next().value!);
    memo.set(domain, index);
  }
  return index;
}

/** A keyed fingerprint of values for equality (a sign-up's details, a paper signer's name), base64url. */
export function keyedFingerprint(purpose: 'signup' | 'paper-name', text: string, length = 22, secret = secretKey()): string {
  return createHmac('sha256', indexKey(secret, purpose)).update(text).digest('base64url').slice(0, length);
}

/** What an email to a supporter needs from their row: the address and the first name, opened. */
export function openRecipient(id: string, wrapped: Buffer | null, email: Buffer | null, name: Buffer | null): { email: string | null; firstName: string } {
  const key = supporterKey(id, wrapped);
  return { email: openOrNull(key, id, 'email', email), firstName: openName(key, id, name).first ?? '' };
}
