import { fail, redirect } from '@sveltejs/kit';
import { ACTION_STATUSES, type StaffActionList } from '$lib/admin/console-types';
import { staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const status = event.url.searchParams.get('status') ?? '';
	const filter = (ACTION_STATUSES as readonly string[]).includes(status) ? status : undefined;
	const list = await staffData<StaffActionList>(event, '/api/admin/actions', { query: { status: filter } });
	const confirm = event.url.searchParams.get('confirm');
	return { list, status: filter ?? '', confirm: confirm === 'pause-all' || confirm === 'resume-all' ? confirm : null };
};

// the global kill switch: the page asks for confirmation first (?confirm=...), then posts here
async function setAll(event: Parameters<Actions[string]>[0], paused: boolean) {
	const result = await staffApi(event, '/api/admin/signing', { method: 'PUT', body: { paused } });
	if (!result.ok) return fail(result.status, { error: result.body.message });
	redirect(303, `/admin/actions?switched=${paused ? 'paused' : 'resumed'}`);
}

export const actions: Actions = {
	pauseAll: (event) => setAll(event, true),
	resumeAll: (event) => setAll(event, false)
};
