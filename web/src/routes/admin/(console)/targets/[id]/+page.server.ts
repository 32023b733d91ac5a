import { fail, redirect } from '@sveltejs/kit';
import type { StaffTarget } from '$lib/admin/console-types';
import { formFields, issuesByField, staffApi, staffData } from '$lib/server/staff';
import { targetBody } from '$lib/server/target-form';
import type { Actions, PageServerLoad } from './$types';

/** the outcomes a redirect may announce (?done=...) */
const DONE = ['created', 'saved', 'disabled', 'enabled'] as const;

export const load: PageServerLoad = async (event) => {
	const target = await staffData<StaffTarget>(event, `/api/admin/targets/${encodeURIComponent(event.params.id)}`);
	return { target, done: DONE.find((d) => d === event.url.searchParams.get('done')) ?? null };
};

const path = (id: string) => `/api/admin/targets/${encodeURIComponent(id)}`;

export const actions: Actions = {
	save: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi<StaffTarget>(event, path(event.params.id!), { method: 'PUT', body: targetBody(values) });
		if (!result.ok) return fail(result.status === 409 ? 409 : 422, { values, errors: issuesByField(result.body), message: result.body.message });
		redirect(303, `/admin/targets/${event.params.id}?done=saved`);
	},
	disable: async (event) => {
		const result = await staffApi(event, `${path(event.params.id!)}/disable`, { method: 'POST' });
		if (!result.ok) return fail(result.status, { values: {}, errors: {}, message: result.body.message });
		redirect(303, `/admin/targets/${event.params.id}?done=disabled`);
	},
	enable: async (event) => {
		const result = await staffApi(event, `${path(event.params.id!)}/enable`, { method: 'POST' });
		if (!result.ok) return fail(result.status, { values: {}, errors: {}, message: result.body.message });
		redirect(303, `/admin/targets/${event.params.id}?done=enabled`);
	}
};
