import { fail, redirect } from '@sveltejs/kit';
import type { StaffActionDetail } from '$lib/admin/console-types';
import { numberField, parseMilestones } from '$lib/admin/forms';
import { formFields, issuesByField, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

const CONFIRMABLE = ['publish', 'close', 'archive', 'reopen', 'pause', 'resume'] as const;
type Confirmable = (typeof CONFIRMABLE)[number];
/** the outcomes a redirect may announce (?done=...) */
const DONE = ['saved', 'published', 'closed', 'archived', 'paused', 'resumed', 'removed', 'targets'] as const;

export const load: PageServerLoad = async (event) => {
	const action = await staffData<StaffActionDetail>(event, `/api/admin/actions/${encodeURIComponent(event.params.id)}`);
	const confirm = event.url.searchParams.get('confirm');
	return {
		action,
		confirm: (CONFIRMABLE as readonly string[]).includes(confirm ?? '') ? (confirm as Confirmable) : null,
		done: DONE.find((d) => d === event.url.searchParams.get('done')) ?? null
	};
};

const base = (id: string) => `/api/admin/actions/${encodeURIComponent(id)}`;

async function post(event: Parameters<Actions[string]>[0], path: string, done: string, body?: unknown) {
	const result = await staffApi<StaffActionDetail>(event, `${base(event.params.id!)}${path}`, { method: 'POST', body });
	if (!result.ok) return fail(result.status, { error: result.body.message, issues: result.body.issues ?? [] });
	redirect(303, `/admin/actions/${event.params.id}?done=${done}`);
}

export const actions: Actions = {
	publish: (event) => post(event, '/publish', 'published'),
	close: (event) => post(event, '/close', 'closed'),
	archive: (event) => post(event, '/archive', 'archived'),
	pause: (event) => post(event, '/signing', 'paused', { enabled: false }),
	resume: (event) => post(event, '/signing', 'resumed', { enabled: true }),
	settings: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi<StaffActionDetail>(event, base(event.params.id!), {
			method: 'PATCH',
			body: {
				goal: numberField(values.goal),
				milestones: parseMilestones(values.milestones ?? ''),
				targetMode: values.targetMode,
				allowPersonalisation: values.allowPersonalisation === 'on',
				maxLetterLength: numberField(values.maxLetterLength),
				replyTo: values.replyTo ?? ''
			}
		});
		if (!result.ok) return fail(422, { settingsErrors: issuesByField(result.body), values });
		redirect(303, `/admin/actions/${event.params.id}?done=saved`);
	}
};
