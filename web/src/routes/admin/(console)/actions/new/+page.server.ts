import { fail, redirect } from '@sveltejs/kit';
import { ActionStatus } from '$shared/enums';
import type { ApiBody } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, staffApi } from '$lib/server/staff';
import { parseMilestones } from '$lib/admin/forms';
import type { Actions, PageServerLoad } from './$types';

/** The form's fields in the order it shows them (its errors are listed in that order). */
const NEW_ACTION_FIELDS = ['title', 'slug', 'campaign', 'kind', 'defaultLocale', 'goal', 'milestones', 'summary'];

export const load: PageServerLoad = async (event) => {
	const { campaigns } = expectOk(await staffApi(event).GET('/api/admin/actions', { params: { query: { status: ActionStatus.ARCHIVED } } }));
	return { campaigns };
};

export const actions: Actions = {
	default: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi(event).POST('/api/admin/actions', {
			body: formBody<ApiBody<'/api/admin/actions', 'post'>>({
				slug: values.slug ?? '',
				campaign: values.campaign ?? '',
				kind: values.kind ?? '',
				defaultLocale: values.defaultLocale || 'en',
				goal: values.goal || '1000',
				milestones: parseMilestones(values.milestones ?? ''),
				title: values.title ?? '',
				summary: values.summary ?? ''
			})
		});
		if (result.error) {
			const { errors, message } = formProblem(event, result, NEW_ACTION_FIELDS);
			// a taken web address is the slug field's problem
			if (result.error.code === 'slug_taken') errors.slug = message;
			return fail(result.response.status === 409 ? 409 : 422, { values, errors, message });
		}
		redirect(303, `/admin/actions/${result.data.id}?created=1`);
	}
};
