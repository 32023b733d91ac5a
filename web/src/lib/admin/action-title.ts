// An action's title as the console shows it: in the console's language where the action has a
// text in it, else in the action's default language, marked with that language (`lang`) so that
// screen readers read it in its own.
import type { Locale } from '$shared/locales';

interface Titled {
	title: string;
	defaultLocale: string;
	texts: { locale: string; title: string }[];
}

/** The title to show and, where it is not in the console's language, the language it is in. */
export function consoleTitle(action: Titled, locale: Locale): { title: string; lang: string | undefined } {
	const text = action.texts.find((x) => x.locale === locale) ?? action.texts.find((x) => x.locale === action.defaultLocale);
	if (!text) return { title: action.title, lang: undefined };
	return { title: text.title, lang: text.locale === locale ? undefined : text.locale };
}
