// The console's way to the staff API: the visitor's session cookie and the CSRF header go
// with every call. No session (401) sends the visitor to the sign-in page; a role that may
// not (403 forbidden) becomes the 403 page. Other answers come back to inspect.
import { error, redirect, type RequestEvent } from '@sveltejs/kit';
import { env } from '$env/dynamic/private';
import { api, expectOk, staffCookieHeader, type ApiRequest } from './api';
import type { ApiResult } from '$lib/api-types';

export function loginPath(event: RequestEvent): string {
	const next = event.url.pathname + event.url.search;
	return `/admin/login?next=${encodeURIComponent(next)}`;
}

export async function staffApi<T>(event: RequestEvent, path: string, request: Omit<ApiRequest, 'staff'> = {}): Promise<ApiResult<T>> {
	const result = await api<T>(event, path, { ...request, staff: true });
	if (!result.ok && result.status === 401 && result.body.code === 'unauthenticated') redirect(303, loginPath(event));
	if (!result.ok && result.status === 403 && result.body.code === 'forbidden') {
		error(403, { message: result.body.message || 'Forbidden', code: 'forbidden' });
	}
	return result;
}

/** For loads: the data, or the error page. */
export async function staffData<T>(event: RequestEvent, path: string, request: Omit<ApiRequest, 'staff'> = {}): Promise<T> {
	return expectOk(await staffApi<T>(event, path, request));
}

/** A form's fields as strings (files and repeated fields are read by the caller). */
export function formFields(form: FormData): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [key, value] of form) if (typeof value === 'string' && !(key in out)) out[key] = value;
	return out;
}

/**
 * A raw call to the staff API for answers that are not JSON (CSV downloads), with the same
 * cookie and CSRF forwarding as staffApi. No session → the sign-in page; a role that may
 * not → the 403 page; the API unreachable → 503.
 */
export async function staffFetch(event: RequestEvent, path: string): Promise<Response> {
	const base = env.CHORUS_API_URL;
	if (!base) error(503, { message: 'Service unavailable', code: 'api_unavailable' });
	const headers: Record<string, string> = { 'x-chorus-internal': env.CHORUS_INTERNAL_SECRET ?? '', 'x-chorus-csrf': '1' };
	const cookie = staffCookieHeader(event);
	if (cookie) headers.cookie = cookie;
	let response: Response;
	try {
		response = await fetch(new URL(path, base.endsWith('/') ? base : `${base}/`), { headers, redirect: 'error', signal: AbortSignal.timeout(60_000) });
	} catch {
		error(503, { message: 'Service unavailable', code: 'api_unavailable' });
	}
	if (response.status === 401) {
		await response.body?.cancel();
		redirect(303, loginPath(event));
	}
	if (response.status === 403) {
		await response.body?.cancel();
		error(403, { message: 'Forbidden', code: 'forbidden' });
	}
	if (!response.ok) {
		await response.body?.cancel();
		error(response.status >= 500 ? 503 : response.status, { message: 'Error', code: 'api_error' });
	}
	return response;
}

/** An API error's issues as field → message, for forms (the first message per field). */
export function issuesByField(body: { issues?: { path: string; message: string }[]; message?: string }): Record<string, string> {
	const out: Record<string, string> = {};
	for (const i of body.issues ?? []) if (!(i.path in out)) out[i.path] = i.message;
	if (!body.issues?.length && body.message) out[''] = body.message;
	return out;
}
