import { fail, redirect } from '@sveltejs/kit';
import type { StaffActionDetail, StaffTarget } from '$lib/admin/console-types';
import { issuesByField, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const action = await staffData<StaffActionDetail>(event, `/api/admin/actions/${encodeURIComponent(event.params.id)}`);
	const q = event.url.searchParams.get('q') ?? '';
	const country = event.url.searchParams.get('country') ?? '';
	const search = q || country;
	const found = search
		? await staffApi<{ targets: StaffTarget[]; total: number }>(event, '/api/admin/targets', {
				query: { q: q || undefined, country: country || undefined, limit: '50' }
			})
		: null;
	const chosen = new Set(action.targets.map((t) => t.id));
	return {
		action,
		q,
		country,
		searched: Boolean(search),
		results: found?.ok ? found.data.targets.filter((t) => !chosen.has(t.id)) : [],
		searchError: found && !found.ok ? found.body.message : null
	};
};

export const actions: Actions = {
	default: async (event) => {
		const form = await event.request.formData();
		// the chosen targets in the order they are listed: the current ones first, then the new
		const targetIds = [...new Set(form.getAll('targetId').filter((v): v is string => typeof v === 'string'))];
		const result = await staffApi<StaffActionDetail>(event, `/api/admin/actions/${encodeURIComponent(event.params.id)}/targets`, {
			method: 'PUT',
			body: { targetIds }
		});
		if (!result.ok) return fail(result.status === 409 ? 409 : 422, { errors: issuesByField(result.body), message: result.body.message });
		redirect(303, `/admin/actions/${event.params.id}?done=targets`);
	}
};
