import { error, redirect, type RequestEvent } from '@sveltejs/kit';
import type { ConfirmationResult, ConfirmationState } from '$lib/api-types';
import { api, expectOk } from '$lib/server/api';
import { actionPath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';

// Tokens are opaque to us; anything implausible is answered as an invalid link without
// asking the API.
const TOKEN = /^[A-Za-z0-9._~-]{1,512}$/;

function confirmationPath(event: RequestEvent): string {
	const token = event.params.token ?? '';
	if (!TOKEN.test(token)) error(404, { message: 'Invalid link', code: 'invalid_link' });
	return `/api/confirmations/${encodeURIComponent(token)}`;
}

// GET never confirms: mail scanners open links. The page only shows a button.
export const load: PageServerLoad = async (event) => {
	event.setHeaders({ 'cache-control': 'no-store' });
	const state = expectOk(await api<ConfirmationState>(event, confirmationPath(event)));
	return { status: state.status, action: state.action };
};

export const actions: Actions = {
	default: async (event) => {
		const result = expectOk(await api<ConfirmationResult>(event, confirmationPath(event), { method: 'POST' }));
		redirect(303, `${actionPath(event.locals.locale, result.action.slug, 'thanks')}?confirmed=1`);
	}
};
