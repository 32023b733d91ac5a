// The staff console's messages. Each area of the console keeps its own dictionary file in
// this folder (defineMessages), so areas can be written side by side; every locale must
// have every key of the English one, which the type checker enforces.
import { formatNumber, type Locale } from '$lib/i18n';

export type Messages<K extends string> = Record<K, string>;

/** English first; es, fr and ru must carry exactly the same keys. */
export function defineMessages<const E extends Record<string, string>>(
	messages: { en: E } & Record<Exclude<Locale, 'en'>, Record<keyof E, string>>
): Record<Locale, Record<keyof E & string, string>> {
	return messages as Record<Locale, Record<keyof E & string, string>>;
}

export type Params = Record<string, string | number>;

/**
 * `t(key, params)` for one dictionary and locale. Numbers in params are formatted for the
 * locale; {name} placeholders are filled. A message counted by `n` reads right at every count
 * through keys "<key>__<category>" (Intl.PluralRules: one, few, many...), where the language
 * needs them; the key itself is the "other" form.
 */
export function adminT<K extends string>(dictionary: Record<Locale, Record<K, string>>, locale: Locale) {
	const messages = dictionary[locale] ?? dictionary.en;
	const rules = new Intl.PluralRules(locale);
	return (key: K, params?: Params): string => {
		// a counted message ({n}) may have a form per plural category: "<key>__one", "__few"...
		const n = params?.n;
		const form = typeof n === 'number' ? (messages as Record<string, string>)[`${key}__${rules.select(n)}`] : undefined;
		const template = form ?? messages[key] ?? dictionary.en[key] ?? key;
		if (!params) return template;
		return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
			const value = params[name];
			if (value === undefined) return whole;
			return typeof value === 'number' ? formatNumber(locale, value) : value;
		});
	};
}
