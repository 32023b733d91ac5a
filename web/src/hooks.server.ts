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
	// confirmation tokens travel in URLs, and signers' reading should not be told to others
	headers.set('referrer-policy', 'no-referrer');
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
