import { error, fail, redirect } from '@sveltejs/kit';
import { isLocale } from '$shared/locales';
import type { ApiBody } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formFields, issuesByField, refusal, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const locale = event.params.locale;
	if (!isLocale(locale)) error(404, { message: 'Not found', code: 'not_found' });
	const action = expectOk(await staffApi(event).GET('/api/admin/actions/{id}', { params: { path: { id: event.params.id } } }));
	return { action, editLocale: locale };
};

/** The action and the language of the text, as the API's path; an unknown language is not a page. */
function textPath(event: { params: { id: string; locale: string } }) {
	const { id, locale } = event.params;
	if (!isLocale(locale)) error(404, { message: 'Not found', code: 'not_found' });
	return { path: { id, locale } };
}

export const actions: Actions = {
	save: async (event) => {
		const values = formFields(await event.request.formData());
		const text = (field: string) => values[field] ?? '';
		const body: ApiBody<'/api/admin/actions/{id}/texts/{locale}', 'put'> = {
			title: text('title'),
			summary: text('summary'),
			body: text('body'),
			letterSubject: text('letterSubject'),
			officialRequest: text('officialRequest'),
			shareText: text('shareText')
		};
		const result = await staffApi(event).PUT('/api/admin/actions/{id}/texts/{locale}', { params: textPath(event), body });
		if (result.error) return fail(result.response.status === 409 ? 409 : 422, { values, errors: issuesByField(result.error, event.locals.locale, ['title', 'summary', 'body', 'letterSubject', 'officialRequest', 'shareText']), message: refusal(event, result) });
		redirect(303, `/admin/actions/${event.params.id}?done=saved`);
	},
	remove: async (event) => {
		const result = await staffApi(event).DELETE('/api/admin/actions/{id}/texts/{locale}', { params: textPath(event) });
		if (result.error) return fail(result.response.status, { values: {}, errors: {}, message: refusal(event, result) });
		redirect(303, `/admin/actions/${event.params.id}?done=removed`);
	}
};
