import { describe, expect, it } from 'vitest';
import { canonicalEmail, isPlausibleEmail } from './email.ts';

describe('canonicalEmail', () => {
  it('lower-cases and trims', () => {
    expect(canonicalEmail('  Ana.Lopez@Example.ORG ')).toBe('ana.lopez@example.org');
  });
  it('drops +tags only where the provider delivers them to the same mailbox', () => {
    expect(canonicalEmail('ana+petition@gmail.com')).toBe('ana@gmail.com');
    expect(canonicalEmail('Ana+Petition@Outlook.com')).toBe('ana@outlook.com');
    expect(canonicalEmail('ana+petition@proton.me')).toBe('ana@proton.me');
    // elsewhere victim+x@ may be someone else's mailbox: its own key
    expect(canonicalEmail('ana+petition@example.org')).toBe('ana+petition@example.org');
    expect(canonicalEmail('vy1+x@yahoo.example')).toBe('vy1+x@yahoo.example');
  });
  it('drops dots for Gmail only, and folds googlemail into gmail', () => {
    expect(canonicalEmail('A.N.A@gmail.com')).toBe('ana@gmail.com');
    expect(canonicalEmail('a.n.a+x@googlemail.com')).toBe('ana@gmail.com');
    expect(canonicalEmail('a.n.a@example.org')).toBe('a.n.a@example.org');
  });
  it('keeps a leading + (not a tag)', () => {
    expect(canonicalEmail('+ana@example.org')).toBe('+ana@example.org');
  });
  it('lower-cases ASCII letters only: a Unicode letter that case-maps to one (KELVIN SIGN) stays itself', () => {
    expect(canonicalEmail('vic\u212Ata1@gmail.com')).not.toBe(canonicalEmail('vickta1@gmail.com'));
    expect(canonicalEmail('ÁNA@example.org')).toBe('Ána@example.org');
  });
  it('folds a provider’s other domain names into one (Proton, iCloud, Yandex), and Yandex’s dots and hyphens', () => {
    expect(new Set(['zed@proton.me', 'zed@protonmail.com', 'zed@pm.me', 'zed@protonmail.ch'].map(canonicalEmail))).toEqual(new Set(['zed@proton.me']));
    expect(new Set(['jo@icloud.com', 'jo@me.com', 'jo@mac.com'].map(canonicalEmail))).toEqual(new Set(['jo@icloud.com']));
    expect(new Set(['ivan.ivanov@yandex.ru', 'ivan-ivanov@ya.ru', 'ivan.ivanov@yandex.com', 'Ivan-Ivanov+x@yandex.by'].map(canonicalEmail))).toEqual(new Set(['ivan-ivanov@yandex.ru']));
    // different providers stay apart
    expect(canonicalEmail('jo@hotmail.com')).not.toBe(canonicalEmail('jo@outlook.com'));
  });
  it('punycodes international domains', () => {
    expect(canonicalEmail('ana@Bücher.example')).toBe('ana@xn--bcher-kva.example');
  });
});

describe('isPlausibleEmail', () => {
  it.each(['ana@example.org', 'a.b+c@sub.example.co.uk', 'ana@bücher.example'])('accepts %s', (e) => {
    expect(isPlausibleEmail(e)).toBe(true);
  });
  it.each([
    '',
    'ana',
    'ana@',
    '@example.org',
    'ana@example',
    'a..b@gmail.com',
    '.ana@gmail.com',
    'ana.@gmail.com',
    'vout+a..b@outlook.com',
    'ana@@example.org',
    'ana @example.org',
    'ana@example.org\r\nBcc: victim@example.org',
    'ana\u202e@example.org',
    '<ana@example.org>',
    'a'.repeat(65) + '@example.org',
    'ana@' + 'a'.repeat(250) + '.org',
  ])('rejects %j', (e) => {
    expect(isPlausibleEmail(e)).toBe(false);
  });
});
