import { fail, redirect } from '@sveltejs/kit';
import { formFields, issuesByField, refusal, staffApi } from '$lib/server/staff';
import { targetBody } from '$lib/server/target-form';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async () => ({});

export const actions: Actions = {
	save: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi(event).POST('/api/admin/targets', { body: targetBody(values) });
		if (result.error) return fail(result.response.status === 409 ? 409 : 422, { values, errors: issuesByField(result.error, event.locals.locale, ['name', 'title', 'organisation', 'email', 'salutation', 'kind', 'country', 'language', 'timezone', 'officeHours', 'lastVerifiedAt', 'notes']), message: refusal(event, result) });
		redirect(303, `/admin/targets/${result.data.id}?done=created`);
	}
};
