import { fail } from '@sveltejs/kit';
import type { ApiData, ApiQuery } from '$lib/api/types';
import { formBody, formProblem, refusal, staffApi } from '$lib/server/staff';
import { issueMessage, pathLabel } from '$lib/admin/problems';
import type { Actions, PageServerLoad } from './$types';

const FILTERS = ['q', 'country', 'kind', 'language', 'status'] as const;
const PAGE_SIZE = 200;

export const load: PageServerLoad = async (event) => {
	const filters = Object.fromEntries(FILTERS.map((f) => [f, event.url.searchParams.get(f)?.trim() ?? ''])) as Record<(typeof FILTERS)[number], string>;
	const offset = Math.max(0, Math.min(1_000_000, Number.parseInt(event.url.searchParams.get('offset') ?? '0', 10) || 0));
	// the filters go as typed: the API refuses a kind or a country code it does not know, by name
	const query = formBody<ApiQuery<'/api/admin/targets'>>({
		...Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, v || undefined])),
		limit: PAGE_SIZE,
		offset
	});
	const result = await staffApi(event).GET('/api/admin/targets', { params: { query } });
	// a filter the API refuses (a malformed country code...) shows its message above an empty list
	return result.error
		? { filters, offset, pageSize: PAGE_SIZE, targets: [] as ApiData<'/api/admin/targets'>['targets'], total: 0, filterError: Object.values(formProblem(event, result, [...FILTERS]).errors)[0] ?? refusal(event, result) }
		: { filters, offset, pageSize: PAGE_SIZE, targets: result.data.targets, total: result.data.total, filterError: null };
};

export const actions: Actions = {
	import: async (event) => {
		const form = await event.request.formData();
		const file = form.get('file');
		if (!(file instanceof File) || file.size === 0) return fail(422, { importError: 'empty' as const });
		if (file.size > 250_000) return fail(413, { importError: 'too_large' as const });
		const csv = await file.text();
		const result = await staffApi(event).POST('/api/admin/targets/import', { body: { csv } });
		if (result.error) {
			const locale = event.locals.locale;
			const issues = (result.error.issues ?? []).map((i) => ({ path: pathLabel(locale, i.path), message: issueMessage(locale, i, /^line \d+: (.+)$/.exec(i.path)?.[1] ?? i.path) }));
			return fail(422, { importIssues: issues.length ? issues : [{ path: pathLabel(locale, 'file'), message: refusal(event, result) }], importMessage: refusal(event, result) });
		}
		return { imported: result.data };
	}
};
