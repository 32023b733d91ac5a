import { expectOk, getAction } from '$lib/server/api';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const action = expectOk(await getAction(event, event.params.slug, event.locals.locale));
	return { action: { slug: action.slug, title: action.title } };
};
