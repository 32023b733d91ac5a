import type { UnsubscribeResult, UnsubscribeState } from '$lib/api-types';
import { api, expectOk } from '$lib/server/api';
import { tokenSegment } from '$lib/server/token';
import type { Actions, PageServerLoad } from './$types';

// GET only looks: mail scanners open links. Unsubscribing takes the button (a POST).
export const load: PageServerLoad = async (event) => {
	const state = expectOk(await api<UnsubscribeState>(event, `/api/unsubscribe/${tokenSegment(event.params.token)}`));
	return { status: state.status };
};

export const actions: Actions = {
	default: async (event) => {
		const result = expectOk(
			await api<UnsubscribeResult>(event, `/api/unsubscribe/${tokenSegment(event.params.token)}`, { method: 'POST', body: {} })
		);
		return { unsubscribed: result.status === 'unsubscribed' };
	}
};
