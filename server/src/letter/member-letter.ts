// A member's own letter as one official receives it: the target's salutation, the member's
// text, and a sign-off that names the member only where the member allowed it. The same
// function feeds the preview on the action page and the letters in a delivery, so the
// preview is exactly what is sent.
import { render, type RenderedMail } from '../mail/render.ts';

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

export function signOff(targetCountry: string | null, signer: SignerForLetter, locale: string): { name: string | null; country: string | null } {
  const named = mayName(targetCountry, signer);
  const sameCountry = targetCountry !== null && targetCountry === signer.country;
  const countryName = signer.country ? (regionNames(locale).of(signer.country) ?? signer.country) : null;
  return {
    name: named ? [signer.firstName, signer.lastName].filter(Boolean).join(' ') : null,
    // an unnamed signer writing to their own government is not placed in that country either
    country: sameCountry && !named ? null : countryName,
  };
}

export function renderMemberLetter(
  locale: string,
  target: { country: string | null; salutation: string },
  letter: { subject: string; body: string },
  signer: SignerForLetter,
): RenderedMail {
  return render(
    'member-letter',
    locale,
    { salutation: target.salutation, subject: letter.subject, body: letter.body, ...signOff(target.country, signer, locale) },
    undefined,
    { layout: false },
  );
}
