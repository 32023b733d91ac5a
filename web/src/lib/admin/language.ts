// A language's name as the console writes it: in the language of the sentence around it (Intl's
// names, from CLDR), lower-case where that language writes it so ("en inglés", "на языке
// «английский»"), and capitalised the way that language does only where the name starts a line,
// a label or a cell.
import type { Locale } from '$shared/locales';

const names = new Map<Locale, Intl.DisplayNames>();

/** The name of `code` in `locale`; `start` when it opens a line or a label. The code itself if Intl has no name for it. */
export function languageName(locale: Locale, code: string, opts: { start?: boolean } = {}): string {
	let n = names.get(locale);
	if (!n) {
		n = new Intl.DisplayNames([locale], { type: 'language', fallback: 'code' });
		names.set(locale, n);
	}
	let name: string;
	try {
		name = n.of(code) ?? code;
	} catch {
		// not a well-formed language tag
		name = code;
	}
	return opts.start ? capitalise(locale, name) : name;
}

/** The first letter in upper case, by the rules of `locale`. */
export function capitalise(locale: Locale, text: string): string {
	const first = text.codePointAt(0);
	if (first === undefined) return text;
	const head = String.fromCodePoint(first);
	return head.toLocaleUpperCase(locale) + text.slice(head.length);
}

/**
 * A capitalised word or label as it reads inside a sentence: its first letter in lower case by
 * the rules of `locale` ("creó cuenta del personal"), unless it opens an abbreviation ("API key").
 */
export function midSentence(locale: Locale, text: string): string {
	const [first, second] = [...text];
	if (first === undefined) return text;
	if (second !== undefined && second !== second.toLocaleLowerCase(locale)) return text;
	return first.toLocaleLowerCase(locale) + text.slice(first.length);
}
