// The console's way to the staff API: the visitor's session cookie and the CSRF header go
// with every call. No session (401) sends the visitor to the sign-in page; a role that may
// not (403 forbidden) becomes the 403 page. Other answers come back to inspect.
import { error, redirect, type RequestEvent } from '@sveltejs/kit';
import { api, type Api } from './api';
import type { ApiError } from '$lib/api/types';
import { formProblem as problemOf, refusalMessage, type FormProblem } from '$lib/admin/problems';
export type { FormProblem } from '$lib/admin/problems';

export function loginPath(event: RequestEvent): string {
	const next = event.url.pathname + event.url.search;
	return `/admin/login?next=${encodeURIComponent(next)}`;
}

/**
 * The staff API client for this page request. `download`: an answer that is a file (CSV): any
 * 401 goes to the sign-in page and any 403 to the 403 page, and it may take up to a minute.
 */
export function staffApi(event: RequestEvent, opts: { download?: boolean } = {}): Api {
	return api(event, {
		staffSession: true,
		timeoutMs: opts.download ? 60_000 : undefined,
		download: opts.download,
		inspect: (response, body) => {
			if (response.status === 401 && (opts.download || body?.code === 'unauthenticated')) redirect(303, loginPath(event));
			if (response.status === 403 && (opts.download || body?.code === 'forbidden')) {
				error(403, { message: body?.message || 'Forbidden', code: 'forbidden' });
			}
		}
	});
}

/** A form's fields as strings (files and repeated fields are read by the caller). */
export function formFields(form: FormData): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [key, value] of form) if (typeof value === 'string' && !(key in out)) out[key] = value;
	return out;
}

/**
 * A console form's body as its route takes it. The console sends what staff typed (a goal that
 * is not a number, a date that is not one) and shows the API's refusal beside the field, since
 * its 422 names the field: the route's schema, not the page, decides what is valid. So the
 * values' types are not checked here; the field names are (against the route's body).
 */
export function formBody<B extends object>(fields: { [K in keyof B]?: unknown }): B {
	return fields as B;
}

/**
 * A refused console form as the page shows it: each issue at its field in the form's order
 * (`fields`), translated by its code, and the error as one sentence (lib/admin/problems.ts).
 */
export function formProblem(
	event: Pick<RequestEvent, 'locals'>,
	result: { error?: ApiError | null; response: Response },
	fields: readonly string[] = []
): FormProblem {
	return problemOf(event.locals.locale, result.error ?? undefined, fields, result.response.status);
}

/** An API refusal as one sentence in the reader's language. */
export function refusal(event: Pick<RequestEvent, 'locals'>, result: { error?: ApiError | null; response: Response }): string {
	return refusalMessage(event.locals.locale, result.error ?? undefined, result.response.status);
}

/** An API error's issues as field → message, translated, in the order of `fields`. */
export function issuesByField(body: Pick<ApiError, 'issues' | 'message' | 'code'>, locale: string = 'en', fields: readonly string[] = []): Record<string, string> {
	const { errors, message } = problemOf(locale, body, fields);
	return Object.keys(errors).length ? errors : { '': message };
}
