import { fail } from '@sveltejs/kit';
import { formFields, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export interface StaffAccount {
	id: string;
	email: string;
	name: string;
	role: 'ADMIN' | 'CAMPAIGNER' | 'VIEWER';
	totpEnabled: boolean;
	disabled: boolean;
	lastLoginAt: string | null;
	createdAt: string;
}

export const load: PageServerLoad = async (event) => {
	const { users } = await staffData<{ users: StaffAccount[] }>(event, '/api/staff/users');
	return { users };
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The API's 4xx answer as the form's error list (field → message). */
function problems(body: { message: string; issues?: { path: string; message: string }[] }) {
	return body.issues?.length ? body.issues.map((i) => i.message) : [body.message];
}

export const actions: Actions = {
	create: async (event) => {
		const fields = formFields(await event.request.formData());
		const body = { email: fields.email ?? '', name: fields.name ?? '', role: fields.role ?? '', password: fields.password ?? '' };
		const result = await staffApi<{ user: StaffAccount }>(event, '/api/staff/users', { method: 'POST', body });
		if (!result.ok) return fail(result.status, { create: { email: body.email, name: body.name, role: body.role, errors: problems(result.body) } });
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
	const result = await staffApi(event, `/api/staff/users/${id}/${verb}`, {
		method: 'POST',
		body: verb === 'reset-password' ? { password: fields.password ?? '' } : undefined
	});
	if (!result.ok) return fail(result.status, { accountId: id, errors: problems(result.body) });
	return { updated: id };
}
