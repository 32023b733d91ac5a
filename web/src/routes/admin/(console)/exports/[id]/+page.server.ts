import { error } from '@sveltejs/kit';
import { expectOk } from '$lib/server/api';
import { staffApi } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// One export's progress. Started from the exports page (?live=1), it refreshes itself while the
// file is being written, and stops once it is done; otherwise it offers to (WCAG 2.2.1).
export const load: PageServerLoad = async (event) => {
	if (!UUID.test(event.params.id)) error(404, { message: 'Not found', code: 'export_not_found' });
	const { job } = expectOk(await staffApi(event).GET('/api/admin/exports/{id}', { params: { path: { id: event.params.id } } }));
	return { job, live: event.url.searchParams.get('live') === '1' };
};
