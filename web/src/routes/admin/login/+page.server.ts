import { fail, redirect } from '@sveltejs/kit';
import { api, staffCookieHeader } from '$lib/server/api';
import type { Actions, PageServerLoad } from './$types';

/** Only paths inside the console: never a redirect to another site. */
function safeNext(value: string | null): string {
	return value && /^\/admin(\/|\?|$)/.test(value) && !value.startsWith('//') ? value : '/admin';
}

export const load: PageServerLoad = async (event) => {
	// already signed in: straight on
	if (staffCookieHeader(event)) {
		const me = await api(event, { staffSession: true }).GET('/api/staff/me');
		if (!me.error) redirect(303, safeNext(event.url.searchParams.get('next')));
	}
	return { locale: event.locals.locale };
};

export const actions: Actions = {
	default: async (event) => {
		// a body that is not a form (wrong content type, broken encoding) is an empty form: a 4xx, not a 500
		const form = await event.request.formData().catch(() => new FormData());
		const email = String(form.get('email') ?? '').trim();
		const password = String(form.get('password') ?? '');
		const totp = String(form.get('totp') ?? '').replace(/\s+/g, '');
		if (!email || !password) return fail(422, { email, error: 'login_error_missing' as const });
		const result = await api(event, { staffSession: true }).POST('/api/staff/login', { body: { email, password, ...(totp ? { totp } : {}) } });
		if (result.error) {
			const status = result.response.status;
			if (status === 429) {
				return fail(429, { email, error: 'login_error_throttled' as const, minutes: 15 });
			}
			if (result.error.code === 'totp_required') return fail(401, { email, error: 'login_error_totp_required' as const, needTotp: true });
			return fail(status === 422 ? 422 : 401, { email, error: 'login_error_invalid' as const, needTotp: Boolean(totp) });
		}
		// the API chose the cookie (name, token, flags); pass it on to the browser as it is
		for (const line of result.response.headers.getSetCookie()) {
			const [pair = '', ...attributes] = line.split(';');
			const eq = pair.indexOf('=');
			const name = pair.slice(0, eq).trim();
			const value = pair.slice(eq + 1).trim();
			const secure = attributes.some((a) => a.trim().toLowerCase() === 'secure');
			event.cookies.set(name, value, { path: '/', httpOnly: true, sameSite: 'strict', secure });
		}
		redirect(303, safeNext(event.url.searchParams.get('next')));
	}
};
