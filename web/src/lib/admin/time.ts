// The console's one way to write a moment: in the reader's language, always in UTC (pages are
// rendered on the server, which does not know the reader's time zone), and always saying so the
// same way ("UTC" after the time). Every console page writes its dates and times through here;
// tests/static/console-time.test.ts keeps it so.
import type { Locale } from '$shared/locales';

/**
 * - `datetime`: "Nov 28, 2026, 7:06 PM UTC" / "28 нояб. 2026 г., 19:06 UTC"
 * - `date`: "Nov 28, 2026" (a day, no time: no zone to say)
 * - `time`: "7:06 PM UTC"
 * - `day`, `clock`: a chart's axis, "Nov 28" and "7:06 PM" (the chart's table says the zone)
 */
export type ConsoleTimeStyle = 'datetime' | 'date' | 'time' | 'day' | 'clock';

const OPTIONS: Record<ConsoleTimeStyle, Intl.DateTimeFormatOptions> = {
	datetime: { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' },
	date: { year: 'numeric', month: 'short', day: 'numeric' },
	time: { hour: 'numeric', minute: '2-digit', timeZoneName: 'short' },
	day: { month: 'short', day: 'numeric' },
	clock: { hour: 'numeric', minute: '2-digit' }
};

const formats = new Map<string, Intl.DateTimeFormat>();

/** A moment (an ISO string or a Date) as the console writes it; '' for a missing or bad one. */
export function consoleTime(locale: Locale, value: string | Date | null | undefined, style: ConsoleTimeStyle = 'datetime'): string {
	if (value === null || value === undefined || value === '') return '';
	const date = value instanceof Date ? value : new Date(value);
	if (Number.isNaN(date.getTime())) return '';
	const id = `${locale}|${style}`;
	let f = formats.get(id);
	if (!f) {
		f = new Intl.DateTimeFormat(locale, { ...OPTIONS[style], timeZone: 'UTC' });
		formats.set(id, f);
	}
	return f.format(date);
}
