// The root and count a letter carries (what its delivery commits to: delivery/delivery-roots.ts),
// in every language: the count in its plural forms and the locale's digits, the root whole on a
// line of its own (the HTML keeps it left to right), the page where signers check their receipt,
// and nothing said when the delivery has no receipts.
import { describe, expect, it } from 'vitest';
import { LOCALES } from '../shared/locales.ts';
import type { RenderedMail } from '../mail/render.ts';
import { composeLetter } from './letter.service.ts';

const ROOT = 'ab'.repeat(32);
const VERIFY = 'http://x/verify';

function letter(locale: string, receipts: { count: number; root: string; verifyUrl: string } | null): RenderedMail {
  return composeLetter({
    text: { locale, title: 'T', letterSubject: 'S', officialRequest: 'Please act.' },
    salutation: 'Dear Secretary,',
    target: { language: locale, title: 'Secretary' },
    newCount: 3,
    totalCount: 3,
    countries: ['MX'],
    names: [],
    memberLetters: [],
    organisation: 'Org',
    packetUrl: 'http://x/packet/t',
    receipts,
  });
}

/** The number as each letter writes it, and the words around it, by locale and count. */
const phrase: Record<string, (n: number) => string> = {
  en: (n) => (n === 1 ? 'whose 1 signature with a receipt is sealed' : `whose ${n === 1000 ? '1,000' : n} signatures with a receipt are sealed`),
  es: (n) => (n === 1 ? 'cuya 1 firma con recibo queda sellada' : `cuyas ${n === 1000 ? '1000' : n} firmas con recibo quedan selladas`),
  fr: (n) => (n === 1 ? 'dont l’unique signature munie d’un reçu est scellée' : `dont les ${n === 1000 ? '1\u202f000' : n} signatures munies d’un reçu sont scellées`),
  ru: (n) =>
    ({
      1: 'в которой 1 подпись с квитанцией; она скреплена',
      2: 'в которой 2 подписи с квитанциями; они скреплены',
      5: 'в которой 5 подписей с квитанциями; они скреплены',
      21: 'в которой 21 подпись с квитанцией; они скреплены',
      1000: 'в которой 1\u00a0000 подписей с квитанциями; они скреплены',
    })[n]!,
  uz: (n) => `kvitansiyasi bor ${n === 1000 ? '1\u00a0000' : n} ta imzo quyidagi raqamli iz`,
  kk: (n) => `түбіртегі бар ${n === 1000 ? '1\u00a0000' : n} қолтаңба келесі цифрлық ізбен`,
  fil: (n) => `ang ${n === 1000 ? '1,000' : n} lagdang may resibo ay selyado`,
  ar: (n) =>
    ({
      1: 'يضم توقيعًا واحدًا مع إيصال',
      2: 'يضم توقيعين مع إيصالين',
      5: 'يضم 5 توقيعات مع إيصالاتها',
      21: 'يضم 21 توقيعًا مع إيصالاتها',
      1000: 'يضم 1,000 توقيع مع إيصالاتها',
    })[n]!,
};

describe('the root and count in the letter', () => {
  for (const locale of LOCALES) {
    it(`(${locale}) says how many signatures with a receipt the root seals, gives the root whole and where to check`, () => {
      for (const n of [1, 2, 5, 21, 1000]) {
        const m = letter(locale, { count: n, root: ROOT, verifyUrl: VERIFY });
        expect(m.text, `${locale} ${n}`).toContain(phrase[locale]!(n));
        expect(m.html, `${locale} ${n}`).toContain(phrase[locale]!(n));
        // the root on a line of its own in the text, left to right in the HTML
        expect(m.text).toContain(`\n${ROOT}\n`);
        expect(m.html).toContain(`<code dir="ltr" style="word-break: break-all">${ROOT}</code>`);
        expect(m.text).toContain(VERIFY);
        expect(m.html).toContain(VERIFY);
        for (const part of [m.text, m.html]) expect(part).not.toMatch(/[{}]|undefined|NaN|\.\.(?!\.)|::/);
        // before the link to the packet, after the counts
        expect(m.text.indexOf(ROOT)).toBeLessThan(m.text.indexOf('http://x/packet/t'));
      }
    });

    it(`(${locale}) says nothing of it for a delivery without receipts`, () => {
      for (const receipts of [null, { count: 0, root: ROOT, verifyUrl: VERIFY }]) {
        const m = letter(locale, receipts);
        expect(m.text).not.toContain(ROOT);
        expect(m.text).not.toContain(VERIFY);
        expect(m.html).not.toContain('<code');
      }
    });
  }
});
