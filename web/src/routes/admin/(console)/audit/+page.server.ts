import type { ApiData, ApiQuery } from '$lib/api/types';
import { formProblem, staffApi } from '$lib/server/staff';
import { pathLabel } from '$lib/admin/problems';
import { adminT } from '$lib/i18n/admin/dict';
import { shell } from '$lib/i18n/admin/shell';
import type { Locale } from '$shared/locales';
import type { PageServerLoad } from './$types';

const FILTERS = ['entity', 'staff', 'from', 'to', 'before'] as const;

/** a refused filter as lines: each field with what is wrong with it, or the error's sentence */
function problemList(locale: Locale, problem: { errors: Record<string, string>; message: string }): string[] {
	const t = adminT(shell, locale);
	const labels: Record<string, string> = { entity: t('audit_filter_entity'), staff: t('audit_filter_staff'), from: t('audit_filter_from'), to: t('audit_filter_to') };
	const lines = Object.entries(problem.errors).map(([field, text]) => `${labels[field] ?? pathLabel(locale, field)}: ${text}`);
	return lines.length ? lines : [problem.message];
}

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
			problems: problemList(event.locals.locale, formProblem(event, result, [...FILTERS]))
		};
	}
	return { filter, ...result.data, problems: [] as string[] };
};
