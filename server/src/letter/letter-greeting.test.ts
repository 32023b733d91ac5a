// A letter to an official is in one language from greeting to sign-off: where the action has no
// text in the official's language, the letter goes in another, and it then greets the official in
// that language too, not with the salutation the directory keeps in the official's own.
import { describe, expect, it } from 'vitest';
import { LOCALES } from '../shared/locales.ts';
import { composeLetter } from './letter.service.ts';

function letter(locale: string, target: { language: string; title: string }, salutation: string) {
  return composeLetter({
    text: { locale, title: 'T', letterSubject: 'S', officialRequest: 'Please act.' },
    salutation,
    target,
    newCount: 2,
    totalCount: 2,
    countries: ['MX'],
    names: [],
    memberLetters: [],
    organisation: 'Org',
    packetUrl: 'http://x/packet/t',
  });
}

const firstLine = (text: string) => text.split('\n')[0] ?? '';

describe("a letter's greeting", () => {
  it("uses the official's salutation in the official's language, with that language's punctuation", () => {
    expect(firstLine(letter('ar', { language: 'ar', title: 'النائب العام' }, 'السيد النائب العام').text)).toBe('السيد النائب العام،');
    expect(firstLine(letter('es', { language: 'es', title: 'Fiscal General' }, 'Estimado Fiscal General').text)).toBe('Estimado Fiscal General:');
  });

  it.each(LOCALES.filter((l) => l !== 'ar'))('greets an Arabic-speaking official in the letter\'s own language (%s), never with the Arabic salutation', (locale) => {
    const mail = letter(locale, { language: 'ar', title: 'Public Prosecutor' }, 'السيد النائب العام');
    const greeting = firstLine(mail.text);
    expect(greeting).not.toMatch(/[\u0600-\u06FF]/);
    expect(greeting.length).toBeGreaterThan(3);
    expect(mail.html).not.toContain('السيد النائب العام');
  });

  it('names the title in an English greeting, and falls back to a neutral one without it', () => {
    expect(firstLine(letter('en', { language: 'ar', title: 'Public Prosecutor' }, 'السيد النائب العام').text)).toBe('Dear Public Prosecutor,');
    expect(firstLine(letter('en', { language: 'ru', title: '' }, 'Уважаемый министр').text)).toBe('Dear Sir or Madam,');
    expect(firstLine(letter('ru', { language: 'ar', title: 'Public Prosecutor' }, 'السيد النائب العام').text)).toBe('Здравствуйте!');
  });
});
