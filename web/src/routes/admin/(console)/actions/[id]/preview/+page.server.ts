import type { LetterPreview, StaffActionDetail } from '$lib/admin/console-types';
import { staffData } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const id = encodeURIComponent(event.params.id);
	const [action, preview] = await Promise.all([
		staffData<StaffActionDetail>(event, `/api/admin/actions/${id}`),
		staffData<LetterPreview>(event, `/api/admin/actions/${id}/letter-preview`)
	]);
	return { action, preview };
};
