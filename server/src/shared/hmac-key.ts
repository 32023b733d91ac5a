// HMAC keys held as KeyObjects. Node's createHmac copies and converts a string or Buffer key
// on every call; given a KeyObject made once, it does not, and a short HMAC costs about a
// quarter less (a sign-up makes about ten: address hashes, blind indexes, rate-limit keys).
import { createSecretKey, type KeyObject } from 'node:crypto';

const made = new Map<string, KeyObject>();
/** Few keys are in use (SECRET_KEY, keys derived from it); more than this means keys are not being reused. */
const MADE_MAX = 64;

/** The KeyObject of a secret string (its UTF-8 bytes, as createHmac takes a string key). */
export function hmacKey(secret: string): KeyObject {
  let key = made.get(secret);
  if (!key) {
    if (made.size >= MADE_MAX) made.delete(made.keys().next().value!);
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    made.set(secret, key);
  }
  return key;
}
