import { error } from '@sveltejs/kit';
import { parseRange } from '$lib/admin/insight';
import { expectOk } from '$lib/server/api';
import { countryName } from '$lib/server/countries';
import { staffApi } from '$lib/server/staff';
import { countryMap } from '$lib/server/world-map';
import type { PageServerLoad } from './$types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// One action's dashboard, refreshed by the page itself every 10 seconds in live mode
// (?live=1). Live mode is the staff member's choice, not the default: a page that reloads
// itself unasked disorients screen-reader users (WCAG 2.2.1, axe's meta-refresh rule).
export const load: PageServerLoad = async (event) => {
	if (!UUID.test(event.params.id)) error(404, { message: 'Not found', code: 'action_not_found' });
	const locale = event.locals.locale;
	const range = parseRange(event.url.searchParams.get('range'));
	const dashboard = expectOk(await staffApi(event).GET('/api/admin/dashboard/actions/{id}', { params: { path: { id: event.params.id }, query: { range, locale } } }));
	return {
		dashboard,
		live: event.url.searchParams.get('live') === '1',
		map: countryMap(dashboard.countries),
		names: Object.fromEntries(dashboard.countries.map((c) => [c.country, countryName(locale, c.country)]))
	};
};
