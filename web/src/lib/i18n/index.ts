// Translation helpers. Locales are the ones the API knows ($shared/locales).
import { DEFAULT_LOCALE, LOCALES, isLocale, negotiateLocale, type Locale } from '$shared/locales';
import { en, type Messages, type PluralForms } from './en';
import { es } from './es';
import { fr } from './fr';
import { ru } from './ru';

export { DEFAULT_LOCALE, LOCALES, isLocale, negotiateLocale, type Locale };

export type MessageKey = keyof Messages;
/** Keys whose message is a plain string. */
export type TextKey = { [K in MessageKey]: Messages[K] extends string ? K : never }[MessageKey];
/** Keys whose message has plural forms. */
export type PluralKey = Exclude<MessageKey, TextKey>;
export type Params = Record<string, string | number>;

const dictionaries: Record<Locale, Messages> = { en, es, fr, ru };

/** Each language's name in that language, for the language switcher. */
export const LOCALE_NAMES: Record<Locale, string> = {
	en: 'English',
	es: 'Español',
	fr: 'Français',
	ru: 'Русский'
};

const numberFormats = new Map<Locale, Intl.NumberFormat>();
const pluralRules = new Map<Locale, Intl.PluralRules>();

export function formatNumber(locale: Locale, value: number): string {
	let nf = numberFormats.get(locale);
	if (!nf) {
		nf = new Intl.NumberFormat(locale);
		numberFormats.set(locale, nf);
	}
	return nf.format(value);
}

function pluralCategory(locale: Locale, count: number): Intl.LDMLPluralRule {
	let pr = pluralRules.get(locale);
	if (!pr) {
		pr = new Intl.PluralRules(locale);
		pluralRules.set(locale, pr);
	}
	return pr.select(count);
}

function interpolate(template: string, params?: Params): string {
	if (!params) return template;
	return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
		const value = params[name];
		return value === undefined ? whole : String(value);
	});
}

/** A plain message, with {name} placeholders filled from params. */
export function t(locale: Locale, key: TextKey, params?: Params): string {
	return interpolate(dictionaries[locale][key] as string, params);
}

/**
 * A plural message: the form is chosen by `count` with Intl.PluralRules, and {count}
 * is the number formatted for the locale. Other placeholders come from params.
 */
export function plural(locale: Locale, key: PluralKey, count: number, params?: Params): string {
	const forms = dictionaries[locale][key] as PluralForms;
	const template = forms[pluralCategory(locale, count)] ?? forms.other;
	return interpolate(template, { ...params, count: formatNumber(locale, count) });
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

