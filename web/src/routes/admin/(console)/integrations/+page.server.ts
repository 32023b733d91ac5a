import { fail } from '@sveltejs/kit';
import { formFields, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export interface ApiKeyRow {
	id: string;
	name: string;
	prefix: string;
	scopes: string[];
	rateLimitPerMinute: number;
	createdAt: string;
	createdBy: string | null;
	lastUsedAt: string | null;
	revokedAt: string | null;
}

export interface EndpointRow {
	id: string;
	url: string;
	description: string;
	events: string[];
	createdAt: string;
	disabledAt: string | null;
}

export interface DeliveryRow {
	id: string;
	event: string;
	url: string;
	status: string;
	attempts: number;
	lastStatus: number | null;
	lastError: string | null;
	createdAt: string;
}

export const load: PageServerLoad = async (event) => {
	const [{ keys }, { endpoints }, { deliveries }] = await Promise.all([
		staffData<{ keys: ApiKeyRow[] }>(event, '/api/admin/api-keys'),
		staffData<{ endpoints: EndpointRow[] }>(event, '/api/admin/webhooks'),
		staffData<{ deliveries: DeliveryRow[] }>(event, '/api/admin/webhooks/deliveries?limit=50')
	]);
	return { keys, endpoints, deliveries };
};

export const actions: Actions = {
	createKey: async (event) => {
		const form = await event.request.formData();
		const fields = formFields(form);
		const scopes = form.getAll('scopes').map(String);
		const body = { name: fields.name ?? '', scopes, rateLimitPerMinute: Number(fields.rateLimitPerMinute || 600) };
		const result = await staffApi<{ key: ApiKeyRow; secret: string }>(event, '/api/admin/api-keys', { method: 'POST', body });
		if (!result.ok) return fail(result.status, { error: result.body.message, values: { name: body.name, scopes } });
		// the only time the secret is on a page: this answer to this POST
		return { created: { name: result.data.key.name, secret: result.data.secret } };
	},
	revokeKey: async (event) => {
		const id = String((await event.request.formData()).get('id') ?? '');
		const result = await staffApi(event, `/api/admin/api-keys/${encodeURIComponent(id)}/revoke`, { method: 'POST' });
		if (!result.ok) return fail(result.status, { error: result.body.message });
		return { revoked: true };
	},
	createHook: async (event) => {
		const form = await event.request.formData();
		const fields = formFields(form);
		const body = { url: fields.url ?? '', description: fields.description ?? '', events: form.getAll('events').map(String) };
		const result = await staffApi<{ endpoint: EndpointRow; secret: string }>(event, '/api/admin/webhooks', { method: 'POST', body });
		if (!result.ok) return fail(result.status, { error: result.body.message });
		return { hookCreated: { url: result.data.endpoint.url, secret: result.data.secret } };
	},
	disableHook: async (event) => {
		const id = String((await event.request.formData()).get('id') ?? '');
		const result = await staffApi(event, `/api/admin/webhooks/${encodeURIComponent(id)}/disable`, { method: 'POST' });
		if (!result.ok) return fail(result.status, { error: result.body.message });
		return { hookDisabled: true };
	},
	replay: async (event) => {
		const id = String((await event.request.formData()).get('id') ?? '');
		const result = await staffApi(event, `/api/admin/webhooks/deliveries/${encodeURIComponent(id)}/replay`, { method: 'POST' });
		if (!result.ok) return fail(result.status, { error: result.body.message });
		return { replayed: true };
	}
};
