import type { Handle, HandleServerError, RequestEvent } from '@sveltejs/kit';
import { isLocale, negotiateLocale } from '$lib/i18n';
import { isTokenPage, stripLocale } from '$lib/paths';
import { CONSOLE_LOCALE_COOKIE, isConsolePath } from '$lib/admin/console-locale';
import { env } from '$env/dynamic/public';
import { RENDER_KEY_HEADER, cachedPageKey, pageCache } from '$shared/page-cache';

/** the same value as the API's (server/src/http/security-headers.ts): two years, only over https */
const HSTS = 'max-age=63072000; includeSubDomains';

/** Public action pages are rendered about once a second, not once per reader ($shared/page-cache.ts). */
const CACHED_ROUTES = new Set(['/[[lang=locale]]/actions/[slug]']);

/**
 * The key to store this rendering under: only when the server handed this request the ticket
 * for it (it decides what is cacheable and strips the header from clients), and only for the
 * page itself, never its data request.
 */
function renderKey(event: RequestEvent): string | null {
	const key = event.request.headers.get(RENDER_KEY_HEADER);
	if (!key || event.request.method !== 'GET' || event.isDataRequest || event.request.headers.has('cookie')) return null;
	return CACHED_ROUTES.has(event.route.id ?? '') ? key : null;
}

/**
 * Whether the answer may be shared with every reader of the same address and language, by a
 * cache in front (deploy/nginx honours it) as by the page cache: a cookieless GET of a public
 * action page (no query but `?source=`), never its data request.
 */
function shareable(event: RequestEvent): boolean {
	if (event.request.method !== 'GET' || event.isDataRequest || event.request.headers.has('cookie')) return false;
	if (!CACHED_ROUTES.has(event.route.id ?? '')) return false;
	return cachedPageKey(event.url.pathname + event.url.search, null) !== null;
}

/** Stores a shareable answer and returns it (its body has been read, so a copy is returned). */
async function remember(key: string, response: Response): Promise<Response> {
	// anything else is not stored; the server releases the waiters when the answer is over
	if (response.status !== 200 || response.headers.has('set-cookie')) return response;
	const body = Buffer.from(await response.arrayBuffer());
	const page = { status: response.status, headers: Object.fromEntries(response.headers.entries()), body };
	pageCache().set(key, page);
	return new Response(new Uint8Array(body), { status: page.status, headers: page.headers });
}

function isEmbedPage(pathname: string): boolean {
	return stripLocale(pathname).startsWith('/embed/');
}

export const handle: Handle = async ({ event, resolve }) => {
	const prefix = event.url.pathname.split('/')[1];
	const fromPath = isLocale(prefix);
	const acceptLanguage = event.request.headers.get('accept-language');
	// the console has no language in its paths: the one chosen in its header, else the browser's
	const chosen = isConsolePath(event.url.pathname) ? event.cookies.get(CONSOLE_LOCALE_COOKIE) : undefined;
	const locale = fromPath ? prefix : chosen && isLocale(chosen) ? chosen : negotiateLocale(acceptLanguage);
	event.locals.locale = locale;
	event.locals.localeFromPath = fromPath;

	const cacheKey = renderKey(event);

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
	// a second old is as fresh as the counts it shows (the API's own max-age=1)
	if (response.status === 200 && !headers.has('set-cookie') && !headers.has('cache-control') && shareable(event)) {
		headers.set('cache-control', 'public, max-age=1');
	}
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
	return cacheKey ? remember(cacheKey, response) : response;
};

export const handleError: HandleServerError = ({ error, status, message }) => {
	if (status !== 404) console.error('[chorus-web] unexpected error', error);
	return { message, code: status === 404 ? 'not_found' : 'internal' };
};
