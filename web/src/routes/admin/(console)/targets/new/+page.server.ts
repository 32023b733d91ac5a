import { fail, redirect } from '@sveltejs/kit';
import { formFields, issuesByField, staffApi } from '$lib/server/staff';
import { targetBody } from '$lib/server/target-form';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async () => ({});

export const actions: Actions = {
	save: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi(event).POST('/api/admin/targets', { body: targetBody(values) });
		if (result.error) return fail(result.response.status === 409 ? 409 : 422, { values, errors: issuesByField(result.error), message: result.error.message });
		redirect(303, `/admin/targets/${result.data.id}?done=created`);
	}
};
