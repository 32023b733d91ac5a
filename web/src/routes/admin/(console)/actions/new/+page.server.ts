import { fail, redirect } from '@sveltejs/kit';
import type { StaffActionDetail, StaffActionList } from '$lib/admin/console-types';
import { formFields, issuesByField, staffApi, staffData } from '$lib/server/staff';
import { parseMilestones } from '$lib/admin/forms';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const { campaigns } = await staffData<StaffActionList>(event, '/api/admin/actions', { query: { status: 'ARCHIVED' } });
	return { campaigns };
};

export const actions: Actions = {
	default: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi<StaffActionDetail>(event, '/api/admin/actions', {
			method: 'POST',
			body: {
				slug: values.slug ?? '',
				campaign: values.campaign ?? '',
				kind: values.kind ?? '',
				defaultLocale: values.defaultLocale || 'en',
				goal: values.goal || '1000',
				milestones: parseMilestones(values.milestones ?? ''),
				title: values.title ?? '',
				summary: values.summary ?? ''
			}
		});
		if (!result.ok) return fail(result.status === 409 ? 409 : 422, { values, errors: issuesByField(result.body), message: result.body.message });
		redirect(303, `/admin/actions/${result.data.id}?created=1`);
	}
};
