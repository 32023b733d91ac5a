import { fail, redirect } from '@sveltejs/kit';
import { ActionStatus } from '$shared/enums';
import { expectOk } from '$lib/server/api';
import { refusal, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const status = event.url.searchParams.get('status') ?? '';
	const filter = Object.values(ActionStatus).find((s) => s === status);
	const list = expectOk(await staffApi(event).GET('/api/admin/actions', { params: { query: { status: filter } } }));
	const confirm = event.url.searchParams.get('confirm');
	return { list, status: filter ?? '', confirm: confirm === 'pause-all' || confirm === 'resume-all' ? confirm : null };
};

// the global kill switch: the page asks for confirmation first (?confirm=...), then posts here
async function setAll(event: Parameters<Actions[string]>[0], paused: boolean) {
	const result = await staffApi(event).PUT('/api/admin/signing', { body: { paused } });
	if (result.error) return fail(result.response.status, { error: refusal(event, result) });
	redirect(303, `/admin/actions?switched=${paused ? 'paused' : 'resumed'}`);
}

export const actions: Actions = {
	pauseAll: (event) => setAll(event, true),
	resumeAll: (event) => setAll(event, false)
};
