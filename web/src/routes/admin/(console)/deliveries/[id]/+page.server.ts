import { fail } from '@sveltejs/kit';
import type { ApiBody, ApiError } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

// One action's delivery: the ledger always; the preview of the next delivery when asked for
// (?preview=1, a GET: looking changes nothing).
export const load: PageServerLoad = async (event) => {
	const params = { path: { id: event.params.id } };
	const staff = staffApi(event);
	const detail = expectOk(await staff.GET('/api/admin/deliveries/{id}', { params }));
	const preview = event.url.searchParams.get('preview') === '1' ? expectOk(await staff.GET('/api/admin/deliveries/{id}/preview', { params })) : null;
	// "Send now" is confirmed first (?confirm=send), as publishing is: a GET changes nothing
	return { detail, preview, confirmSend: event.url.searchParams.get('confirm') === 'send' };
};

type Done = { done: 'policy' | 'paused' | 'resumed' | 'sent' | 'retried' | 'nothing'; n?: number; letters?: number };

/** What a change answered, as the page announces it (`counts`: what a delivery carried). */
function outcome(event: RequestEvent, result: { error?: ApiError; response: Response }, done: Done['done'], counts: { n?: number; letters?: number } = {}) {
	if (!result.error) return { done, ...counts } satisfies Done;
	if (result.response.status === 409 && result.error.code === 'nothing_owed') return { done: 'nothing' } satisfies Done;
	const { errors, message } = formProblem(event, result, ['policy', 'everyN', 'milestones']);
	return fail(result.response.status, { error: message, errors });
}

const action = (event: { params: { id: string } }) => ({ path: { id: event.params.id } });

export const actions: Actions = {
	policy: async (event) => {
		const f = formFields(await event.request.formData());
		// what staff typed goes as it is: the API refuses a policy without what it needs, by name
		const body = {
			policy: f.policy,
			everyN: f.everyN?.trim() || undefined,
			milestones: f.milestones?.trim() ? f.milestones.split(/[\s,;]+/).filter(Boolean) : undefined
		};
		return outcome(event, await staffApi(event).PUT('/api/admin/deliveries/{id}/policy', { params: action(event), body: formBody<ApiBody<'/api/admin/deliveries/{id}/policy', 'put'>>(body) }), 'policy');
	},
	pause: async (event) => outcome(event, await staffApi(event).POST('/api/admin/deliveries/{id}/pause', { params: action(event) }), 'paused'),
	resume: async (event) => outcome(event, await staffApi(event).POST('/api/admin/deliveries/{id}/resume', { params: action(event) }), 'resumed'),
	send: async (event) => {
		const result = await staffApi(event).POST('/api/admin/deliveries/{id}/send-now', { params: action(event) });
		return outcome(event, result, 'sent', { n: result.data?.signatureCount, letters: result.data?.letterIds.length });
	},
	retry: async (event) => {
		const f = formFields(await event.request.formData());
		return outcome(event, await staffApi(event).POST('/api/admin/deliveries/letters/{id}/retry', { params: { path: { id: f.letter ?? '' } } }), 'retried');
	}
};
