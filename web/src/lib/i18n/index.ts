// Translation helpers for member pages. Locales are the ones the API knows ($shared/locales);
// the words are ICU messages in ./messages/<locale>.json (see ./format.ts).
import { DEFAULT_LOCALE, LOCALES, isLocale, negotiateLocale, type Locale } from '$shared/locales';
import { formatMessage, formatNumber, type MessageKey, type Params } from './format';

export { DEFAULT_LOCALE, LOCALES, isLocale, negotiateLocale, formatNumber, type Locale, type MessageKey, type Params };

/** A member page's message key (the console's keys have a dot: `<area>.<key>`). */
export type TextKey = { [K in MessageKey]: K extends `${string}.${string}` ? never : K }[MessageKey];
/** Kept for the call sites that name a counted message: every key may be counted now. */
export type PluralKey = TextKey;

/** Each language's name in that language, for the language switcher. */
export const LOCALE_NAMES: Record<Locale, string> = {
	en: 'English',
	es: 'Español',
	fr: 'Français',
	ru: 'Русский',
	uz: 'Oʻzbekcha',
	kk: 'Қазақша',
	fil: 'Filipino',
	ar: 'العربية'
};

/** A message, with its {name} arguments filled from params. */
export function t(locale: Locale, key: TextKey, params?: Params): string {
	return formatMessage(locale, key, params);
}

/** A counted message: `count` chooses the plural form (CLDR rules for the locale). */
export function plural(locale: Locale, key: PluralKey, count: number, params?: Params): string {
	return formatMessage(locale, key, { ...params, count });
}

export interface Translator {
	locale: Locale;
	t: (key: TextKey, params?: Params) => string;
	p: (key: PluralKey, count: number, params?: Params) => string;
	n: (value: number) => string;
}

/** The helpers bound to one locale, for components. */
export function translator(locale: Locale): Translator {
	return {
		locale,
		t: (key, params) => t(locale, key, params),
		p: (key, count, params) => plural(locale, key, count, params),
		n: (value) => formatNumber(locale, value)
	};
}

const languageNames = new Map<Locale, Intl.DisplayNames>();

/** A language's name in the page's language ("ruso" on a Spanish page), or its code if Intl has none. */
/** The comma between the parts of a name or a list, as the language writes it (Arabic: ،). */
export function listComma(locale: string): string {
	return locale === 'ar' ? '، ' : ', ';
}

export function languageName(locale: Locale, code: string): string {
	let names = languageNames.get(locale);
	if (!names) {
		names = new Intl.DisplayNames([locale], { type: 'language' });
		languageNames.set(locale, names);
	}
	try {
		return names.of(code) ?? code;
	} catch {
		return code;
	}
}

/** The `lang` of a text shown on a page in `locale`: none when it is in the page's language. */
export function foreignLang(textLocale: string | null | undefined, locale: Locale): string | undefined {
	return textLocale && textLocale !== locale ? textLocale : undefined;
}
