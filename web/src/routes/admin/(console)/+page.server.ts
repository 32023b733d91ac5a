import { parseRange } from '$lib/admin/insight';
import { expectOk } from '$lib/server/api';
import { countryName } from '$lib/server/countries';
import { staffApi } from '$lib/server/staff';
import { countryMap } from '$lib/server/world-map';
import type { PageServerLoad } from './$types';

// The overview: every action's figures, refreshed by the page itself every 10 seconds in live mode
// (?live=1). Live mode is the staff member's choice, not the default: a page that reloads
// itself unasked disorients screen-reader users (WCAG 2.2.1, axe's meta-refresh rule).
export const load: PageServerLoad = async (event) => {
	const locale = event.locals.locale;
	const range = parseRange(event.url.searchParams.get('range'));
	const dashboard = expectOk(await staffApi(event).GET('/api/admin/dashboard', { params: { query: { range, locale } } }));
	return {
		dashboard,
		live: event.url.searchParams.get('live') === '1',
		map: countryMap(dashboard.countries),
		names: Object.fromEntries(dashboard.countries.map((c) => [c.country, countryName(locale, c.country)]))
	};
};
