import type { Handle, HandleServerError } from '@sveltejs/kit';
import { isLocale, negotiateLocale } from '$lib/i18n';

export const handle: Handle = async ({ event, resolve }) => {
	const prefix = event.url.pathname.split('/')[1];
	const fromPath = isLocale(prefix);
	const locale = fromPath ? prefix : negotiateLocale(event.request.headers.get('accept-language'));
	event.locals.locale = locale;
	event.locals.localeFromPath = fromPath;

	const response = await resolve(event, {
		transformPageChunk: ({ html }) => html.replace('%lang%', locale)
	});

	const headers = response.headers;
	// unprefixed pages are chosen by the browser's languages
	if (!fromPath) headers.append('vary', 'Accept-Language');
	// Confirmation tokens travel in URLs, and what signers read is nobody else's business:
	// other sites get no Referer. Not `no-referrer`: that makes browsers send `Origin: null`
	// on our own form posts, which SvelteKit's CSRF check then refuses.
	headers.set('referrer-policy', 'same-origin');
	if (response.status === 503) headers.set('retry-after', '30');
	headers.set('x-content-type-options', 'nosniff');
	headers.set('x-frame-options', 'DENY');
	headers.set('cross-origin-opener-policy', 'same-origin');
	headers.set('permissions-policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
	return response;
};

export const handleError: HandleServerError = ({ error, status, message }) => {
	if (status !== 404) console.error('[chorus-web] unexpected error', error);
	return { message, code: status === 404 ? 'not_found' : 'internal' };
};
