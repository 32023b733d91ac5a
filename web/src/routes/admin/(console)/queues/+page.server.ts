import { fail } from '@sveltejs/kit';
import type { ApiError } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formFields, refusal, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

export const load: PageServerLoad = async (event) => ({ view: expectOk(await staffApi(event).GET('/api/admin/queues')) });

/** The queue a form names, as the API's path (the API refuses a name that is not a queue). */
async function queue(event: { request: Request }) {
	const { name = '' } = formFields(await event.request.formData());
	return { path: { name } };
}

function toggled(event: RequestEvent, result: { error?: ApiError; response: Response }) {
	if (result.error) return fail(result.response.status, { message: refusal(event, result) });
	return { done: true };
}

export const actions: Actions = {
	pause: async (event) => toggled(event, await staffApi(event).POST('/api/admin/queues/{name}/pause', { params: await queue(event) })),
	resume: async (event) => toggled(event, await staffApi(event).POST('/api/admin/queues/{name}/resume', { params: await queue(event) }))
};
