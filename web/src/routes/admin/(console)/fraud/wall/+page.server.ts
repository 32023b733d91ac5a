import { fail } from '@sveltejs/kit';
import type { OverallDashboard, WallEntry } from '$lib/admin/insight';
import { countryName } from '$lib/server/countries';
import { formFields, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Moderation of an action's public wall: who is on it, and hide or show an entry.
export const load: PageServerLoad = async (event) => {
	const locale = event.locals.locale;
	const actions = (await staffData<OverallDashboard>(event, '/api/admin/dashboard', { query: { range: 'day', locale } })).actions;
	const actionId = event.url.searchParams.get('actionId') ?? '';
	if (!UUID.test(actionId)) return { actions, actionId: '', entries: null, names: {} };
	const { entries } = await staffData<{ entries: WallEntry[] }>(event, '/api/admin/fraud/wall', { query: { actionId } });
	return { actions, actionId, entries, names: Object.fromEntries(entries.map((e) => [e.country, countryName(locale, e.country)])) };
};

async function moderate(event: Parameters<Actions[string]>[0], verb: 'hide' | 'show') {
	const { signatureId } = formFields(await event.request.formData());
	if (!signatureId || !UUID.test(signatureId)) return fail(422, { failed: true });
	const result = await staffApi<WallEntry>(event, `/api/admin/fraud/wall/${signatureId}/${verb}`, { method: 'POST' });
	if (!result.ok) return fail(result.status, { failed: true });
	return { moderated: { name: result.data.firstName, hidden: result.data.hiddenAt !== null } };
}

export const actions: Actions = {
	hide: (event) => moderate(event, 'hide'),
	show: (event) => moderate(event, 'show')
};
