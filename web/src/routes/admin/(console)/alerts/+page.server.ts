import { expectOk } from '$lib/server/api';
import { staffApi } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const data = expectOk(await staffApi(event).GET('/api/admin/alerts'));
	return { generatedAt: data.generatedAt, alerts: data.alerts };
};
