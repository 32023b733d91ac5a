// Country names in the reader's language, from the ISO codes the API accepts.
import { COUNTRY_CODES } from '$shared/countries';
import type { Locale } from '$lib/i18n';
import { countryName } from '$lib/country-name';

export { countryName };

export interface CountryOption {
	code: string;
	name: string;
}

const sortedOptions = new Map<Locale, CountryOption[]>();
const known = new Set(COUNTRY_CODES);

export function isCountryCode(code: string): boolean {
	return known.has(code);
}


/** Every country, named and sorted for the locale (computed once per locale). */
export function countryOptions(locale: Locale): CountryOption[] {
	let options = sortedOptions.get(locale);
	if (!options) {
		const collator = new Intl.Collator(locale);
		options = COUNTRY_CODES.map((code) => ({ code, name: countryName(locale, code) })).sort((a, b) =>
			collator.compare(a.name, b.name)
		);
		sortedOptions.set(locale, options);
	}
	return options;
}
