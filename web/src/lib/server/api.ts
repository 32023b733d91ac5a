// The one way pages reach the Chorus API: server-side only, at CHORUS_API_URL, with the
// internal secret and the visitor's address. Never called from the browser.
import { env } from '$env/dynamic/private';
import { error, type RequestEvent } from '@sveltejs/kit';
import type { ActionDetail, ActionList, ApiErrorBody, ApiResult } from '$lib/api-types';

export type * from '$lib/api-types';

export interface ApiRequest {
	method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
	query?: Record<string, string | undefined>;
	body?: unknown;
	/** staff console calls: forward the visitor's staff session cookie and the CSRF header */
	staff?: boolean;
}

const STAFF_COOKIES = ['chorus_staff', '__Host-chorus_staff'];

/** The staff session cookie of this request, as a Cookie header value (nothing else is forwarded). */
export function staffCookieHeader(event: RequestEvent): string | undefined {
	for (const name of STAFF_COOKIES) {
		const value = event.cookies.get(name);
		if (value) return `${name}=${value}`;
	}
	return undefined;
}

const TIMEOUT_MS = 10_000;

/** Emailed tokens travel in API paths; they never reach the logs. */
export function redactPath(path: string): string {
	return path.replace(/\/(confirmations|unsubscribe|my-data|packets)\/(?!requests(?:[/?]|$))[^/?#]+/g, '/$1/[token]').replace(/\?.*$/, '');
}

function unavailable(reason: string, cause?: unknown): never {
	console.error(`[chorus-web] API unavailable: ${reason}`, cause instanceof Error ? cause.message : (cause ?? ''));
	error(503, { message: 'Service unavailable', code: 'api_unavailable' });
}

function clientAddress(event: RequestEvent): string {
	try {
		return event.getClientAddress();
	} catch {
		return '';
	}
}

function isErrorBody(value: unknown): value is ApiErrorBody {
	return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string';
}

/**
 * Calls the API. Answers below 500 come back as a result to inspect; an API that cannot
 * be reached, times out or answers 5xx becomes a 503 error page (code `api_unavailable`).
 */
export async function api<T>(event: RequestEvent, path: string, request: ApiRequest = {}): Promise<ApiResult<T>> {
	const base = env.CHORUS_API_URL;
	if (!base) unavailable('CHORUS_API_URL is not set');

	const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
	for (const [key, value] of Object.entries(request.query ?? {})) {
		if (value !== undefined) url.searchParams.set(key, value);
	}

	const headers: Record<string, string> = {
		accept: 'application/json',
		'x-chorus-internal': env.CHORUS_INTERNAL_SECRET ?? '',
		'x-chorus-client-ip': clientAddress(event)
	};
	if (request.body !== undefined) headers['content-type'] = 'application/json';
	if (request.staff) {
		const cookie = staffCookieHeader(event);
		if (cookie) headers.cookie = cookie;
		headers['x-chorus-csrf'] = '1';
	}

	let response: Response;
	try {
		response = await fetch(url, {
			method: request.method ?? 'GET',
			headers,
			body: request.body === undefined ? undefined : JSON.stringify(request.body),
			redirect: 'error',
			signal: AbortSignal.timeout(TIMEOUT_MS)
		});
	} catch (cause) {
		unavailable(`${request.method ?? 'GET'} ${redactPath(path)} failed`, cause);
	}

	if (response.status >= 500) {
		await response.body?.cancel();
		unavailable(`${request.method ?? 'GET'} ${redactPath(path)} answered ${response.status}`);
	}

	if (response.status === 204) {
		await response.body?.cancel();
		return { ok: true, status: 204, data: null as T, headers: response.headers };
	}
	let payload: unknown;
	try {
		payload = await response.json();
	} catch (cause) {
		unavailable(`${request.method ?? 'GET'} ${redactPath(path)} answered ${response.status} without JSON`, cause);
	}

	if (response.ok) return { ok: true, status: response.status, data: payload as T, headers: response.headers };
	const body: ApiErrorBody = isErrorBody(payload)
		? payload
		: { statusCode: response.status, error: response.statusText, code: 'unknown', message: '' };
	return { ok: false, status: response.status, body };
}

/**
 * For loads: the data, or the matching error page (404 with the API's code, 410, 429...).
 */
export function expectOk<T>(result: ApiResult<T>): T {
	if (result.ok) return result.data;
	error(result.status, { message: result.body.message || result.body.error || 'Error', code: result.body.code });
}

export function getAction(event: RequestEvent, slug: string, locale: string): Promise<ApiResult<ActionDetail>> {
	return api<ActionDetail>(event, `/api/actions/${encodeURIComponent(slug)}`, { query: { locale } });
}

export function listActions(event: RequestEvent, locale: string): Promise<ApiResult<ActionList>> {
	return api<ActionList>(event, '/api/actions', { query: { locale } });
}
