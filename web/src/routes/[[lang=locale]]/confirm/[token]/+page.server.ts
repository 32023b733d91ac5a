import { redirect, type RequestEvent } from '@sveltejs/kit';
import { api, expectOk } from '$lib/server/api';
import { checkedToken } from '$lib/server/token';
import { countryName } from '$lib/server/countries';
import { formatDateTime } from '$lib/dates';
import { actionPath, localePath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';
import { RECEIPT_COOKIE } from '$lib/server/receipt';

/** The confirmation's path parameters and the page's language, as the API takes them. */
function params(event: RequestEvent) {
	return { path: { token: checkedToken(event.params.token) }, query: { locale: event.locals.locale } };
}

/**
 * What the page showed, sent back with either button: the details' version, and whether the
 * sign-up asks to be shown on the action's page (the thanks page then says when it will be).
 */
async function shown(event: RequestEvent): Promise<{ version: string | undefined; wall: boolean }> {
	const form = await event.request.formData().catch(() => null);
	const value = form?.get('version');
	return { version: typeof value === 'string' && value.length <= 64 ? value : undefined, wall: form?.get('wall') === 'yes' };
}

// GET never confirms or discards: mail scanners open links. The page shows exactly what would
// be confirmed, and a button for each choice.
export const load: PageServerLoad = async (event) => {
	event.setHeaders({ 'cache-control': 'no-store' });
	const locale = event.locals.locale;
	const state = expectOk(await api(event).GET('/api/confirmations/{token}', { params: params(event) }));
	return {
		status: state.status,
		action: state.action,
		// once confirmed: the signature's receipt (whoever holds this link holds the mailbox it went to)
		receipt: state.receipt ?? null,
		signup: state.signup ? { ...state.signup, countryName: countryName(locale, state.signup.country) } : null,
		version: state.version ?? null,
		// the other sign-ups with this address for this action that wait: each opens on its own page
		others: (state.others ?? []).map((o) => ({
			href: localePath(locale, `/confirm/${o.token}`),
			name: [o.signup.firstName, o.signup.lastName].filter(Boolean).join(' '),
			countryName: countryName(locale, o.signup.country),
			signed: formatDateTime(locale, o.createdAt)
		}))
	};
};

export const actions: Actions = {
	confirm: async (event) => {
		const locale = event.locals.locale;
		const { version, wall } = await shown(event);
		const result = await api(event).POST('/api/confirmations/{token}', { params: params(event), body: { version } });
		// replaced or discarded meanwhile: the page says so, and nothing was confirmed
		if (result.error && result.response.status === 409) redirect(303, localePath(locale, `/confirm/${event.params.token}`));
		// the receipt goes to the thanks page once, in a short-lived cookie (never in a URL: logs keep URLs)
		const receipt = expectOk(result).receipt;
		if (receipt) event.cookies.set(RECEIPT_COOKIE, receipt, { path: '/', maxAge: 600, httpOnly: true, sameSite: 'lax' });
		// the version the page showed is what was confirmed, its choice of the wall included
		redirect(303, `${actionPath(locale, expectOk(result).action.slug, 'thanks')}?confirmed=1${wall ? '&wall=1' : ''}`);
	},
	discard: async (event) => {
		const locale = event.locals.locale;
		const result = await api(event).POST('/api/confirmations/{token}/discard', { params: params(event), body: { version: (await shown(event)).version } });
		if (result.error && result.response.status !== 409) expectOk(result);
		// the page now shows where the sign-up stands: discarded (or confirmed, or replaced meanwhile)
		redirect(303, localePath(locale, `/confirm/${event.params.token}`));
	}
};
