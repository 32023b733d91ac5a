import { error } from '@sveltejs/kit';
import type { ExportJob } from '$lib/admin/insight';
import { staffData } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// One export's progress. Started from the exports page (?live=1), it refreshes itself while the
// file is being written, and stops once it is done; otherwise it offers to (WCAG 2.2.1).
export const load: PageServerLoad = async (event) => {
	if (!UUID.test(event.params.id)) error(404, { message: 'Not found', code: 'export_not_found' });
	const { job } = await staffData<{ job: ExportJob }>(event, `/api/admin/exports/${event.params.id}`);
	return { job, live: event.url.searchParams.get('live') === '1' };
};
