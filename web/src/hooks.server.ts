import type { Handle, HandleServerError, RequestEvent } from '@sveltejs/kit';
import { isLocale, negotiateLocale } from '$lib/i18n';
import { localeDirection } from '$shared/locales';
import { isTokenPage, stripLocale } from '$lib/paths';
import { CONSOLE_LOCALE_COOKIE, isConsolePath } from '$lib/admin/console-locale';
import { env } from '$env/dynamic/public';

/** the same value as the API's (server/src/http/security-headers.ts): two years, only over https */
const HSTS = 'max-age=63072000; includeSubDomains';

/**
 * A public action page, as every reader of it sees it: the path, with a language of ours or
 * none, and no query but a `?source=` tag. A cache in front (deploy/nginx) may share such a
 * page for a second, the age of the counts it shows (the API's own max-age=1).
 */
const SHARED_PAGE = /^\/(?:([a-z]{2,3})\/)?actions\/[a-z0-9][a-z0-9-]{0,79}(?:\?source=[A-Za-z0-9._~:-]{1,100})?$/;
const SHARED_ROUTES = new Set(['/[[lang=locale]]/actions/[slug]']);

/**
 * Whether the answer may be shared with every reader of the same address and language: a
 * cookieless GET of a public action page, never its data request. A page that does not exist
 * (404) is shared too: readers of a closed or mistyped link should not each wait on a rendering.
 */
function shareable(event: RequestEvent, status: number): boolean {
	if (status !== 200 && status !== 404) return false;
	if (event.request.method !== 'GET' || event.isDataRequest || event.request.headers.has('cookie')) return false;
	if (!SHARED_ROUTES.has(event.route.id ?? '')) return false;
	const m = SHARED_PAGE.exec(event.url.pathname + event.url.search);
	return m !== null && (m[1] === undefined || isLocale(m[1]));
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

	const rendered = await resolve(event, {
		transformPageChunk: ({ html }) => html.replace('%lang%', locale).replace('%dir%', localeDirection(locale))
	});
	// a page that shows its own refusal says so in its status too (a data request for the
	// client's router stays 200: the refusal is in its data)
	const pageStatus = event.locals.pageStatus;
	const response =
		pageStatus && rendered.status === 200 && !event.isDataRequest
			? new Response(rendered.body, { status: pageStatus, headers: rendered.headers })
			: rendered;

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
	// a second old is as fresh as the counts it shows (the API's own max-age=1); a cache in front
	// may send the previous copy for two seconds more while it fetches the next, never longer
	if (!headers.has('set-cookie') && !headers.has('cache-control') && shareable(event, response.status)) {
		headers.set('cache-control', 'public, max-age=1, stale-while-revalidate=2');
	}
	// the console's pages are one person's: never kept by a browser (Back after signing out
	// showed signers' data from its cache) nor by anything in between
	if (isConsolePath(event.url.pathname) && !headers.has('cache-control')) headers.set('cache-control', 'private, no-store');
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
	// a request refused by SvelteKit itself (415 for a form action sent as JSON, 405, ...) is the
	// client's doing, not ours: not logged, or anyone could fill the log with stack traces
	if (status >= 500) console.error('[chorus-web] unexpected error', error);
	return { message, code: status === 404 ? 'not_found' : status < 500 ? 'bad_request' : 'internal' };
};
