// A member's own letter as one official receives it: the target's salutation, the member's
// text, and a sign-off that names the member only where the member allowed it. The same
// function feeds the preview on the action page and the letters in a delivery, so the
// preview is exactly what is sent.
import { render, type RenderedMail } from '../mail/render.ts';
import { greetingLine, normaliseSalutation, withoutOwnGreeting } from '../shared/salutation.ts';

export interface SignerForLetter {
  firstName: string | null;
  lastName: string | null;
  /** null in a preview before the member has chosen a country */
  country: string | null;
  namedDisclosure: boolean;
  namedToOwnCountry: boolean;
}

/**
 * Whether this official may see this signer's name: only with named-disclosure consent, and
 * for officials of the signer's own country only with the separate, explicit choice.
 */
export function mayName(targetCountry: string | null, signer: SignerForLetter): boolean {
  if (!signer.namedDisclosure || !signer.firstName) return false;
  const sameCountry = targetCountry !== null && targetCountry === signer.country;
  return !sameCountry || signer.namedToOwnCountry;
}

/**
 * How many signers of one delivery, from one country, are unnamed to the official reading it:
 * what decides whether that country may be shown for them (see countryForOfficial).
 */
export interface Cover {
  /** signers of this delivery from the signer's country whom mayName() leaves unnamed to this official */
  unnamedAlike: number;
  /** the smallest such group whose country may be shown: the configured PUBLIC_COUNTRY_MIN (at least 2) */
  min: number;
}

/**
 * THE RULE of where an official may see a signer (promise 5). Everything an official receives
 * goes through it: the countries named in a letter, the counts by country and the country of
 * each row on the packet page, in the PDF and in the CSV, and the sign-off of members' own
 * letters. It returns the country the official may see this signer in, or null: "country not
 * shown", a bucket that every output counts together.
 *
 * - A signer named to this official (mayName) is placed in their country, as they chose to be
 *   known: for their own country's officials that takes the separate, explicit consent.
 * - To an official of no country (an inter-governmental body) other signers are placed too.
 * - An unnamed signer is NEVER placed in the official's own country: not in a row, not in a
 *   count, not in a list of countries.
 * - And an unnamed signer from another country is placed only when at least `cover.min`
 *   unnamed signers of the same delivery come from that country. Otherwise a lone foreign
 *   signer would be shown while a lone compatriot is not, and "country not shown" would mean
 *   "the official's own country" (e.g. "not shown: 1" in a delivery of one). With this rule
 *   an unnamed compatriot reads exactly like an unnamed signer from a country with fewer than
 *   `min` signers in the delivery, so the bucket never points at the official's country, even
 *   when it holds only compatriots. Without `cover` (a member's own letter, whose sign-off
 *   must read the same in the preview before signing as in any delivery) no unnamed signer
 *   is placed for an official of a country.
 *
 * Documented in docs/members-and-officials.md (Officials). Tests: tests/promises/05-own-country-never-located.test.ts.
 */
export function countryForOfficial(officialCountry: string | null, signer: SignerForLetter, cover?: Cover): string | null {
  if (!signer.country) return null;
  if (mayName(officialCountry, signer)) return signer.country;
  if (officialCountry === null) return signer.country;
  if (signer.country === officialCountry) return null;
  return cover !== undefined && cover.min >= 2 && cover.unnamedAlike >= cover.min ? signer.country : null;
}

/** Signers of one delivery alike for countryForOfficial: same country, same consents, a first name or none. */
export interface SignerGroup {
  country: string;
  namedDisclosure: boolean;
  namedToOwnCountry: boolean;
  hasName: boolean;
  count: number;
}

export interface OfficialCountries {
  /** the counts by country this official may see, largest first */
  countries: { country: string; count: number }[];
  /** signers counted under "country not shown" */
  notShown: number;
  /** where one signer of the delivery is placed for this official (countryForOfficial with the delivery's cover) */
  place(signer: SignerForLetter): string | null;
}

const groupSigner = (g: SignerGroup): SignerForLetter => ({
  firstName: g.hasName ? '-' : null,
  lastName: null,
  country: g.country,
  namedDisclosure: g.namedDisclosure,
  namedToOwnCountry: g.namedToOwnCountry,
});

/** A whole delivery as one official may see it by country: countryForOfficial applied to every signer. */
export function countriesForOfficial(officialCountry: string | null, groups: SignerGroup[], min: number): OfficialCountries {
  const unnamed = new Map<string, number>();
  for (const g of groups) {
    if (!mayName(officialCountry, groupSigner(g))) unnamed.set(g.country, (unnamed.get(g.country) ?? 0) + g.count);
  }
  const place = (signer: SignerForLetter) =>
    countryForOfficial(officialCountry, signer, { unnamedAlike: signer.country ? (unnamed.get(signer.country) ?? 0) : 0, min });
  const counts = new Map<string, number>();
  let notShown = 0;
  for (const g of groups) {
    if (g.count <= 0) continue;
    const country = place(groupSigner(g));
    if (country === null) notShown += g.count;
    else counts.set(country, (counts.get(country) ?? 0) + g.count);
  }
  const countries = [...counts].map(([country, count]) => ({ country, count })).sort((a, b) => b.count - a.count || a.country.localeCompare(b.country));
  return { countries, notShown, place };
}

const regionNamesByLocale = new Map<string, Intl.DisplayNames>();

/** Country names in `locale`; one formatter per locale, as building one costs far more than using it. */
export function regionNames(locale: string): Intl.DisplayNames {
  let names = regionNamesByLocale.get(locale);
  if (!names) {
    names = new Intl.DisplayNames([locale], { type: 'region' });
    regionNamesByLocale.set(locale, names);
  }
  return names;
}

/**
 * The sign-off of a member's own letter: the name as mayName allows, the country as
 * countryForOfficial allows without a delivery's cover (so the preview is what is sent).
 */
export function signOff(targetCountry: string | null, signer: SignerForLetter, locale: string): { name: string | null; country: string | null } {
  const named = mayName(targetCountry, signer);
  const country = countryForOfficial(targetCountry, signer);
  return {
    name: named ? [signer.firstName, signer.lastName].filter(Boolean).join(' ') : null,
    country: country ? (regionNames(locale).of(country) ?? country) : null,
  };
}

/**
 * The language of a member's own letter: that of the action's text they started from (the page
 * they signed on where the action has a text in its language, else the action's default), as
 * the preview says it. One rule for the preview, the delivery and the packet.
 */
export function memberLetterLanguage(signerLocale: string | null | undefined, textLocales: readonly string[], defaultLocale: string): string {
  return signerLocale && textLocales.includes(signerLocale) ? signerLocale : defaultLocale;
}

/**
 * How a member's letter greets its official, in the letter's language: the directory's
 * salutation where the letter is in the official's language (it is written in that language),
 * else a formal greeting of the letter's language that needs no grammatical gender, with the
 * official's title where the language puts it there ("Dear Attorney General,").
 */
const NEUTRAL_GREETING: Record<string, (englishTitle: string) => string> = {
  en: (title) => (title ? `Dear ${title},` : 'Dear Sir or Madam,'),
  es: () => 'De mi consideración:',
  fr: () => 'Madame, Monsieur,',
  ru: () => 'Здравствуйте!',
  uz: () => "Hurmatli janob yoki xonim!",
  fil: () => "Sa kinauukulan:",
  kk: () => "Сәлеметсіз бе!",
  ar: () => "تحية طيبة وبعد،",
};

export function memberGreeting(locale: string, target: { salutation: string; language: string; title: string }): string {
  if (locale === target.language) return greetingLine(target.salutation, locale);
  return (NEUTRAL_GREETING[locale] ?? NEUTRAL_GREETING.en!)(normaliseSalutation(target.title));
}

/**
 * A member's own letter, wholly in `locale`: the language the member wrote it in (the page they
 * signed on), so its greeting, text and sign-off never mix languages, whatever the official's.
 * It opens with the target's salutation, once: a greeting the member typed on the letter's
 * first line is left out (withoutOwnGreeting), in the preview as in every delivery.
 */
export function renderMemberLetter(
  locale: string,
  target: { country: string | null; salutation: string; language: string; title: string },
  letter: { subject: string; body: string },
  signer: SignerForLetter,
): RenderedMail {
  return render(
    'member-letter',
    locale,
    {
      salutation: normaliseSalutation(target.salutation),
      greeting: memberGreeting(locale, target),
      subject: letter.subject,
      body: withoutOwnGreeting(letter.body, target.salutation),
      ...signOff(target.country, signer, locale),
    },
    undefined,
    { layout: false },
  );
}
