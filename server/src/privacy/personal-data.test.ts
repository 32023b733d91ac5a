// Sealing itself, without a database: a value opens only under its own data key, row and field;
// a data key only under a key-encryption key the process knows; the keyring file is read again
// when a rotation changes it; blind indexes are keyed.
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  emailDomainIndex,
  emailIndex,
  forgetKeyring,
  kekOf,
  keyedFingerprint,
  loadKeyring,
  newDataKey,
  open,
  openLetter,
  openName,
  parseKeyText,
  seal,
  sealLetter,
  sealName,
  SealedDataError,
  fieldAad,
  wrapAad,
  unwrapDataKey,
  wrappedUnder,
} from './personal-data.ts';

const saved = { DATA_KEY: process.env.DATA_KEY, DATA_KEY_PREVIOUS: process.env.DATA_KEY_PREVIOUS, DATA_KEY_FILE: process.env.DATA_KEY_FILE };

function useEnv(env: { DATA_KEY?: string; DATA_KEY_PREVIOUS?: string; DATA_KEY_FILE?: string }) {
  for (const k of ['DATA_KEY', 'DATA_KEY_PREVIOUS', 'DATA_KEY_FILE'] as const) {
    if (env[k] === undefined) delete process.env[k];
    else process.env[k] = env[k];
  }
  forgetKeyring();
}

const hex = () => randomBytes(32).toString('hex');

/** A value as version 1 wrote it (AES-256-GCM: head | iv | tag | ciphertext): values stored before version 2 must still open. */
function sealedAsVersion1(key: Buffer, aad: Buffer, plain: Buffer, head: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([head, iv, c.getAuthTag(), body]);
}

beforeEach(() => useEnv({ DATA_KEY: hex() }));
afterEach(() => useEnv(saved));

describe('sealed values', () => {
  it('open under their own key, row and field, and nowhere else', () => {
    const { key } = newDataKey('supporter', 'a');
    const sealed = seal(key, 'a', 'email', 'amina@example.org');
    expect(sealed.includes(Buffer.from('amina'))).toBe(false);
    expect(open(key, 'a', 'email', sealed)).toBe('amina@example.org');
    // copied into another person's row, or into another column of the same row: refused
    expect(() => open(key, 'b', 'email', sealed)).toThrow(SealedDataError);
    expect(() => open(key, 'a', 'name', sealed)).toThrow(SealedDataError);
    // under another data key
    expect(() => open(newDataKey('supporter', 'a').key, 'a', 'email', sealed)).toThrow(SealedDataError);
    // one bit changed anywhere
    for (const at of [1, 13, 29, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      expect(() => open(key, 'a', 'email', bad)).toThrow(SealedDataError);
    }
  });

  it('seal the same value differently each time (a random nonce): equal values are not visible as equal', () => {
    const { key } = newDataKey('supporter', 'a');
    expect(seal(key, 'a', 'email', 'x@example.org').equals(seal(key, 'a', 'email', 'x@example.org'))).toBe(false);
    // never the same nonce, across many refills of the random buffer (4 KiB each), data keys drawn in between
    const nonces = new Set<string>();
    for (let i = 0; i < 3_000; i++) {
      if (i % 7 === 0) newDataKey('supporter', 'a');
      const sealed = seal(key, 'a', 'email', '');
      // version 2 (XChaCha20-Poly1305): the version byte, a 24-byte nonce, the 16-byte tag
      expect(sealed.length).toBe(1 + 24 + 16);
      expect(sealed[0]).toBe(2);
      nonces.add(sealed.subarray(1, 25).toString('hex'));
    }
    expect(nonces.size).toBe(3_000);
    // and an empty value, a long one and one in other scripts open as they were
    for (const v of ['', 'x'.repeat(70_000), 'Лукия Ромеро · لوسيا · 🕊️']) expect(open(key, 'a', 'email', seal(key, 'a', 'email', v))).toBe(v);
  });

  it('sealed by an older version (AES-256-GCM) still open, under the same bindings', () => {
    const { key } = newDataKey('supporter', 'a');
    const old = sealedAsVersion1(key, fieldAad('a', 'name'), Buffer.from(JSON.stringify(['Lucía', 'Romero'])), Buffer.from([1]));
    expect(old[0]).toBe(1);
    expect(openName(key, 'a', old)).toEqual({ first: 'Lucía', last: 'Romero' });
    expect(() => open(key, 'b', 'name', old)).toThrow(SealedDataError);
    expect(() => open(key, 'a', 'email', old)).toThrow(SealedDataError);
    const bad = Buffer.from(old);
    bad[bad.length - 1]! ^= 1;
    expect(() => open(key, 'a', 'name', bad)).toThrow(SealedDataError);
    // a version this code does not know is refused, not guessed at
    const future = Buffer.from(seal(key, 'a', 'name', 'x'));
    future[0] = 3;
    expect(() => open(key, 'a', 'name', future)).toThrow(SealedDataError);
  });

  it('keep a name and a letter as one value each, and no name when none was given', () => {
    const { key } = newDataKey('supporter', 'a');
    expect(openName(key, 'a', sealName(key, 'a', 'Lucía', 'Romero'))).toEqual({ first: 'Lucía', last: 'Romero' });
    expect(openName(key, 'a', sealName(key, 'a', 'Lucía', null))).toEqual({ first: 'Lucía', last: null });
    expect(sealName(key, 'a', null, null)).toBeNull();
    expect(sealName(key, 'a', '', '')).toBeNull();
    expect(openLetter(key, 'a', sealLetter(key, 'a', 'Release them', 'Dear minister, …'))).toEqual({ subject: 'Release them', body: 'Dear minister, …' });
    // an erased person's data key is gone: nothing opens, and nothing is made up
    expect(openName(null, 'a', sealName(key, 'a', 'Lucía', 'Romero'))).toEqual({ first: null, last: null });
  });
});

describe('data keys', () => {
  it('are wrapped under the current key-encryption key and bound to their row', () => {
    const { key, wrapped } = newDataKey('supporter', 'row-1');
    expect(wrappedUnder(wrapped).equals(loadKeyring().current.id)).toBe(true);
    expect(unwrapDataKey('supporter', 'row-1', wrapped).equals(key)).toBe(true);
    expect(() => unwrapDataKey('supporter', 'row-2', wrapped)).toThrow(SealedDataError);
    expect(() => unwrapDataKey('paper-import', 'row-1', wrapped)).toThrow(SealedDataError);
  });

  it('wrapped by an older version (AES-256-GCM) still unwrap, and only in their own row', () => {
    const kek = loadKeyring().current;
    const key = randomBytes(32);
    const old = sealedAsVersion1(kek.key, wrapAad('supporter', 'old-row'), key, Buffer.concat([Buffer.from([1]), kek.id]));
    expect(old.length).toBe(1 + 8 + 12 + 16 + 32);
    expect(wrappedUnder(old).equals(kek.id)).toBe(true);
    expect(unwrapDataKey('supporter', 'old-row', old).equals(key)).toBe(true);
    expect(() => unwrapDataKey('supporter', 'other-row', old)).toThrow(SealedDataError);
    // what a version 2 wrapping is: the version, the key's id, a 24-byte nonce, the key sealed, the tag
    expect(newDataKey('supporter', 'row').wrapped.length).toBe(1 + 8 + 24 + 32 + 16);
  });

  it('do not open without the key-encryption key they were wrapped under, and open with it as a previous key', () => {
    const first = hex();
    useEnv({ DATA_KEY: first });
    const { key, wrapped } = newDataKey('supporter', 'row-1');
    useEnv({ DATA_KEY: hex() });
    expect(() => unwrapDataKey('supporter', 'row-1', wrapped)).toThrow(/which this process does not have/);
    useEnv({ DATA_KEY: hex(), DATA_KEY_PREVIOUS: first });
    expect(unwrapDataKey('supporter', 'row-1', wrapped).equals(key)).toBe(true);
  });

  it('take a rotated keyring file at once when they meet a key they do not know', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-keyring-'));
    const file = join(dir, 'data-keys.json');
    const oldKey = hex();
    const newKey = hex();
    // a data key another process wrapped under the new key once it had read the rotated file
    useEnv({ DATA_KEY: newKey });
    const theirs = newDataKey('supporter', 'row-2');
    // this process started with the file as it was: the old key only
    writeFileSync(file, JSON.stringify({ keys: [oldKey] }));
    useEnv({ DATA_KEY_FILE: file });
    const before = newDataKey('supporter', 'row-1');
    expect(wrappedUnder(before.wrapped).equals(kekOf(Buffer.from(oldKey, 'hex')).id)).toBe(true);
    // the rotation adds the new key as the current one and keeps the old one
    writeFileSync(file, JSON.stringify({ keys: [newKey, oldKey] }));
    utimesSync(file, new Date(Date.now() + 5_000), new Date(Date.now() + 5_000));
    expect(unwrapDataKey('supporter', 'row-2', theirs.wrapped).equals(theirs.key)).toBe(true);
    expect(unwrapDataKey('supporter', 'row-1', before.wrapped).equals(before.key)).toBe(true);
    // and from now on this process wraps under the new key too
    expect(wrappedUnder(newDataKey('supporter', 'row-3').wrapped).equals(kekOf(Buffer.from(newKey, 'hex')).id)).toBe(true);
  });

  it('refuse a key that is not 32 bytes, and say how to make one', () => {
    expect(() => parseKeyText('short', 'DATA_KEY')).toThrow(/openssl rand -hex 32/);
    useEnv({});
    expect(() => loadKeyring()).toThrow(/DATA_KEY or DATA_KEY_FILE is required/);
  });
});

describe('blind indexes', () => {
  it('are keyed: the same address gives the same index under one SECRET_KEY and another under another', () => {
    const a = emailIndex('amina@example.org', 'secret-one-secret-one-secret-one-1');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(emailIndex('amina@example.org', 'secret-one-secret-one-secret-one-1')).toBe(a);
    expect(emailIndex('amina@example.org', 'secret-two-secret-two-secret-two-2')).not.toBe(a);
    expect(emailIndex('amino@example.org', 'secret-one-secret-one-secret-one-1')).not.toBe(a);
    // purposes are apart: a fingerprint of the same text under the same secret differs from the index
    expect(keyedFingerprint('signup', 'amina@example.org', 64, 'secret-one-secret-one-secret-one-1')).not.toBe(Buffer.from(a, 'hex').toString('base64url'));
  });

  it("of a domain are the domain's keyed hash, remembered per key: the same under one SECRET_KEY, another under another, past the memo's size too", () => {
    const one = 'secret-one-secret-one-secret-one-1';
    const two = 'secret-two-secret-two-secret-two-2';
    const expected = (secret: string, domain: string) =>
      createHmac('sha256', Buffer.from(hkdfSync('sha256', secret, 'chorus-blind-index', 'email-domain', 32))).update(domain).digest('hex');
    expect(emailDomainIndex('amina@Example.ORG', one)).toBe(expected(one, 'example.org'));
    // met again, and under another secret (the memo is per key)
    expect(emailDomainIndex('nadia@example.org', one)).toBe(expected(one, 'example.org'));
    expect(emailDomainIndex('nadia@example.org', two)).toBe(expected(two, 'example.org'));
    // more domains than are remembered: each still gets its own index, the first one again too
    for (let i = 0; i < 5_000; i++) emailDomainIndex(`x@d${i}.example`, one);
    expect(emailDomainIndex('x@d1.example', one)).toBe(expected(one, 'd1.example'));
    expect(emailDomainIndex('x@d4999.example', one)).toBe(expected(one, 'd4999.example'));
    expect(emailDomainIndex('amina@example.org', one)).toBe(expected(one, 'example.org'));
  });
});
