import { api, expectOk } from '$lib/server/api';
import { checkedToken } from '$lib/server/token';
import type { Actions, PageServerLoad } from './$types';

// GET only looks: mail scanners open links. Unsubscribing takes the button (a POST).
export const load: PageServerLoad = async (event) => {
	const state = expectOk(await api(event).GET('/api/unsubscribe/{token}', { params: { path: { token: checkedToken(event.params.token) } } }));
	return { status: state.status };
};

export const actions: Actions = {
	default: async (event) => {
		const result = expectOk(await api(event).POST('/api/unsubscribe/{token}', { params: { path: { token: checkedToken(event.params.token) } }, body: {} }));
		return { unsubscribed: result.status === 'unsubscribed' };
	}
};
