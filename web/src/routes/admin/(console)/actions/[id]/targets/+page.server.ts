import { fail, redirect } from '@sveltejs/kit';
import { expectOk } from '$lib/server/api';
import { formProblem, issuesByField, refusal, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const staff = staffApi(event);
	const action = expectOk(await staff.GET('/api/admin/actions/{id}', { params: { path: { id: event.params.id } } }));
	const q = event.url.searchParams.get('q') ?? '';
	const country = event.url.searchParams.get('country') ?? '';
	const search = q || country;
	const found = search
		? await staff.GET('/api/admin/targets', { params: { query: { q: q || undefined, country: country || undefined, limit: 50 } } })
		: null;
	const chosen = new Set(action.targets.map((t) => t.id));
	return {
		action,
		q,
		country,
		searched: Boolean(search),
		results: found?.data ? found.data.targets.filter((t) => !chosen.has(t.id)) : [],
		searchError: found?.error ? (Object.values(formProblem(event, found, ['q', 'country']).errors)[0] ?? refusal(event, found)) : null
	};
};

export const actions: Actions = {
	default: async (event) => {
		const form = await event.request.formData();
		// the chosen targets in the order they are listed: the current ones first, then the new
		const targetIds = [...new Set(form.getAll('targetId').filter((v): v is string => typeof v === 'string'))];
		const result = await staffApi(event).PUT('/api/admin/actions/{id}/targets', { params: { path: { id: event.params.id } }, body: { targetIds } });
		if (result.error) return fail(result.response.status === 409 ? 409 : 422, { errors: issuesByField(result.error, event.locals.locale, ['targetIds']), message: refusal(event, result) });
		redirect(303, `/admin/actions/${event.params.id}?done=targets`);
	}
};
