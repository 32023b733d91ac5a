import { publicBaseUrl } from '$lib/server/base-url';
import type { LayoutServerLoad } from './$types';

// No JavaScript is sent to browsers: every page is plain HTML and forms, the smallest and
// most robust thing on a slow or watched connection. The forms are written with
// use:enhance, so `csr = true` would turn on progressive enhancement, but it costs about
// 110 kB of script per visit, and SvelteKit's client router then inserts an element with
// an inline style attribute (its navigation announcer) that our CSP (style-src 'self')
// refuses.
export const csr = false;

export const load: LayoutServerLoad = ({ locals, url }) => {
	return { locale: locals.locale, baseUrl: publicBaseUrl(url) };
};
