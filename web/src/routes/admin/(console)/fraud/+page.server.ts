import { fail } from '@sveltejs/kit';
import type { ApiBody, ApiQuery } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, refusal, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

const FILTER_KEYS = ['actionId', 'emailDomain', 'ip', 'network', 'ipHash', 'netHash', 'from', 'to', 'namePattern', 'status'] as const;
/** the filter form's fields in the order it shows them */
const FILTER_FORM_ORDER = ['actionId', 'emailDomain', 'namePattern', 'status', 'from', 'to', 'ip', 'network', 'ipHash', 'netHash'];
const CRITERIA = FILTER_KEYS.filter((k) => k !== 'actionId' && k !== 'status');

/** A datetime-local value ("2026-11-28T15:00") is read as UTC, as the form says. */
function utc(value: string): string {
	return /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(value) ? `${value.length === 16 ? `${value}:00` : value}Z` : value;
}

function filterFrom(params: URLSearchParams | Record<string, string>): Record<string, string> {
	const get = (k: string) => (params instanceof URLSearchParams ? params.get(k) : params[k]) ?? '';
	const out: Record<string, string> = {};
	for (const k of FILTER_KEYS) {
		const v = get(k).trim();
		if (v !== '') out[k] = k === 'from' || k === 'to' ? utc(v) : v;
	}
	return out;
}

// Fraud: the filter is a GET form, so a preview is a link staff can share; invalidating is a
// POST that repeats the preview's bound (asOf) and count. Campaigners and admins only; each
// preview is in the audit log (the API records it).
export const load: PageServerLoad = async (event) => {
	const filter = filterFrom(event.url.searchParams);
	const values = Object.fromEntries(FILTER_KEYS.map((k) => [k, event.url.searchParams.get(k) ?? '']));
	const staff = staffApi(event);
	const { actions } = expectOk(await staff.GET('/api/admin/dashboard', { params: { query: { range: 'day', locale: event.locals.locale } } }));
	const searched = CRITERIA.some((k) => filter[k] !== undefined);
	if (!searched) return { actions, values, filter, preview: null, problem: null, needAction: false };
	// every search is within one action (the API refuses it otherwise): say so in the staff member's language
	if (!filter.actionId) return { actions, values, filter, preview: null, problem: null, needAction: true };
	// the filter goes as typed: the API refuses an address or a date that is not one, by name
	const result = await staff.GET('/api/admin/fraud/signatures', { params: { query: formBody<ApiQuery<'/api/admin/fraud/signatures'>>(filter) } });
	if (result.error) return { actions, values, filter, preview: null, problem: formProblem(event, result, FILTER_FORM_ORDER), needAction: false };
	return { actions, values, filter, preview: result.data, problem: null, needAction: false };
};

export const actions: Actions = {
	invalidate: async (event) => {
		const form = formFields(await event.request.formData());
		let filter: Record<string, string>;
		try {
			filter = filterFrom(JSON.parse(form.filter ?? '{}') as Record<string, string>);
		} catch {
			return fail(422, { failed: refusal(event, { error: { statusCode: 422, error: 'Unprocessable Entity', code: 'form_damaged', message: 'The form was damaged; preview again.' }, response: new Response(null, { status: 422 }) }) });
		}
		const result = await staffApi(event).POST('/api/admin/fraud/invalidate', {
			body: formBody<ApiBody<'/api/admin/fraud/invalidate', 'post'>>({ filter, asOf: form.asOf, expectedCount: Number(form.expectedCount), reason: form.reason?.trim() || 'fraud' })
		});
		if (result.error) return fail(result.response.status, { failed: refusal(event, result), code: result.error.code });
		return { done: result.data, actionId: filter.actionId ?? null };
	}
};
