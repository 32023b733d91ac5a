// Internal links always carry the locale prefix, so a page reached through
// Accept-Language keeps its language on every following page.
import { isLocale, type Locale } from '$lib/i18n';

/** `/es` for '/', `/es/actions/x` for '/actions/x'. */
export function localePath(locale: Locale, path = '/'): string {
	const clean = path.startsWith('/') ? path : `/${path}`;
	return clean === '/' ? `/${locale}` : `/${locale}${clean}`;
}

export function actionPath(locale: Locale, slug: string, sub?: 'check-email' | 'thanks'): string {
	const base = localePath(locale, `/actions/${encodeURIComponent(slug)}`);
	return sub ? `${base}/${sub}` : base;
}

/** The "my data" pages: the request form, and the pages after a request and after erasing. */
export function myDataPath(locale: Locale, sub?: 'sent' | 'erased'): string {
	return localePath(locale, sub ? `/my-data/${sub}` : '/my-data');
}

/**
 * Pages whose path carries a token from an email (and the pages around them), and the page
 * that checks a receipt (its code travels in the query): they are never cached or indexed, and
 * send no path in the Referer header.
 */
export function isTokenPage(pathname: string): boolean {
	const path = stripLocale(pathname);
	return /^\/(confirm|unsubscribe|my-data|packet)\/[^/]+$/.test(path) || path === '/verify';
}

/** The page where a signer checks their receipt. */
export function verifyPath(locale: Locale): string {
	return localePath(locale, '/verify');
}

/** The path of `url` without its locale prefix (always starts with '/'). */
export function stripLocale(pathname: string): string {
	const segments = pathname.split('/');
	if (isLocale(segments[1])) {
		const rest = '/' + segments.slice(2).join('/');
		return rest === '/' ? '/' : rest.replace(/\/$/, '');
	}
	return pathname || '/';
}

/**
 * The same page in another locale, for the language switcher. Query parameters are kept,
 * except SvelteKit's form-action selector (`?/sign`), which must not be replayed as a link.
 */
export function switchLocaleHref(url: URL, locale: Locale): string {
	const params = new URLSearchParams();
	for (const [key, value] of url.searchParams) {
		if (!key.startsWith('/')) params.append(key, value);
	}
	const query = params.toString();
	return localePath(locale, stripLocale(url.pathname)) + (query ? `?${query}` : '');
}
