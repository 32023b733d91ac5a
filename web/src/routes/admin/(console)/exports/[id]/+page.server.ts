import { error } from '@sveltejs/kit';
import { expectOk } from '$lib/server/api';
import { staffApi } from '$lib/server/staff';
import { countryName } from '$lib/server/countries';
import { consoleTime } from '$lib/admin/time';
import { adminT, hasKey } from '$lib/i18n/admin/dict';
import { exportsText } from '$lib/i18n/admin/exports';
import type { Locale } from '$shared/locales';
import type { PageServerLoad } from './$types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An export's filter in words: "Signatures · Action: X · Status: Confirmed · from 1 December 2026". */
function describeExportFilter(locale: Locale, filter: Record<string, unknown>, titles: Map<string, string>): string[] {
	const t = adminT(exportsText, locale);
	const str = (k: string) => (typeof filter[k] === 'string' ? (filter[k] as string) : '');
	const kind = str('kind') === 'LETTERS' ? 'LETTERS' : 'SIGNATURES';
	const parts = [t(`kind_${kind}`)];
	const actionId = str('actionId');
	parts.push(t('filter_action', { title: actionId ? (titles.get(actionId) ?? t('filter_unknown_action')) : t('filter_all_actions') }));
	const status = str('status');
	if (status) {
		const key = `${kind === 'LETTERS' ? 'letter' : 'sig'}_status_${status}` as 'sig_status_PENDING';
		parts.push(t('filter_status', { status: hasKey(exportsText, key) ? t(key) : status }));
	}
	if (str('from')) parts.push(t('filter_from', { date: consoleTime(locale, str('from'), 'date') }));
	if (str('to')) parts.push(t('filter_to', { date: consoleTime(locale, str('to'), 'date') }));
	if (str('country')) parts.push(t('filter_country', { country: countryName(locale, str('country')) }));
	if (kind === 'SIGNATURES') parts.push(t(filter.includePersonal === true ? 'filter_personal_yes' : 'filter_personal_no'));
	if (filter.emailsWithoutConsent === true) parts.push(t('filter_without_consent', { reason: str('reason') }));
	return parts;
}

// One export's progress. Started from the exports page (?live=1), it refreshes itself while the
// file is being written, and stops once it is done; otherwise it offers to (WCAG 2.2.1).
export const load: PageServerLoad = async (event) => {
	if (!UUID.test(event.params.id)) error(404, { message: 'Not found', code: 'export_not_found' });
	const staff = staffApi(event);
	const [{ job }, dash] = await Promise.all([
		staff.GET('/api/admin/exports/{id}', { params: { path: { id: event.params.id } } }).then(expectOk),
		staff.GET('/api/admin/dashboard', { params: { query: { range: 'day', locale: event.locals.locale } } }).then(expectOk)
	]);
	const titles = new Map(dash.actions.map((a) => [a.id, a.title]));
	return { job, live: event.url.searchParams.get('live') === '1', filterText: describeExportFilter(event.locals.locale, job.filter, titles) };
};
