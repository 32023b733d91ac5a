// See https://svelte.dev/docs/kit/types#app.d.ts
import type { Locale } from '$lib/i18n';

declare global {
	namespace App {
		interface Error {
			message: string;
			/** a stable code (the API's, e.g. `action_not_found`, or `api_unavailable`) to pick a translated text */
			code?: string;
		}
		interface Locals {
			locale: Locale;
			/** true when the locale came from the URL prefix, false when from Accept-Language */
			localeFromPath: boolean;
			/** a page that renders its own refusal (say, /verify?code= with a code nobody holds) answers with this status, not 200 */
			pageStatus?: number;
		}
		// interface PageData {}
		// interface PageState {}
		// interface Platform {}
	}
}

export {};
