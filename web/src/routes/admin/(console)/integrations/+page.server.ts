import { fail } from '@sveltejs/kit';
import type { ApiBody, ApiError } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, refusal, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

export const load: PageServerLoad = async (event) => {
	const staff = staffApi(event);
	const [{ keys }, { endpoints }, { deliveries }] = await Promise.all([
		staff.GET('/api/admin/api-keys').then(expectOk),
		staff.GET('/api/admin/webhooks').then(expectOk),
		staff.GET('/api/admin/webhooks/deliveries', { params: { query: { limit: 50 } } }).then(expectOk)
	]);
	return { keys, endpoints, deliveries };
};

/** The id a form names, as the API's path. */
async function idOf(event: { request: Request }) {
	return { path: { id: String((await event.request.formData()).get('id') ?? '') } };
}

/** A change's answer: what the page says once it is done, or the API's refusal. */
function changed<T>(event: RequestEvent, result: { error?: ApiError; response: Response }, done: T) {
	if (result.error) return fail(result.response.status, { error: refusal(event, result) });
	return done;
}

export const actions: Actions = {
	createKey: async (event) => {
		const form = await event.request.formData();
		const fields = formFields(form);
		const scopes = form.getAll('scopes').map(String);
		const name = fields.name ?? '';
		// scopes go as ticked: the API refuses one it does not know, by name
		const body = formBody<ApiBody<'/api/admin/api-keys', 'post'>>({ name, scopes, rateLimitPerMinute: Number(fields.rateLimitPerMinute || 600) });
		const result = await staffApi(event).POST('/api/admin/api-keys', { body });
		if (result.error) {
			const { errors, message } = formProblem(event, result, ['name', 'scopes', 'rateLimitPerMinute']);
			return fail(result.response.status, { error: message, keyErrors: errors, values: { name, scopes } });
		}
		// the only time the secret is on a page: this answer to this POST
		return { created: { name: result.data.key.name, secret: result.data.secret } };
	},
	revokeKey: async (event) => changed(event, await staffApi(event).POST('/api/admin/api-keys/{id}/revoke', { params: await idOf(event) }), { revoked: true }),
	createHook: async (event) => {
		const form = await event.request.formData();
		const fields = formFields(form);
		// events go as ticked: the API refuses one it does not know, by name
		const body = formBody<ApiBody<'/api/admin/webhooks', 'post'>>({ url: fields.url ?? '', description: fields.description ?? '', events: form.getAll('events').map(String) });
		const result = await staffApi(event).POST('/api/admin/webhooks', { body });
		if (result.error) {
			const { errors, message } = formProblem(event, result, ['url', 'description', 'events']);
			return fail(result.response.status, { error: message, hookErrors: errors });
		}
		return { hookCreated: { url: result.data.endpoint.url, secret: result.data.secret } };
	},
	disableHook: async (event) => changed(event, await staffApi(event).POST('/api/admin/webhooks/{id}/disable', { params: await idOf(event) }), { hookDisabled: true }),
	replay: async (event) => changed(event, await staffApi(event).POST('/api/admin/webhooks/deliveries/{id}/replay', { params: await idOf(event) }), { replayed: true })
};
