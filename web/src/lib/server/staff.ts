// The console's way to the staff API: the visitor's session cookie and the CSRF header go
// with every call. No session (401) sends the visitor to the sign-in page; a role that may
// not (403 forbidden) becomes the 403 page. Other answers come back to inspect.
import { error, redirect, type RequestEvent } from '@sveltejs/kit';
import { api, expectOk, type ApiRequest } from './api';
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
