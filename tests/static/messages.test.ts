// The words of the web (member pages and console): one catalogue of ICU messages per locale.
// Every locale has every key; every message parses; placeholders and plural arguments agree
// with English; every counted message reads right at 0, 1, 2, 5, 21 and 1,000 in every locale.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { isPluralElement, isSelectElement, isTagElement, type MessageFormatElement, type PluralElement } from '@formatjs/icu-messageformat-parser';
import { IntlMessageFormat } from 'intl-messageformat';
import { LOCALES, type Locale } from '../../server/src/shared/locales.ts';
import { formatMessage, formatNumber, messageArguments, messageKeys, messageSource, type MessageKey } from '../../web/src/lib/i18n/format.ts';

const COUNTS = [0, 1, 2, 5, 21, 1000] as const;

const catalogue = (locale: Locale): Record<string, string> =>
	JSON.parse(readFileSync(new URL(`../../web/src/lib/i18n/messages/${locale}.json`, import.meta.url), 'utf8')) as Record<string, string>;

/** Arguments that hold a count of things: they must choose a plural form. */
const COUNTED = new Set(['n', 'count', 'total', 'min', 'max', 'minutes', 'hours', 'days', 'd', 'letters', 'counted', 'done', 'signed', 'rows', 'people', 'signers', 'signatures']);

/**
 * Counted arguments shown as a bare figure, with no word that agrees with them: a label and
 * its figure, a range, a unit abbreviation. Each is `key:argument`.
 */
const BARE_FIGURES = new Set([
	'ledger_count_hidden:min', // "fewer than 5"
	'ledger_after_minutes:n', // "after 5 min"
	'ledger_after_hours:n', // "after 5 h"
	'targets.list_caption:total', // "Targets 1 to 20 of 45"
	'deliveries.preview_counts:total', // "…, 45 in all"
	'deliveries.batch_caption:total', // "…, 45 in all"
	'deliveries.preview_held:n', // "…: 3" after a label
	'exports.progress:done', // "120 of 1,000 rows written": the noun agrees with the total
	'progress_of_goal:signed', // "120 of 1,000 signatures": the noun agrees with the goal
	'answers.bytes:n', // "12 KB"
	'shell.audit_more_fields:n', // "and 3 more"
	'issues.issue_out_of_range_min:min', // "Must be 3 or more"
	'issues.issue_out_of_range_max:max' // "Must be 3 or less"
]);

function plurals(elements: readonly MessageFormatElement[], found: PluralElement[] = []): PluralElement[] {
  for (const el of elements) {
    if (isPluralElement(el)) found.push(el);
    if (isPluralElement(el) || isSelectElement(el)) for (const option of Object.values(el.options)) plurals(option.value, found);
    if (isTagElement(el)) plurals(el.children, found);
  }
  return found;
}

function ast(locale: Locale, key: MessageKey): MessageFormatElement[] {
	return new IntlMessageFormat(messageSource(locale, key), locale, undefined, { ignoreTag: true }).getAst();
}

/** Every argument given: counts as the number under test, the rest as a marked word. */
function argumentsFor(locale: Locale, key: MessageKey, count: number): Record<string, string | number> {
	const { names, selectors } = messageArguments(locale, key);
	const values: Record<string, string | number> = {};
	for (const name of names) values[name] = selectors.has(name) || COUNTED.has(name) ? count : `‹${name}›`;
	return values;
}

const keys = messageKeys();

describe('the message catalogue', () => {
	it('has every English key in every locale, and no other', () => {
		const english = Object.keys(catalogue('en')).sort();
		for (const locale of LOCALES) expect(Object.keys(catalogue(locale)).sort(), locale).toEqual(english);
	});

	it('has messages that parse, with the arguments English has', () => {
		const problems: string[] = [];
		for (const key of keys) {
			const english = messageArguments('en', key);
			for (const locale of LOCALES) {
				let args: ReturnType<typeof messageArguments>;
				try {
					args = messageArguments(locale, key);
				} catch (error) {
					problems.push(`${locale} ${key}: does not parse (${(error as Error).message})`);
					continue;
				}
				const same = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));
				if (!same(args.names, english.names)) problems.push(`${locale} ${key}: arguments ${[...args.names]} where English has ${[...english.names]}`);
				if (!same(args.selectors, english.selectors)) problems.push(`${locale} ${key}: plural arguments ${[...args.selectors]} where English has ${[...english.selectors]}`);
			}
		}
		expect(problems).toEqual([]);
	});

	it('makes every count choose a plural form', () => {
		const problems: string[] = [];
		for (const key of keys) {
			const { names, selectors } = messageArguments('en', key);
			for (const name of names) {
				if (COUNTED.has(name) && !selectors.has(name) && !BARE_FIGURES.has(`${key}:${name}`)) {
					problems.push(`${key}: {${name}} is a count shown without a plural form: ${messageSource('en', key)}`);
				}
			}
		}
		expect(problems).toEqual([]);
	});

	it('gives each counted message an explicit form for every count tried, in every locale', () => {
		const problems: string[] = [];
		for (const locale of LOCALES) {
			const rules = new Intl.PluralRules(locale);
			for (const key of keys) {
				for (const plural of plurals(ast(locale, key))) {
					const options = Object.keys(plural.options);
					if (!options.includes('other')) problems.push(`${locale} ${key}: no "other" form`);
					for (const count of COUNTS) {
						const category = rules.select(count);
						if (!options.includes(`=${count}`) && !options.includes(category)) {
							problems.push(`${locale} ${key}: {${plural.value}} has no "${category}" form (needed for ${count})`);
						}
					}
				}
			}
		}
		expect(problems).toEqual([]);
	});

	it('renders every counted message at 0, 1, 2, 5, 21 and 1,000 with nothing left over', () => {
		const problems: string[] = [];
		for (const locale of LOCALES) {
			for (const key of keys) {
				if (messageArguments('en', key).selectors.size === 0) continue;
				for (const count of COUNTS) {
					const text = formatMessage(locale, key, argumentsFor(locale, key, count));
					if (/[{}]|undefined|NaN|‹count›|\bother\b(?= \{)/.test(text)) problems.push(`${locale} ${key} at ${count}: ${text}`);
					if (count === 1000 && text.includes('1000') && formatNumber(locale, 1000) !== '1000') problems.push(`${locale} ${key}: 1,000 not formatted for the locale: ${text}`);
				}
			}
		}
		expect(problems).toEqual([]);
	});

	it('formats the figures of every message for its locale', () => {
		expect(formatMessage('en', 'deliveries.preview_counts', { n: 1000, total: 12345 })).toBe('1,000 new signatures, 12,345 in all.');
		expect(formatMessage('ru', 'exports.done', { n: 1000 })).toBe(`Файл готов: ${formatNumber('ru', 1000)} строк.`);
		expect(formatNumber('ru', 1000)).toMatch(/^1\s000$/u);
		expect(formatNumber('es', 12345)).toMatch(/^12\.345$/);
	});
});

describe('counted messages read right', () => {
	const cases: [Locale, MessageKey, Record<string, number>, string][] = [
		['en', 'signatures', { count: 1 }, '1 signature'],
		['en', 'signatures', { count: 0 }, '0 signatures'],
		['en', 'signatures', { count: 21 }, '21 signatures'],
		['ru', 'signatures', { count: 1 }, '1 подпись'],
		['ru', 'signatures', { count: 2 }, '2 подписи'],
		['ru', 'signatures', { count: 5 }, '5 подписей'],
		['ru', 'signatures', { count: 21 }, '21 подпись'],
		['ru', 'signatures', { count: 0 }, '0 подписей'],
		['fr', 'signatures', { count: 0 }, '0 signature'],
		['fr', 'signatures', { count: 2 }, '2 signatures'],
		['es', 'signatures', { count: 1 }, '1 firma'],
		['en', 'answers.published_done', { n: 1 }, 'Published. 1 signer will be emailed.'],
		['en', 'answers.published_done', { n: 2 }, 'Published. 2 signers will be emailed.'],
		['ru', 'answers.published_done', { n: 21 }, 'Опубликовано. Письмо получит 21 подписавший.'],
		['ru', 'answers.published_done', { n: 3 }, 'Опубликовано. Письмо получат 3 подписавших.'],
		['en', 'deliveries.policy_EVERY_N', { n: 1 }, 'Every signature'],
		['en', 'deliveries.policy_EVERY_N', { n: 100 }, 'Every 100 signatures'],
		['ru', 'deliveries.policy_EVERY_N', { n: 22 }, 'Каждые 22 подписи'],
		['ru', 'deliveries.policy_EVERY_N', { n: 25 }, 'Каждые 25 подписей'],
		['en', 'deliveries.preview_counts', { n: 1, total: 1 }, '1 new signature, 1 in all.'],
		['ru', 'deliveries.preview_counts', { n: 1, total: 1 }, '1 новая подпись, всего 1.'],
		['ru', 'exports.count', { n: 2 }, 'Будут выгружены 2 строки'],
		['en', 'exports.count', { n: 1 }, '1 row will be exported'],
		['es', 'exports.count', { n: 1 }, 'Se exportará 1 fila'],
		['fr', 'fraud.preview_count', { n: 1 }, '1 signature correspond'],
		['ru', 'shell.login_error_throttled', { minutes: 15 }, 'Слишком много попыток. Подождите 15 минут и попробуйте снова.'],
		['ru', 'shell.login_error_throttled', { minutes: 1 }, 'Слишком много попыток. Подождите 1 минуту и попробуйте снова.'],
		["ar", "signatures", {"count": 1}, "توقيع واحد"],
		["ar", "signatures", {"count": 2}, "توقيعان"],
		["ar", "signatures", {"count": 5}, "5 توقيعات"],
		["ar", "signatures", {"count": 21}, "21 توقيعًا"],
		["ar", "signatures", {"count": 1000}, "1,000 توقيع"],
		["ar", "exports.count", {"n": 11}, "سيُصدَّر 11 صفًّا"],
		["kk", "signatures", {"count": 1}, "1 қолтаңба"],
		["kk", "signatures", {"count": 2}, "2 қолтаңба"],
		["kk", "signatures", {"count": 5}, "5 қолтаңба"],
		["kk", "signatures", {"count": 21}, "21 қолтаңба"],
		["kk", "signatures", {"count": 1000}, "1 000 қолтаңба"],
		["kk", "answers.published_done", {"n": 21}, "Жарияланды. 21 қол қоюшыға хат жіберіледі."],
		["fil", "signatures", {"count": 1}, "1 lagda"],
		["fil", "signatures", {"count": 2}, "2 lagda"],
		["fil", "signatures", {"count": 5}, "5 lagda"],
		["fil", "signatures", {"count": 21}, "21 lagda"],
		["fil", "signatures", {"count": 1000}, "1,000 lagda"],
		["fil", "answers.published_done", {"n": 6}, "Nailathala. Padadalhan ng email ang 6 lumagda."],
		["uz", "signatures", {"count": 1}, "1 ta imzo"],
		["uz", "signatures", {"count": 2}, "2 ta imzo"],
		["uz", "signatures", {"count": 5}, "5 ta imzo"],
		["uz", "signatures", {"count": 21}, "21 ta imzo"],
		["uz", "signatures", {"count": 1000}, "1 000 ta imzo"],
		["uz", "answers.published_done", {"n": 21}, "Eʼlon qilindi. 21 nafar imzo chekkan kishiga xat yuboriladi."],
		['en', 'fraud.done', { n: 1, counted: 0 }, '1 signature invalidated. None had been counted yet.']
	];
	it.each(cases)('%s %s %o', (locale, key, params, expected) => {
		expect(formatMessage(locale, key, params)).toBe(expected);
	});
});
