import { describe, expect, it } from 'vitest';
import { mayName, renderMemberLetter, signOff } from './member-letter.ts';

const signer = { firstName: 'Aziza', lastName: 'K', country: 'UZ', namedDisclosure: true, namedToOwnCountry: false };

describe('mayName', () => {
  it('needs named-disclosure consent', () => {
    expect(mayName('FR', { ...signer, namedDisclosure: false })).toBe(false);
    expect(mayName('FR', signer)).toBe(true);
    expect(mayName(null, signer)).toBe(true);
  });
  it('never names a signer to their own country’s officials by default', () => {
    expect(mayName('UZ', signer)).toBe(false);
    expect(mayName('UZ', { ...signer, namedToOwnCountry: true })).toBe(true);
  });
  it('ignores the own-country choice without named-disclosure consent', () => {
    expect(mayName('UZ', { ...signer, namedDisclosure: false, namedToOwnCountry: true })).toBe(false);
  });
});

describe('signOff and renderMemberLetter', () => {
  it('signs with the name and country where allowed', () => {
    expect(signOff('FR', signer, 'en')).toEqual({ name: 'Aziza K', country: 'Uzbekistan' });
  });
  it('hides both the name and the country from the signer’s own government', () => {
    expect(signOff('UZ', signer, 'ru')).toEqual({ name: null, country: null });
    const l = renderMemberLetter('ru', { country: 'UZ', salutation: 'Уважаемый министр' }, { subject: 'S', body: 'Текст' }, signer);
    expect(l.text).not.toContain('Aziza');
    expect(l.text).not.toContain('Узбекистан');
    expect(l.text).toContain('Уважаемый министр!');
  });
  it('escapes the member’s text in HTML', () => {
    const l = renderMemberLetter('en', { country: null, salutation: 'Dear Rapporteur' }, { subject: 'S', body: '<img src=x onerror=alert(1)>' }, signer);
    expect(l.html).not.toContain('<img');
    expect(l.html).toContain('&lt;img');
  });
});
