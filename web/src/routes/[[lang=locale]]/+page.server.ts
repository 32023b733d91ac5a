import { expectOk, listActions } from '$lib/server/api';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const { actions } = expectOk(await listActions(event, event.locals.locale));
	return { actions };
};
