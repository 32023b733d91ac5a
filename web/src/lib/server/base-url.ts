// The public origin for absolute links (og:url, canonical, hreflang alternates, share links).
//
// PUBLIC_BASE_URL is read from $env/dynamic/public: SvelteKit keeps every PUBLIC_-prefixed
// variable out of $env/dynamic/private, so it can only be read there (it is not a secret).
import { env } from '$env/dynamic/public';

export function publicBaseUrl(url: URL): string {
	return (env.PUBLIC_BASE_URL || url.origin).replace(/\/+$/, '');
}
