import { describe, expect, it } from 'vitest';
import { countriesForOfficial, countryForOfficial, mayName, renderMemberLetter, signOff, type SignerGroup } from './member-letter.ts';
import { requestText } from './official-text.ts';

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
  it('places an unnamed signer in no country for an official of any country, and in theirs for an inter-governmental body', () => {
    const unnamed = { ...signer, namedDisclosure: false };
    expect(signOff('FR', unnamed, 'en')).toEqual({ name: null, country: null });
    expect(signOff('UZ', unnamed, 'en')).toEqual({ name: null, country: null });
    expect(signOff(null, unnamed, 'en')).toEqual({ name: null, country: 'Uzbekistan' });
  });
  it('hides both the name and the country from the signer’s own government', () => {
    expect(signOff('UZ', signer, 'ru')).toEqual({ name: null, country: null });
    const l = renderMemberLetter('ru', { country: 'UZ', salutation: 'Уважаемый министр', language: 'ru', title: 'Minister' }, { subject: 'S', body: 'Текст' }, signer);
    expect(l.text).not.toContain('Aziza');
    expect(l.text).not.toContain('Узбекистан');
    expect(l.text).toContain('Уважаемый министр!');
  });
  it('escapes the member’s text in HTML', () => {
    const l = renderMemberLetter('en', { country: null, salutation: 'Dear Rapporteur', language: 'en', title: 'Special Rapporteur' }, { subject: 'S', body: '<img src=x onerror=alert(1)>' }, signer);
    expect(l.html).not.toContain('<img');
    expect(l.html).toContain('&lt;img');
  });
});

describe('countryForOfficial: where an official may see a signer', () => {
  const unnamed = { ...signer, namedDisclosure: false };
  it('never places an unnamed signer in the official’s own country, whatever the group', () => {
    for (const unnamedAlike of [0, 1, 9, 10, 1_000_000]) expect(countryForOfficial('UZ', unnamed, { unnamedAlike, min: 10 })).toBeNull();
    // named, but not to their own country: still unnamed there
    expect(countryForOfficial('UZ', signer, { unnamedAlike: 50, min: 10 })).toBeNull();
  });
  it('places a signer who chose to be named to their own officials', () => {
    expect(countryForOfficial('UZ', { ...signer, namedToOwnCountry: true })).toBe('UZ');
  });
  it('places an unnamed foreigner only within a group of at least the minimum', () => {
    expect(countryForOfficial('FR', unnamed, { unnamedAlike: 9, min: 10 })).toBeNull();
    expect(countryForOfficial('FR', unnamed, { unnamedAlike: 10, min: 10 })).toBe('UZ');
    expect(countryForOfficial('FR', unnamed)).toBeNull();
    // a minimum below 2 would single a person out: never taken
    expect(countryForOfficial('FR', unnamed, { unnamedAlike: 1, min: 1 })).toBeNull();
  });
  it('counts a compatriot exactly as it counts a lone foreigner', () => {
    const group = (country: string, count: number, named = false): SignerGroup => ({ country, namedDisclosure: named, namedToOwnCountry: false, hasName: true, count });
    const strip = (v: ReturnType<typeof countriesForOfficial>) => ({ countries: v.countries, notShown: v.notShown });
    const withCompatriot = countriesForOfficial('TV', [group('FR', 12), group('TV', 1)], 10);
    const withForeigner = countriesForOfficial('TV', [group('FR', 12), group('KZ', 1)], 10);
    expect(strip(withCompatriot)).toEqual({ countries: [{ country: 'FR', count: 12 }], notShown: 1 });
    expect(strip(withForeigner)).toEqual(strip(withCompatriot));
    // a delivery of compatriots only reads like a delivery of scattered foreigners
    expect(strip(countriesForOfficial('TV', [group('TV', 3)], 10))).toEqual(strip(countriesForOfficial('TV', [group('KZ', 1), group('PH', 2)], 10)));
    // named signers count under their country (they chose it), and a signer without a first name is never named
    expect(strip(countriesForOfficial('TV', [group('FR', 2, true), { ...group('FR', 1, true), hasName: false }], 10))).toEqual({
      countries: [{ country: 'FR', count: 2 }],
      notShown: 1,
    });
    // an inter-governmental body sees every country
    expect(strip(countriesForOfficial(null, [group('TV', 1)], 10))).toEqual({ countries: [{ country: 'TV', count: 1 }], notShown: 0 });
  });
});

describe('a member’s own greeting: the letter greets once', () => {
  const greetings = (text: string, words: RegExp) => text.split('\n').filter((line) => words.test(line)).length;

  it('leaves out a first line that repeats the salutation, with its blank lines, in English and Russian', () => {
    const en = renderMemberLetter('en', { country: 'MX', salutation: 'Dear Minister', language: 'en', title: 'Minister' }, { subject: 'S', body: 'Dear Minister,\n\nI write about forensic doctors.' }, signer);
    expect(greetings(en.text, /^Dear /)).toBe(1);
    expect(en.text).toContain('Dear Minister,\n\nI write about forensic doctors.');
    const ru = renderMemberLetter('ru', { country: 'KZ', salutation: 'Уважаемый министр', language: 'ru', title: 'Minister' }, { subject: 'S', body: 'Уважаемый министр,\r\n\r\nПрошу вас расследовать.' }, signer);
    expect(greetings(ru.text, /^Уважаем/)).toBe(1);
    expect(ru.text).toContain('Уважаемый министр!\n\nПрошу вас расследовать.');
  });

  it('leaves out another greeting line of any of the letters’ languages, as the letter adds the target’s', () => {
    for (const [locale, salutation, typed] of [
      ['en', 'Dear Attorney General', 'Dear Mr. Gertz,'],
      ['es', 'Estimado Fiscal General', 'Estimada señora fiscal:'],
      ['fr', 'Madame la Ministre', 'Madame,'],
      ['ru', 'Уважаемый господин Генеральный прокурор', 'Уважаемый министр!'],
      ['en', 'Dear Rapporteur', 'Уважаемый министр,'],
      ['es', 'Estimado Fiscal General', 'Hola'],
    ] as const) {
      const l = renderMemberLetter(locale, { country: null, salutation, language: locale, title: '' }, { subject: 'S', body: `  ${typed}\nThe text itself.` }, signer);
      expect(l.text, `${locale}: ${typed}`).not.toContain(typed);
      expect(l.text).toContain('The text itself.');
      expect(l.html).not.toContain(typed);
    }
  });

  it('keeps a first line that is a sentence, a greeting that begins the first sentence, and a letter that is only a greeting', () => {
    for (const body of [
      'Madame Ivanova a été arrêtée le 3 mai.\nElle est toujours détenue.',
      'Dear Minister, I write about forensic doctors.\nThank you.',
      'Señor Pérez fue detenido. Pedimos su liberación\nGracias.',
      'Hi-tech surveillance is used against lawyers\nPlease stop it.',
      'Dear Minister,',
      'I write to you.\nDear Minister,\nagain.',
    ]) {
      const l = renderMemberLetter('en', { country: null, salutation: 'Dear Minister', language: 'en', title: 'Minister' }, { subject: 'S', body }, signer);
      expect(l.text, body).toContain(body.replace(/\r/g, ''));
    }
  });
});

describe('a member’s letter in another language than the official’s', () => {
  it('greets in the letter’s language, never with the directory’s salutation in the official’s', () => {
    const mexico = { country: 'MX', salutation: 'Estimado Fiscal General', language: 'es', title: 'Attorney General' };
    const en = renderMemberLetter('en', mexico, { subject: 'S', body: 'I write about forensic doctors.' }, signer);
    expect(en.text.split('\n')[0]).toBe('Dear Attorney General,');
    expect(en.text).not.toContain('Estimado');
    const ru = renderMemberLetter('ru', mexico, { subject: 'S', body: 'Прошу вас.' }, signer);
    expect(ru.text.split('\n')[0]).toBe('Здравствуйте!');
    const kz = { country: 'KZ', salutation: 'Уважаемый Генеральный прокурор', language: 'ru', title: '' };
    expect(renderMemberLetter('es', kz, { subject: 'S', body: 'Le pido.' }, signer).text.split('\n')[0]).toBe('De mi consideración:');
    expect(renderMemberLetter('en', kz, { subject: 'S', body: 'I ask.' }, signer).text.split('\n')[0]).toBe('Dear Sir or Madam,');
    // in the official's own language: the directory's salutation, with that language's punctuation
    expect(renderMemberLetter('es', mexico, { subject: 'S', body: 'Le pido.' }, signer).text.split('\n')[0]).toBe('Estimado Fiscal General:');
  });
});

describe('the action’s own request: the letter greets once there too', () => {
  it('leaves out a greeting line staff opened the request with, and keeps a request that begins with a sentence', () => {
    const base = { locale: 'en', title: 'T' };
    expect(requestText({ ...base, officialRequest: 'Dear Attorney General,\n\nWe ask you to act.' })).toBe('We ask you to act.');
    expect(requestText({ ...base, locale: 'ru', officialRequest: 'Уважаемый генеральный прокурор!\nПросим вас действовать.' })).toBe('Просим вас действовать.');
    expect(requestText({ ...base, officialRequest: 'We ask you to act.\n\nDear colleagues agree.' })).toBe('We ask you to act.\n\nDear colleagues agree.');
    // a request that is only a greeting is kept as written rather than emptied
    expect(requestText({ ...base, officialRequest: 'Dear Minister,' })).toBe('Dear Minister,');
  });
});
