import { redirect } from '@sveltejs/kit';
import { api } from '$lib/server/api';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = () => redirect(303, '/admin');

export const actions: Actions = {
	default: async (event) => {
		await api(event, { staffSession: true }).POST('/api/staff/logout');
		for (const name of ['chorus_staff', '__Host-chorus_staff']) {
			if (event.cookies.get(name)) event.cookies.delete(name, { path: '/', secure: name.startsWith('__Host-') });
		}
		redirect(303, '/admin/login');
	}
};
