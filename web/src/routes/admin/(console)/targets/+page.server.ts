import { fail } from '@sveltejs/kit';
import type { StaffTarget } from '$lib/admin/console-types';
import { staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

const FILTERS = ['q', 'country', 'kind', 'language', 'status'] as const;
const PAGE_SIZE = 200;

export const load: PageServerLoad = async (event) => {
	const filters = Object.fromEntries(FILTERS.map((f) => [f, event.url.searchParams.get(f)?.trim() ?? ''])) as Record<(typeof FILTERS)[number], string>;
	const offset = Math.max(0, Math.min(1_000_000, Number.parseInt(event.url.searchParams.get('offset') ?? '0', 10) || 0));
	const result = await staffApi<{ targets: StaffTarget[]; total: number }>(event, '/api/admin/targets', {
		query: { ...Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, v || undefined])), limit: String(PAGE_SIZE), offset: String(offset) }
	});
	// a filter the API refuses (a malformed country code...) shows its message above an empty list
	return result.ok
		? { filters, offset, pageSize: PAGE_SIZE, targets: result.data.targets, total: result.data.total, filterError: null }
		: { filters, offset, pageSize: PAGE_SIZE, targets: [] as StaffTarget[], total: 0, filterError: result.body.message };
};

export const actions: Actions = {
	import: async (event) => {
		const form = await event.request.formData();
		const file = form.get('file');
		if (!(file instanceof File) || file.size === 0) return fail(422, { importError: 'empty' as const });
		if (file.size > 250_000) return fail(413, { importError: 'too_large' as const });
		const csv = await file.text();
		const result = await staffApi<{ created: number; updated: number; unchanged: number }>(event, '/api/admin/targets/import', {
			method: 'POST',
			body: { csv }
		});
		if (!result.ok) return fail(422, { importIssues: result.body.issues ?? [{ path: 'file', message: result.body.message }], importMessage: result.body.message });
		return { imported: result.data };
	}
};
