import { fail, redirect } from '@sveltejs/kit';
import type { ApiError } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formFields, issuesByField, refusal, staffApi } from '$lib/server/staff';
import { targetBody } from '$lib/server/target-form';
import type { Actions, PageServerLoad } from './$types';

/** the outcomes a redirect may announce (?done=...) */
const DONE = ['created', 'saved', 'disabled', 'enabled'] as const;

export const load: PageServerLoad = async (event) => {
	const target = expectOk(await staffApi(event).GET('/api/admin/targets/{id}', { params: { path: { id: event.params.id } } }));
	return { target, done: DONE.find((d) => d === event.url.searchParams.get('done')) ?? null };
};

const target = (event: { params: { id: string } }) => ({ path: { id: event.params.id } });

/** After a switch: back to the target, saying what was done; or the API's refusal on the page. */
function switched(event: { params: { id: string }; locals: App.Locals }, result: { error?: ApiError; response: Response }, done: 'disabled' | 'enabled') {
	if (result.error) return fail(result.response.status, { values: {}, errors: {}, message: refusal(event, result) });
	redirect(303, `/admin/targets/${event.params.id}?done=${done}`);
}

export const actions: Actions = {
	save: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi(event).PUT('/api/admin/targets/{id}', { params: target(event), body: targetBody(values) });
		if (result.error) return fail(result.response.status === 409 ? 409 : 422, { values, errors: issuesByField(result.error, event.locals.locale, ['name', 'title', 'organisation', 'email', 'salutation', 'kind', 'country', 'language', 'timezone', 'officeHours', 'lastVerifiedAt', 'notes']), message: refusal(event, result) });
		redirect(303, `/admin/targets/${event.params.id}?done=saved`);
	},
	disable: async (event) => switched(event, await staffApi(event).POST('/api/admin/targets/{id}/disable', { params: target(event) }), 'disabled'),
	enable: async (event) => switched(event, await staffApi(event).POST('/api/admin/targets/{id}/enable', { params: target(event) }), 'enabled')
};
