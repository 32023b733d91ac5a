// The console's language switch (the form in the console's header): remembers the chosen
// language in a cookie for the console's pages and goes back to the page it was sent from.
import { redirect } from '@sveltejs/kit';
import { env } from '$env/dynamic/public';
import { isLocale } from '$shared/locales';
import { CONSOLE_LOCALE_COOKIE, consoleReturnPath } from '$lib/admin/console-locale';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = () => redirect(303, '/admin');

export const actions: Actions = {
	default: async (event) => {
		const form = await event.request.formData();
		const locale = form.get('locale');
		if (typeof locale === 'string' && isLocale(locale)) {
			event.cookies.set(CONSOLE_LOCALE_COOKIE, locale, {
				path: '/admin',
				httpOnly: true,
				sameSite: 'lax',
				// as the session cookie: secure wherever the site is served over https
				secure: event.url.protocol === 'https:' || Boolean(env.PUBLIC_BASE_URL?.startsWith('https:')),
				maxAge: 60 * 60 * 24 * 365
			});
		}
		redirect(303, consoleReturnPath(form.get('back')));
	}
};
