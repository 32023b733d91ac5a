import { fail } from '@sveltejs/kit';
import type { ApiBody, ApiError } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

export const load: PageServerLoad = async (event) => {
	const { users } = expectOk(await staffApi(event).GET('/api/staff/users'));
	return { users };
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The API's 4xx answer as the form's error list, in the form's order and the reader's language. */
function problems(event: RequestEvent, result: { error?: ApiError; response: Response }) {
	const { errors, message } = formProblem(event, result, ['name', 'email', 'role', 'password']);
	const listed = Object.values(errors);
	return listed.length ? listed : [message];
}

export const actions: Actions = {
	create: async (event) => {
		const fields = formFields(await event.request.formData());
		const body = { email: fields.email ?? '', name: fields.name ?? '', role: fields.role ?? '', password: fields.password ?? '' };
		// a role that is not one goes as chosen: the API refuses it by name
		const result = await staffApi(event).POST('/api/staff/users', { body: formBody<ApiBody<'/api/staff/users', 'post'>>(body) });
		if (result.error) return fail(result.response.status, { create: { email: body.email, name: body.name, role: body.role, errors: problems(event, result) } });
		return { created: result.data.user.email };
	},
	disable: async (event) => account(event, 'disable'),
	enable: async (event) => account(event, 'enable'),
	reset: async (event) => account(event, 'reset-password')
};

async function account(event: Parameters<Actions[string]>[0], verb: 'disable' | 'enable' | 'reset-password') {
	const fields = formFields(await event.request.formData());
	const id = fields.id ?? '';
	if (!UUID.test(id)) return fail(422, { accountId: id, errors: ['Unknown account'] });
	const staff = staffApi(event);
	const params = { path: { id } };
	const result =
		verb === 'reset-password'
			? await staff.POST('/api/staff/users/{id}/reset-password', { params, body: { password: fields.password ?? '' } })
			: verb === 'disable'
				? await staff.POST('/api/staff/users/{id}/disable', { params })
				: await staff.POST('/api/staff/users/{id}/enable', { params });
	if (result.error) return fail(result.response.status, { accountId: id, errors: problems(event, result) });
	return { updated: id };
}
