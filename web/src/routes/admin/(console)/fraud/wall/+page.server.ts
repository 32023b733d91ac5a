import { fail } from '@sveltejs/kit';
import { expectOk } from '$lib/server/api';
import { countryName } from '$lib/server/countries';
import { formFields, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Moderation of an action's public wall: who is on it, and hide or show an entry.
export const load: PageServerLoad = async (event) => {
	const locale = event.locals.locale;
	const staff = staffApi(event);
	const { actions } = expectOk(await staff.GET('/api/admin/dashboard', { params: { query: { range: 'day', locale } } }));
	const actionId = event.url.searchParams.get('actionId') ?? '';
	if (!UUID.test(actionId)) return { actions, actionId: '', entries: null, names: {} };
	const { entries } = expectOk(await staff.GET('/api/admin/fraud/wall', { params: { query: { actionId } } }));
	return { actions, actionId, entries, names: Object.fromEntries(entries.map((e) => [e.country, countryName(locale, e.country)])) };
};

async function moderate(event: Parameters<Actions[string]>[0], verb: 'hide' | 'show') {
	const { signatureId } = formFields(await event.request.formData());
	if (!signatureId || !UUID.test(signatureId)) return fail(422, { failed: true });
	const params = { path: { signatureId } };
	const result = verb === 'hide' ? await staffApi(event).POST('/api/admin/fraud/wall/{signatureId}/hide', { params }) : await staffApi(event).POST('/api/admin/fraud/wall/{signatureId}/show', { params });
	if (result.error) return fail(result.response.status, { failed: true });
	return { moderated: { name: result.data.firstName, hidden: result.data.hiddenAt !== null } };
}

export const actions: Actions = {
	hide: (event) => moderate(event, 'hide'),
	show: (event) => moderate(event, 'show')
};
