import { expectOk } from '$lib/server/api';
import { staffApi } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

// Every published or closed action with what it owes its targets and what went wrong.
export const load: PageServerLoad = async (event) => {
	const { actions } = expectOk(await staffApi(event).GET('/api/admin/deliveries'));
	return { actions };
};
