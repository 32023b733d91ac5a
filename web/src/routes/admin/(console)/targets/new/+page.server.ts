import { fail, redirect } from '@sveltejs/kit';
import type { StaffTarget } from '$lib/admin/console-types';
import { formFields, issuesByField, staffApi } from '$lib/server/staff';
import { targetBody } from '$lib/server/target-form';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async () => ({});

export const actions: Actions = {
	save: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi<StaffTarget>(event, '/api/admin/targets', { method: 'POST', body: targetBody(values) });
		if (!result.ok) return fail(result.status === 409 ? 409 : 422, { values, errors: issuesByField(result.body), message: result.body.message });
		redirect(303, `/admin/targets/${result.data.id}?done=created`);
	}
};
