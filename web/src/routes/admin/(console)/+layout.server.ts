import { error } from '@sveltejs/kit';
import { ADMIN_PAGES, mayOpen, pageFor } from '$lib/admin/pages';
import { expectOk } from '$lib/server/api';
import { staffApi } from '$lib/server/staff';
import type { LayoutServerLoad } from './$types';

// Every console page: a staff session (else the sign-in page), and a role the page's entry in
// ADMIN_PAGES allows (else 403). A page missing from ADMIN_PAGES is refused to everyone.
export const load: LayoutServerLoad = async (event) => {
	const { user } = expectOk(await staffApi(event).GET('/api/staff/me'));
	if (!mayOpen(pageFor(event.route.id), user.role)) error(403, { message: 'Forbidden', code: 'forbidden' });
	const nav = ADMIN_PAGES.filter((p) => p.nav && p.href && p.roles.includes(user.role)).map((p) => ({ key: p.nav!, href: p.href! }));
	return { staff: user, nav, locale: event.locals.locale };
};
