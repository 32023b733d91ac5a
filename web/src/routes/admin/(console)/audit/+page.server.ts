import type { ApiData, ApiQuery } from '$lib/api/types';
import { staffApi } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

const FILTERS = ['entity', 'staff', 'from', 'to', 'before'] as const;

export const load: PageServerLoad = async (event) => {
	const filter: Record<string, string> = {};
	const query: ApiQuery<'/api/admin/audit'> = {};
	for (const name of FILTERS) {
		const value = event.url.searchParams.get(name)?.trim();
		// as typed: the API refuses a date that is not one, by name
		if (value) filter[name] = query[name] = value;
	}
	const staff = staffApi(event);
	const result = await staff.GET('/api/admin/audit', { params: { query } });
	if (result.error) {
		// a bad filter (a date that is not one) shows the error and an empty list, not an error page
		const fallback = await staff.GET('/api/admin/audit', { params: { query: { limit: 1 } } });
		return {
			filter,
			entries: [] as ApiData<'/api/admin/audit'>['entries'],
			nextCursor: null,
			entities: fallback.data?.entities ?? [],
			problems: result.error.issues?.map((i) => i.message) ?? [result.error.message]
		};
	}
	return { filter, ...result.data, problems: [] as string[] };
};
