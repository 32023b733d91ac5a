// The one way pages reach the Chorus API: server-side only, at CHORUS_API_URL, with the
// internal secret and the visitor's address. Never called from the browser.
//
// The client is typed by the API's own OpenAPI document (openapi-fetch over $lib/api/schema,
// generated at build time): a path, its parameters, its body and its answer are checked against
// the route schemas on the server.
//
//   const result = await api(event).GET('/api/actions/{slug}', { params: { path: { slug }, query: { locale } } });
//   if (result.error) ... result.response.status, result.error.code, result.error.issues
//   else ... result.data
//
// Answers below 500 come back to inspect (an error as the API's error body); an API that cannot
// be reached, times out, answers 5xx or answers something that is not JSON becomes a 503 error
// page (code `api_unavailable`).
import { env } from '$env/dynamic/private';
import { error, type RequestEvent } from '@sveltejs/kit';
import createClient, { type Client } from 'openapi-fetch';
import type { ApiError, paths } from '$lib/api/types';
import type { Locale } from '$lib/i18n';

export type Api = Client<paths>;

/** What a call answers: its data, or the API's error body, and the response either way. */
export type ApiResult<T> = { data: T; error?: never; response: Response } | { data?: never; error: ApiError; response: Response };

export interface ApiOptions {
	/** staff console calls: forward the visitor's staff session cookie and the CSRF header */
	staffSession?: boolean;
	/** how long a call may take (default 10 s) */
	timeoutMs?: number;
	/** the answer is a file (CSV): a success that is not JSON is passed on as it is (`parseAs: 'stream'`) */
	download?: boolean;
	/** checks each answer before the page sees it (the console's: no session → sign-in page) */
	inspect?: (response: Response, body: ApiError | undefined) => void;
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

/** Emailed tokens and receipt codes travel in API paths; they never reach the logs. */
export function redactPath(path: string): string {
	return path.replace(/\/(confirmations|unsubscribe|my-data|packets|receipts)\/(?!requests(?:[/?]|$))[^/?#]+/g, '/$1/[token]').replace(/\?.*$/, '');
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

function isErrorBody(value: unknown): value is ApiError {
	return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string';
}

const isJson = (response: Response) => /^application\/(?:[\w.+-]*\+)?json\b/i.test(response.headers.get('content-type') ?? '');

/**
 * Sends one request: the API unreachable, slow, failing or answering other than JSON (a file,
 * where one was asked for, aside) becomes the 503 page; an error answer that is not the API's
 * error body becomes one (code `unknown`).
 */
async function send(request: Request, opts: ApiOptions): Promise<Response> {
	const what = `${request.method} ${redactPath(new URL(request.url).pathname)}`;
	let response: Response;
	try {
		response = await fetch(request, { signal: AbortSignal.timeout(opts.timeoutMs ?? TIMEOUT_MS) });
	} catch (cause) {
		unavailable(`${what} failed`, cause);
	}
	if (response.status >= 500) {
		await response.body?.cancel();
		unavailable(`${what} answered ${response.status}`);
	}
	if (response.status === 204) {
		opts.inspect?.(response, undefined);
		return response;
	}
	if (response.ok && !isJson(response) && opts.download) {
		opts.inspect?.(response, undefined);
		return response;
	}
	let text = '';
	let payload: unknown;
	try {
		if (isJson(response)) {
			text = await response.text();
			payload = JSON.parse(text) as unknown;
		} else await response.body?.cancel();
	} catch (cause) {
		unavailable(`${what} answered ${response.status} without JSON`, cause);
	}
	if (response.ok && payload === undefined) unavailable(`${what} answered ${response.status} without JSON`);
	if (!response.ok && !isErrorBody(payload)) {
		const body: ApiError = { statusCode: response.status, error: response.statusText, code: 'unknown', message: '' };
		payload = body;
		text = JSON.stringify(body);
	}
	opts.inspect?.(response, response.ok ? undefined : (payload as ApiError));
	// the body was read: the client gets it again (headers as they were, cookies included)
	const headers = new Headers(response.headers);
	headers.delete('content-length');
	headers.delete('content-encoding');
	headers.set('content-type', 'application/json');
	return new Response(text, { status: response.status, statusText: response.statusText, headers });
}

/** The API client for this page request. */
export function api(event: RequestEvent, opts: ApiOptions = {}): Api {
	const base = env.CHORUS_API_URL;
	if (!base) unavailable('CHORUS_API_URL is not set');
	const headers: Record<string, string> = {
		accept: 'application/json',
		'x-chorus-internal': env.CHORUS_INTERNAL_SECRET ?? '',
		'x-chorus-client-ip': clientAddress(event)
	};
	if (opts.staffSession) {
		const cookie = staffCookieHeader(event);
		if (cookie) headers.cookie = cookie;
		headers['x-chorus-csrf'] = '1';
	}
	return createClient<paths>({
		baseUrl: base.replace(/\/+$/, ''),
		headers,
		redirect: 'error',
		fetch: (request) => send(request, opts)
	});
}

/**
 * For loads: the data, or the matching error page (404 with the API's code, 410, 429...).
 */
export function expectOk<R extends ApiResult<unknown>>(result: R): Exclude<R['data'], undefined> {
	const refused = result.error;
	if (refused === undefined) return result.data as Exclude<R['data'], undefined>;
	errorPage({ error: refused, response: result.response });
}

/** The error page for an API's refusal: its status, with the API's code. */
export function errorPage(result: { error: ApiError; response: Response }): never {
	error(result.response.status, { message: result.error.message || result.error.error || 'Error', code: result.error.code });
}

/** One action as the pages show it, in the reader's language. */
export function getAction(event: RequestEvent, slug: string, locale: Locale) {
	return api(event).GET('/api/actions/{slug}', { params: { path: { slug }, query: { locale } } });
}

/** The published actions, in the reader's language. */
export function listActions(event: RequestEvent, locale: Locale) {
	return api(event).GET('/api/actions', { params: { query: { locale } } });
}
