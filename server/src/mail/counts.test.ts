// Every counted phrase of every email and letter, in every language, at the counts where
// languages differ (0, 1, 2, 5, 21, 1,000): the right plural forms (CLDR, through the `icu`
// helper), numbers as the locale writes them, and no placeholder, brace or "undefined" left.
import { describe, expect, it } from 'vitest';
import { LOCALES } from '../shared/locales.ts';
import { dateInSentence } from '../shared/intl.ts';
import { signupVars } from '../testing/signup-fixture.ts';
import { composeLetter } from '../letter/letter.service.ts';
import { renderMemberLetter } from '../letter/member-letter.ts';
import { render, type RenderedMail } from './render.ts';

const COUNTS = [0, 1, 2, 5, 21, 1000] as const;

function letter(locale: string, n: number, opts: { names?: string[]; preview?: boolean; paper?: { event: string; date: string } } = {}): RenderedMail {
  return composeLetter({
    text: { locale, title: 'T', letterSubject: 'S', officialRequest: 'Please act.' },
    salutation: 'Dear Secretary,',
    target: { language: locale, title: 'Secretary' },
    newCount: n,
    totalCount: n,
    countries: ['MX'],
    countryNotShown: n,
    names: opts.names ?? [],
    memberLetters: [],
    organisation: 'Org',
    packetUrl: opts.preview ? '' : 'http://x/packet/t',
    preview: opts.preview,
    paper: opts.paper,
  });
}

function confirmation(locale: string, n: number): RenderedMail {
  return render('confirmation', locale, {
    signup: signupVars,
    action: { title: 'T' },
    confirmUrl: 'http://x/c',
    expires: '1 Jan',
    othersWaiting: n,
    unsubscribeUrl: 'http://x/u',
    myDataUrl: 'http://x/m',
  });
}

/** Numbers as each locale writes them: a thousands separator in en, fr and ru (a narrow or plain no-break space), none for four digits in es. */
const thousand: Record<string, string> = { en: '1,000', es: '1000', fr: '1\u202f000', ru: '1\u00a0000', ar: '1,000' };

/** What each locale's letter says for n new signers (the first sentence of the counts). */
const expected: Record<string, (n: number) => string[]> = {
  en: (n) => [
    n === 1 ? '1 person has confirmed their support' : `${n === 1000 ? thousand.en : n} people have confirmed their support`,
    n === 1 ? 'For 1 signer, the country' : `For ${n === 1000 ? thousand.en : n} signers, the country`,
  ],
  es: (n) => [
    n === 1 ? '1 persona ha confirmado su apoyo' : `${n === 1000 ? thousand.es : n} personas han confirmado su apoyo`,
    n === 1 ? 'De 1 persona firmante no' : `De ${n === 1000 ? thousand.es : n} personas firmantes no`,
  ],
  fr: (n) => [
    n <= 1 ? `${n} personne a confirmé son soutien` : `${n === 1000 ? thousand.fr : n} personnes ont confirmé leur soutien`,
    n <= 1 ? `Pour ${n} signataire, le pays` : `Pour ${n === 1000 ? thousand.fr : n} signataires, le pays`,
  ],
  ru: (n) =>
    ({
      0: ['0 человек подтвердили', 'Всего 0 человек подписали', 'У 0 подписавших'],
      1: ['1 человек подтвердил', 'Всего 1 человек подписал', 'У 1 подписавшего'],
      2: ['2 человека подтвердили', 'Всего 2 человека подписали', 'У 2 подписавших'],
      5: ['5 человек подтвердили', 'Всего 5 человек подписали', 'У 5 подписавших'],
      21: ['21 человек подтвердил', 'Всего 21 человек подписал', 'У 21 подписавшего'],
      1000: [`${thousand.ru} человек подтвердили`, `Всего ${thousand.ru} человек подписали`, `У ${thousand.ru} подписавших`],
    })[n]!,
  // one and other; the noun stays singular after a number
  uz: (n) => {
    const N = n === 1000 ? '1\u00a0000' : String(n);
    return [`Oxirgi joʻnatmamizdan buyon ${N} kishi oʻz qoʻllab-quvvatlashini tasdiqladi`, `Hozirgacha jami ${N} kishi imzo chekdi`, ...(n > 0 ? [`${N} nafar imzo chekkan kishining mamlakati koʻrsatilmagan`] : [])];
  },
  // Filipino nouns do not change with the number: one sentence for every count but 1
  fil: (n) => {
    const N = n === 1000 ? '1,000' : String(n);
    return [n === 1 ? '1 tao ang nagkumpirma ng kanyang suporta' : `${N} tao ang nagkumpirma ng kanilang suporta`, `Sa kabuuan, ${N} tao na ang lumagda`, `Sa ${N} lumagda, hindi ipinapakita ang bansa`];
  },
  // one and other, and the noun stays singular after a number
  kk: (n) => {
    const N = n === 1000 ? '1\u00a0000' : String(n);
    return [`Соңғы жөнелтілімімізден бері ${N} адам өз қолдауын растады`, `Барлығы осы уақытқа дейін ${N} адам қол қойды`, `${N} қол қоюшының елі көрсетілмеген`];
  },
  // zero, one, two, few (3 to 10), many (11 to 99), other (100 and more): each with its own noun form
  ar: (n) =>
    ({
      0: ['لم يؤكد أي شخص جديد تأييده'],
      1: ['أكّد شخص واحد تأييده', 'بالنسبة إلى موقّع واحد'],
      2: ['أكّد شخصان تأييدهما', 'بالنسبة إلى موقّعَين'],
      5: ['أكّد 5 أشخاص تأييدهم', 'بالنسبة إلى 5 موقّعين'],
      21: ['أكّد 21 شخصًا تأييدهم', 'بالنسبة إلى 21 موقّعًا'],
      1000: [`أكّد ${thousand.ar} شخص تأييدهم`, `بالنسبة إلى ${thousand.ar} موقّع`],
    })[n]!,
};

function noLeaks(m: RenderedMail) {
  for (const part of [m.subject, m.text, m.html]) {
    expect(part).not.toMatch(/[{}]|undefined|NaN|\[object/);
    expect(part).not.toMatch(/\.\.(?!\.)/);
    expect(part).not.toMatch(/,,|::|!!/);
  }
}

describe('counted phrases in every language', () => {
  for (const locale of LOCALES) {
    it(`letter (${locale}): plural forms and numbers at ${COUNTS.join(', ')}`, () => {
      for (const n of COUNTS) {
        const m = letter(locale, n);
        noLeaks(m);
        // "country not shown" is said only when there are such signers
        for (const phrase of expected[locale]!(n).filter((p) => n > 0 || !/^(For|De|Pour|У) 0|^0 қол қоюшының|^Sa 0 lumagda/.test(p))) {
          expect(m.text, `${locale} ${n}`).toContain(phrase);
          expect(m.html, `${locale} ${n}`).toContain(phrase);
        }
        noLeaks(letter(locale, n, { names: ['Ana López'] }));
        noLeaks(letter(locale, n, { preview: true }));
        // signatures collected on paper: where and when, or (a small group) only that they are on paper
        const onPaper = letter(locale, n, { paper: { event: 'EVENT-X', date: 'DATE-Y' } });
        noLeaks(onPaper);
        expect(onPaper.text, `${locale} ${n}`).toContain('EVENT-X');
        expect(onPaper.text).toContain('DATE-Y');
        const quiet = letter(locale, n, { paper: { event: '', date: '' } });
        noLeaks(quiet);
        expect(quiet.text).not.toMatch(/\(\s*[,،]?\s*\)/);
      }
    });

    it(`confirmation (${locale}): other sign-ups waiting at ${COUNTS.join(', ')}`, () => {
      for (const n of COUNTS) noLeaks(confirmation(locale, n));
    });

    it(`thresholds (${locale}): the request to officials and the signers' notices at ${COUNTS.join(', ')}`, () => {
      const footer = { unsubscribeUrl: 'http://x/u', myDataUrl: 'http://x/m' };
      for (const n of COUNTS) {
        const request = render('threshold-request', locale, { subject: 'S', salutation: 'Dear Secretary', greeting: 'Dear Secretary,', request: 'Please act.', count: n, totalCount: n, days: n, respondBy: '1 Jan', organisation: 'Org', packetUrl: 'http://x/packet/t' });
        noLeaks(request);
        expect(request.text).toContain('http://x/packet/t');
        const notice = { firstName: 'Ana', action: { title: 'T' }, count: n, days: n, respondBy: '1 Jan', targets: ['Minister A', 'Office B'], actionUrl: 'http://x/a', ...footer };
        const reached = render('threshold-reached', locale, { ...notice, target: '' });
        noLeaks(reached);
        expect(reached.text).toContain('Minister A');
        const overdue = render('threshold-overdue', locale, { ...notice, late: ['Minister A', 'Rapporteur B'] });
        noLeaks(overdue);
        // every late office, one to a line and one to a list item
        expect(overdue.text).toContain('- Minister A\n- Rapporteur B\n');
        expect(overdue.html).toContain('<li>Minister A</li><li>Rapporteur B</li>');
        for (const m of [request, reached, overdue]) expect(m.locale, `${locale} ${n}`).toBe(locale);
      }
    });

    it(`case update (${locale}): in the reader's language, naming another language where the update is in one`, () => {
      const footer = { unsubscribeUrl: 'http://x/u', myDataUrl: 'http://x/m' };
      for (const other of [false, true]) {
        const m = render('action-update', locale, { firstName: 'Ana', action: { title: 'T' }, update: { title: 'Released', body: 'Home.\n\nSafe.' }, updateLanguage: other ? 'English' : '', updateLang: other ? 'en' : '', actionUrl: 'http://x/a', ...footer });
        noLeaks(m);
        expect(m.locale).toBe(locale);
        expect(m.subject).toContain('Released');
        expect(m.text).toContain('Home.');
        expect(m.text).toContain('http://x/u');
        expect(m.text.includes('English')).toBe(other);
      }
    });
  }

  it('says "one further signer" and "the signer" in the singular', () => {
    const named = letter('en', 2, { names: ['Ana López'] });
    expect(named.text).toContain('One further signer is counted without their name, for their safety.');
    expect(letter('en', 1).text).toContain('The signer is counted without their name, for their safety.');
    expect(letter('en', 5).text).toContain('All 5 signers are counted without their names, for their safety.');
    expect(letter('en', 1).text).toContain('In all, 1 person has signed so far.');
    expect(letter('en', 1).text).not.toMatch(/1 in all have signed|their names/);
    expect(letter('es', 2, { names: ['Ana'] }).text).toContain('Otra persona firmante se cuenta sin su nombre, por su seguridad.');
    expect(letter('es', 3, { names: ['Ana'] }).text).toContain('Otras 2 personas firmantes se cuentan sin su nombre');
    expect(letter('ru', 2, { names: ['Ана'] }).text).toContain('Ещё 1 подписавший учтён без имени');
    expect(letter('ru', 3, { names: ['Ана'] }).text).toContain('Ещё 2 подписавших учтены без имён');
    expect(letter('ru', 22, { names: ['Ана'] }).text).toContain('Ещё 21 подписавший учтён без имени');
    expect(letter('ru', 5).text).not.toContain('чел.');
  });

  it('counts the other sign-ups of a confirmation email in each language', () => {
    expect(confirmation('en', 1).text).toContain('One other sign-up with this email address is waiting');
    expect(confirmation('en', 1000).text).toContain('1,000 other sign-ups with this email address are waiting');
    expect(confirmation('ru', 1).text).toContain('ждёт ещё 1 подпись');
    expect(confirmation('ru', 2).text).toContain('ждут ещё 2 подписи');
    expect(confirmation('ru', 5).text).toContain('ждут ещё 5 подписей');
    expect(confirmation('ru', 21).text).toContain('ждёт ещё 21 подпись');
    expect(confirmation('es', 1).text).toContain('Otra firma con esta dirección');
    expect(confirmation('fr', 2).text).toContain('2 autres signatures');
    // nothing counted when none wait
    expect(confirmation('en', 0).text).not.toContain('other sign-up');
  });

  it('leaves a blank line before "Open this link", and one full stop after a Russian date', () => {
    for (const locale of LOCALES) {
      const m = confirmation(locale, 0);
      // the paragraph that asks to open the link stands apart from the details above it
      expect(m.text).toMatch(/\S\n\n[^\n]+:\n\nhttp:\/\/x\/c\n/);
    }
    // the date as the confirmation service gives it: one full stop after it, in every language
    const at = new Date('2026-12-05T12:00:00Z');
    expect(dateInSentence('ru', at)).toBe('5 декабря 2026');
    for (const name of ['confirmation', 'reminder'] as const) {
      for (const locale of LOCALES) {
        const expires = dateInSentence(locale, at);
        const m = render(name, locale, { signup: signupVars, action: { title: 'T' }, confirmUrl: 'http://x/c', expires, othersWaiting: 0, unsubscribeUrl: 'u', myDataUrl: 'm' });
        expect(m.text).toContain(`${expires}.`);
        expect(m.text).not.toContain(`${expires}..`);
      }
    }
  });

  it('greets in one language: the letter’s greeting, text and sign-off, never "Dear Secretary,,"', () => {
    expect(letter('en', 1).text.startsWith('Dear Secretary,\n')).toBe(true);
    expect(letter('es', 1).text.startsWith('Dear Secretary:\n')).toBe(true);
    expect(letter('ru', 1).text.startsWith('Dear Secretary!\n')).toBe(true);
    // a member's English letter to a Mexican official: English greeting (the title in English, not
    // the directory's Spanish salutation) and sign-off
    const own = renderMemberLetter('en', { country: 'MX', salutation: 'Estimado Fiscal General:', language: 'es', title: 'Attorney General' }, { subject: 'S', body: 'My words.' }, {
      firstName: null,
      lastName: null,
      country: 'MX',
      namedDisclosure: false,
      namedToOwnCountry: false,
    });
    expect(own.text).toBe('Dear Attorney General,\n\nMy words.\n\nA signer\n');
    noLeaks(own);
  });
});
