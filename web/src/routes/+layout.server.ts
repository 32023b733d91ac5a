import { env } from '$env/dynamic/private';
import type { LayoutServerLoad } from './$types';

// No JavaScript is sent to browsers: every page is plain HTML and forms, which is the
// smallest and most robust thing on a slow or watched connection. The forms are written
// with use:enhance, so setting this to true turns on progressive enhancement.
export const csr = false;

export const load: LayoutServerLoad = ({ locals, url }) => {
	const baseUrl = (env.PUBLIC_BASE_URL || url.origin).replace(/\/+$/, '');
	return { locale: locals.locale, baseUrl };
};
