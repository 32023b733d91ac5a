// One message format for every word the web shows: ICU MessageFormat, with CLDR plural
// rules, compiled once per message and locale by intl-messageformat.
//
// The messages live in ./messages/<locale>.json: member pages' keys have no dot; the
// console's are `<area>.<key>`. English is the source; every other file must have exactly its
// keys (the type check below, and tests/static/messages.test.ts for placeholders and plurals).
import {
	isArgumentElement,
	isDateElement,
	isNumberElement,
	isPluralElement,
	isSelectElement,
	isTagElement,
	isTimeElement,
	type MessageFormatElement
} from '@formatjs/icu-messageformat-parser';
import { IntlMessageFormat } from 'intl-messageformat';
import type { Locale } from '$shared/locales';
// a relative path: the message tests load this file outside SvelteKit, where $shared is not known
import { RTL_LOCALES } from '../../../../server/src/shared/locales.ts';
import en from './messages/en.json' with { type: 'json' };
import es from './messages/es.json' with { type: 'json' };
import fr from './messages/fr.json' with { type: 'json' };
import ru from './messages/ru.json' with { type: 'json' };
import uz from './messages/uz.json' with { type: 'json' };
import kk from './messages/kk.json' with { type: 'json' };
import fil from './messages/fil.json' with { type: 'json' };
import ar from './messages/ar.json' with { type: 'json' };

export type Catalogue = typeof en;
export type MessageKey = keyof Catalogue & string;
export type Params = Record<string, string | number>;

const catalogues: Record<Locale, Record<MessageKey, string>> = { en, es, fr, ru, uz, kk, fil, ar };

/** The raw ICU source of a message (for tests and tools). */
export function messageSource(locale: Locale, key: MessageKey): string {
	return catalogues[locale][key] ?? en[key];
}

/** Whether the catalogue has a message of that key. */
export function hasMessage(key: string): key is MessageKey {
	return Object.hasOwn(en, key);
}

/** A locale the catalogue has, else English. */
export function catalogueLocale(value: string): Locale {
	return Object.hasOwn(catalogues, value) ? (value as Locale) : 'en';
}

export function messageKeys(): MessageKey[] {
	return Object.keys(en) as MessageKey[];
}

const numberFormats = new Map<Locale, Intl.NumberFormat>();

export function formatNumber(locale: Locale, value: number): string {
	let nf = numberFormats.get(locale);
	if (!nf) {
		nf = new Intl.NumberFormat(locale);
		numberFormats.set(locale, nf);
	}
	return nf.format(value);
}

interface Compiled {
	format: IntlMessageFormat;
	/** Arguments that choose a branch (plural, selectordinal, select): passed as they are. */
	selectors: Set<string>;
	/** Every argument the message names. */
	names: Set<string>;
}

const compiled = new Map<string, Compiled>();

function walk(elements: readonly MessageFormatElement[], found: Pick<Compiled, 'selectors' | 'names'>): void {
	for (const el of elements) {
		if (isArgumentElement(el) || isNumberElement(el) || isDateElement(el) || isTimeElement(el)) found.names.add(el.value);
		if (isPluralElement(el) || isSelectElement(el)) {
			found.names.add(el.value);
			found.selectors.add(el.value);
			for (const option of Object.values(el.options)) walk(option.value, found);
		}
		if (isTagElement(el)) walk(el.children, found);
	}
}

function compile(locale: Locale, key: MessageKey): Compiled {
	const id = `${locale}\u0000${key}`;
	let c = compiled.get(id);
	if (!c) {
		const format = new IntlMessageFormat(messageSource(locale, key), locale, undefined, { ignoreTag: true });
		c = { format, selectors: new Set(), names: new Set() };
		walk(format.getAst(), c);
		compiled.set(id, c);
	}
	return c;
}

/** The argument names of a message, and which of them choose a branch. */
export function messageArguments(locale: Locale, key: MessageKey): { names: Set<string>; selectors: Set<string> } {
	const c = compile(locale, key);
	return { names: c.names, selectors: c.selectors };
}

/**
 * A message with its arguments filled. Numbers that choose a plural form are given as they
 * are (the form's `#` shows them formatted for the locale); other numbers are formatted for
 * the locale. An argument the caller did not give stays visible as `{name}`.
 */
/**
 * A text of another direction inside a sentence (a Latin name, an email, a title in a
 * right-to-left sentence) is isolated, so its letters and punctuation do not reorder the
 * sentence around it: Unicode's first-strong isolate (U+2068) to the pop (U+2069).
 */
function isolate(value: string): string {
	return `\u2068${value}\u2069`;
}

export function formatMessage(locale: Locale, key: MessageKey, params?: Params): string {
	const c = compile(locale, key);
	const rtl = RTL_LOCALES.has(locale);
	if (c.names.size === 0) return c.format.format() as string;
	const values: Record<string, string | number> = {};
	for (const name of c.names) {
		const value = params?.[name];
		if (value === undefined) values[name] = c.selectors.has(name) ? 'other' : `{${name}}`;
		else if (typeof value === 'number' && !c.selectors.has(name)) values[name] = formatNumber(locale, value);
		else if (typeof value === 'string' && rtl && !c.selectors.has(name)) values[name] = isolate(value);
		else values[name] = value;
	}
	return c.format.format(values) as string;
}
