import { fail, redirect } from '@sveltejs/kit';
import type { ApiBody, ApiError } from '$lib/api/types';
import { numberField, parseMilestones } from '$lib/admin/forms';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, refusal, staffApi } from '$lib/server/staff';
import { issueMessage } from '$lib/admin/problems';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

const CONFIRMABLE = ['publish', 'close', 'archive', 'reopen', 'pause', 'resume'] as const;
type Confirmable = (typeof CONFIRMABLE)[number];
/** the outcomes a redirect may announce (?done=...) */
const DONE = ['created', 'saved', 'published', 'closed', 'archived', 'paused', 'resumed', 'removed', 'targets'] as const;

export const load: PageServerLoad = async (event) => {
	const action = expectOk(await staffApi(event).GET('/api/admin/actions/{id}', { params: { path: { id: event.params.id } } }));
	const confirm = event.url.searchParams.get('confirm');
	return {
		action,
		confirm: (CONFIRMABLE as readonly string[]).includes(confirm ?? '') ? (confirm as Confirmable) : null,
		// a new action arrives with ?created=1 (from the new action form)
		done: event.url.searchParams.get('created') === '1' ? 'created' : (DONE.find((d) => d === event.url.searchParams.get('done')) ?? null)
	};
};

/** The settings form's fields in the order it shows them. */
const SETTINGS_FIELDS = ['goal', 'milestones', 'targetMode', 'allowPersonalisation', 'maxLetterLength', 'replyTo'];

const action = (event: { params: { id: string } }) => ({ path: { id: event.params.id } });

/** After a change: back to the action, saying what was done; or the API's refusal on the page. */
function after(event: RequestEvent, result: { error?: ApiError; response: Response }, done: string) {
	if (result.error) {
		const issues = (result.error.issues ?? []).map((i) => ({ path: i.path, message: issueMessage(event.locals.locale, i) }));
		return fail(result.response.status, { error: refusal(event, result), issues });
	}
	redirect(303, `/admin/actions/${event.params.id}?done=${done}`);
}

export const actions: Actions = {
	publish: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/publish', { params: action(event) }), 'published'),
	close: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/close', { params: action(event) }), 'closed'),
	archive: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/archive', { params: action(event) }), 'archived'),
	pause: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/signing', { params: action(event), body: { enabled: false } }), 'paused'),
	resume: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/signing', { params: action(event), body: { enabled: true } }), 'resumed'),
	settings: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi(event).PATCH('/api/admin/actions/{id}', {
			params: action(event),
			body: formBody<ApiBody<'/api/admin/actions/{id}', 'patch'>>({
				goal: numberField(values.goal),
				milestones: parseMilestones(values.milestones ?? ''),
				targetMode: values.targetMode,
				// a petition's form has no letter fields: what the form does not show, it does not change
				...(values.maxLetterLength === undefined
					? {}
					: { allowPersonalisation: values.allowPersonalisation === 'on', maxLetterLength: numberField(values.maxLetterLength) }),
				replyTo: values.replyTo ?? ''
			})
		});
		if (result.error) return fail(422, { settingsErrors: formProblem(event, result, SETTINGS_FIELDS).errors, values });
		redirect(303, `/admin/actions/${event.params.id}?done=saved`);
	}
};
