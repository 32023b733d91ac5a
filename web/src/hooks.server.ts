import type { Handle, HandleServerError } from '@sveltejs/kit';
import { isLocale, negotiateLocale } from '$lib/i18n';
import { isTokenPage, stripLocale } from '$lib/paths';
import { env } from '$env/dynamic/public';

/** the same value as the API's (server/src/http/app.ts): two years, only over https */
const HSTS = 'max-age=63072000; includeSubDomains';

function isEmbedPage(pathname: string): boolean {
	return stripLocale(pathname).startsWith('/embed/');
}

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
	// Pages with a token in their path (confirm, unsubscribe, my data) go further: with
	// `strict-origin`, no request from them carries their path, not even to us (the style
	// sheet, the links in the footer), while form posts keep their Origin header.
	const tokenPage = isTokenPage(event.url.pathname);
	headers.set('referrer-policy', tokenPage ? 'strict-origin' : 'same-origin');
	if (tokenPage) {
		headers.set('cache-control', 'no-store');
		headers.set('x-robots-tag', 'noindex');
	}
	if (response.status === 503) headers.set('retry-after', '30');
	headers.set('x-content-type-options', 'nosniff');
	if (isEmbedPage(event.url.pathname)) {
		// the embeddable sign form (/embed/<slug>) is the one page other sites may frame
		const csp = headers.get('content-security-policy');
		if (csp) headers.set('content-security-policy', csp.replace(/frame-ancestors [^;]*/, 'frame-ancestors *'));
	} else {
		headers.set('x-frame-options', 'DENY');
	}
	headers.set('cross-origin-opener-policy', 'same-origin');
	if (env.PUBLIC_BASE_URL?.startsWith('https:')) headers.set('strict-transport-security', HSTS);
	headers.set('permissions-policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
	return response;
};

export const handleError: HandleServerError = ({ error, status, message }) => {
	if (status !== 404) console.error('[chorus-web] unexpected error', error);
	return { message, code: status === 404 ? 'not_found' : 'internal' };
};
