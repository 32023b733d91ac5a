import { error, fail, redirect } from '@sveltejs/kit';
import { CONSOLE_LOCALES, type StaffActionDetail } from '$lib/admin/console-types';
import { formFields, issuesByField, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const locale = event.params.locale;
	if (!(CONSOLE_LOCALES as readonly string[]).includes(locale)) error(404, { message: 'Not found', code: 'not_found' });
	const action = await staffData<StaffActionDetail>(event, `/api/admin/actions/${encodeURIComponent(event.params.id)}`);
	return { action, editLocale: locale };
};

const TEXT_FIELDS = ['title', 'summary', 'body', 'letterSubject', 'letterBody', 'shareText'] as const;

export const actions: Actions = {
	save: async (event) => {
		const values = formFields(await event.request.formData());
		const body = Object.fromEntries(TEXT_FIELDS.map((f) => [f, values[f] ?? '']));
		const result = await staffApi<StaffActionDetail>(
			event,
			`/api/admin/actions/${encodeURIComponent(event.params.id)}/texts/${encodeURIComponent(event.params.locale)}`,
			{ method: 'PUT', body }
		);
		if (!result.ok) return fail(result.status === 409 ? 409 : 422, { values, errors: issuesByField(result.body), message: result.body.message });
		redirect(303, `/admin/actions/${event.params.id}?done=saved`);
	},
	remove: async (event) => {
		const result = await staffApi(event, `/api/admin/actions/${encodeURIComponent(event.params.id)}/texts/${encodeURIComponent(event.params.locale)}`, {
			method: 'DELETE'
		});
		if (!result.ok) return fail(result.status, { values: {}, errors: {}, message: result.body.message });
		redirect(303, `/admin/actions/${event.params.id}?done=removed`);
	}
};
