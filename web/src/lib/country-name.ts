// A country's name in the reader's language, from its ISO code (Intl's names, from CLDR): for
// pages and for the console's components alike, so it lives outside $lib/server.
import type { Locale } from '$shared/locales';

const displayNames = new Map<Locale, Intl.DisplayNames>();

export function countryName(locale: Locale, code: string): string {
	let names = displayNames.get(locale);
	if (!names) {
		names = new Intl.DisplayNames([locale], { type: 'region', fallback: 'code' });
		displayNames.set(locale, names);
	}
	try {
		return names.of(code.toUpperCase()) ?? code;
	} catch {
		return code;
	}
}
