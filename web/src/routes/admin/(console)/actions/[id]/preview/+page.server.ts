import { expectOk } from '$lib/server/api';
import { staffApi } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const params = { path: { id: event.params.id } };
	const staff = staffApi(event);
	const [action, preview] = await Promise.all([
		staff.GET('/api/admin/actions/{id}', { params }).then(expectOk),
		staff.GET('/api/admin/actions/{id}/letter-preview', { params }).then(expectOk)
	]);
	return { action, preview };
};
