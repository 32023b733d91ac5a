// Dates for people: formatted for the page's locale, in UTC (pages are rendered on the
// server, which does not know the reader's time zone, so it says which one it uses).
import type { Locale } from '$lib/i18n';

const dateFormats = new Map<Locale, Intl.DateTimeFormat>();
const dateTimeFormats = new Map<Locale, Intl.DateTimeFormat>();
const relativeFormats = new Map<Locale, Intl.RelativeTimeFormat>();

function valid(iso: string | null | undefined): Date | null {
	if (!iso) return null;
	const date = new Date(iso);
	return Number.isNaN(date.getTime()) ? null : date;
}

/** "28 November 2026" (or the locale's way of writing it); '' for a missing or bad date. */
export function formatDate(locale: Locale, iso: string | null | undefined): string {
	const date = valid(iso);
	if (!date) return '';
	let f = dateFormats.get(locale);
	if (!f) {
		f = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
		dateFormats.set(locale, f);
	}
	return f.format(date);
}

/** "28 November 2026, 14:05 UTC" (or the locale's way of writing it). */
export function formatDateTime(locale: Locale, iso: string | null | undefined): string {
	const date = valid(iso);
	if (!date) return '';
	let f = dateTimeFormats.get(locale);
	if (!f) {
		f = new Intl.DateTimeFormat(locale, {
			year: 'numeric',
			month: 'long',
			day: 'numeric',
			hour: '2-digit',
			minute: '2-digit',
			timeZone: 'UTC',
			timeZoneName: 'short'
		});
		dateTimeFormats.set(locale, f);
	}
	return f.format(date);
}

/** "5 minutes ago", "yesterday": always in the past (a clock a little ahead counts as now); a plain date once it is more than a week old. */
export function relativeTime(locale: Locale, iso: string | null | undefined, now: number): string {
	const date = valid(iso);
	if (!date) return '';
	const abs = Math.max(0, Math.round((now - date.getTime()) / 1000));
	if (abs >= 7 * 86_400) return formatDate(locale, iso);
	let f = relativeFormats.get(locale);
	if (!f) {
		f = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
		relativeFormats.set(locale, f);
	}
	if (abs < 3_600) return f.format(-Math.max(1, Math.round(abs / 60)), 'minute');
	if (abs < 86_400) return f.format(-Math.round(abs / 3_600), 'hour');
	return f.format(-Math.round(abs / 86_400), 'day');
}

const shortFormats = new Map<Locale, Intl.DateTimeFormat>();

/** "Nov 28, 2026, 2:05 PM" (or the locale's way of writing it), in UTC: for tables, where the column says UTC. */
export function formatDateTimeShort(locale: Locale, iso: string | null | undefined): string {
	const date = valid(iso);
	if (!date) return '';
	let f = shortFormats.get(locale);
	if (!f) {
		f = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
		shortFormats.set(locale, f);
	}
	return f.format(date);
}
