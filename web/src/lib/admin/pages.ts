// Every page of the staff console, the roles that may open it, and whether it is in the
// navigation. The console's layout refuses a page that is not listed here (fail closed), and
// the access test checks every +page.svelte under routes/admin/(console) against this list.
// by a relative path, not $shared: the console's access test imports this file outside SvelteKit
import { StaffRole } from '../../../../server/src/shared/enums.ts';

export const READ: readonly StaffRole[] = [StaffRole.ADMIN, StaffRole.CAMPAIGNER, StaffRole.VIEWER];
export const WRITE: readonly StaffRole[] = [StaffRole.ADMIN, StaffRole.CAMPAIGNER];
export const ADMIN_ONLY: readonly StaffRole[] = [StaffRole.ADMIN];

export type NavKey =
	| 'overview'
	| 'actions'
	| 'targets'
	| 'deliveries'
	| 'answers'
	| 'fraud'
	| 'exports'
	| 'audit'
	| 'staff'
	| 'integrations'
	| 'queues'
	| 'account';

export interface AdminPage {
	/** SvelteKit route id */
	route: string;
	roles: readonly StaffRole[];
	/** shown in the navigation under this key */
	nav?: NavKey;
	/** the URL the navigation links to (routes without parameters only) */
	href?: string;
}

export const ADMIN_PAGES: AdminPage[] = [
	// in the order of the navigation (pages without `nav` are reached from their area)
	{ route: '/admin/(console)', roles: READ, nav: 'overview', href: '/admin' },
	{ route: '/admin/(console)/dashboard/[id]', roles: READ },
	{ route: '/admin/(console)/alerts', roles: READ },
	{ route: '/admin/(console)/actions', roles: READ, nav: 'actions', href: '/admin/actions' },
	{ route: '/admin/(console)/actions/new', roles: WRITE },
	{ route: '/admin/(console)/actions/[id]', roles: READ },
	{ route: '/admin/(console)/actions/[id]/texts/[locale]', roles: WRITE },
	{ route: '/admin/(console)/actions/[id]/targets', roles: WRITE },
	{ route: '/admin/(console)/actions/[id]/preview', roles: READ },
	{ route: '/admin/(console)/targets', roles: READ, nav: 'targets', href: '/admin/targets' },
	{ route: '/admin/(console)/targets/new', roles: WRITE },
	{ route: '/admin/(console)/targets/[id]', roles: READ },
	{ route: '/admin/(console)/deliveries', roles: READ, nav: 'deliveries', href: '/admin/deliveries' },
	{ route: '/admin/(console)/deliveries/[id]', roles: READ },
	{ route: '/admin/(console)/answers', roles: READ, nav: 'answers', href: '/admin/answers' },
	// a fraud search or the wall list is a look at signers' data: campaigners and admins, audited
	{ route: '/admin/(console)/fraud', roles: WRITE, nav: 'fraud', href: '/admin/fraud' },
	{ route: '/admin/(console)/fraud/wall', roles: WRITE },
	{ route: '/admin/(console)/exports', roles: WRITE, nav: 'exports', href: '/admin/exports' },
	{ route: '/admin/(console)/exports/[id]', roles: WRITE },
	{ route: '/admin/(console)/audit', roles: ADMIN_ONLY, nav: 'audit', href: '/admin/audit' },
	{ route: '/admin/(console)/staff', roles: ADMIN_ONLY, nav: 'staff', href: '/admin/staff' },
	{ route: '/admin/(console)/integrations', roles: ADMIN_ONLY, nav: 'integrations', href: '/admin/integrations' },
	{ route: '/admin/(console)/queues', roles: ADMIN_ONLY, nav: 'queues', href: '/admin/queues' },
	{ route: '/admin/(console)/account', roles: READ, nav: 'account', href: '/admin/account' }
];

export function pageFor(routeId: string | null): AdminPage | undefined {
	return ADMIN_PAGES.find((p) => p.route === routeId);
}

export function mayOpen(page: AdminPage | undefined, role: StaffRole): boolean {
	return page !== undefined && page.roles.includes(role);
}
