import { fail, redirect } from '@sveltejs/kit';
import type { ApiBody, ApiQuery } from '$lib/api/types';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, staffApi, type FormProblem } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

const KEYS = ['kind', 'actionId', 'status', 'from', 'to', 'country', 'includePersonal', 'emailsWithoutConsent'] as const;
/** the form's fields in the order it shows them */
const FILTER_ORDER = ['kind', 'actionId', 'status', 'from', 'to', 'country', 'includePersonal', 'emailsWithoutConsent', 'reason'];
const CHECKBOXES = ['includePersonal', 'emailsWithoutConsent'] as const;

/** A date input's value ("2026-11-28") is read as the start of that day in UTC. */
function filterFrom(get: (k: string) => string | null): Record<string, string> {
	const out: Record<string, string> = {};
	for (const k of KEYS) {
		const v = (get(k) ?? '').trim();
		if (v === '') continue;
		out[k] = (k === 'from' || k === 'to') && /^\d{4}-\d\d-\d\d$/.test(v) ? `${v}T00:00:00Z` : v;
	}
	for (const k of CHECKBOXES) if (out[k] !== undefined) out[k] = out[k] === 'on' || out[k] === 'true' ? 'true' : 'false';
	return out;
}

// Exports: choose a filter, see how many rows it gives, start the export, then follow it on
// its own page (which refreshes itself until the file is ready).
export const load: PageServerLoad = async (event) => {
	const params = event.url.searchParams;
	const values: Record<string, string> = Object.fromEntries(KEYS.map((k) => [k, params.get(k) ?? '']));
	// a status per kind (signatures and letters have their own): the chosen kind's counts
	const oldStatus = values.status ?? '';
	const sigStatus = params.get('sigStatus') ?? (values.kind !== 'LETTERS' ? oldStatus : '');
	const letterStatus = params.get('letterStatus') ?? (values.kind === 'LETTERS' ? oldStatus : '');
	values.sigStatus = sigStatus;
	values.letterStatus = letterStatus;
	values.status = values.kind === 'LETTERS' ? letterStatus : sigStatus;
	const staff = staffApi(event);
	const [dash, list] = await Promise.all([
		staff.GET('/api/admin/dashboard', { params: { query: { range: 'day', locale: event.locals.locale } } }).then(expectOk),
		staff.GET('/api/admin/exports').then(expectOk)
	]);
	let count: number | null = null;
	let problem: FormProblem | null = null;
	if (values.kind) {
		const query = formBody<ApiQuery<'/api/admin/exports/count'>>(filterFrom((k) => params.get(k)));
		const result = await staff.GET('/api/admin/exports/count', { params: { query } });
		if (result.error) problem = formProblem(event, result, FILTER_ORDER);
		else count = result.data.count;
	}
	return { actions: dash.actions, exports: list.exports, values, count, problem };
};

export const actions: Actions = {
	start: async (event) => {
		const form = formFields(await event.request.formData());
		const body: Record<string, string> = filterFrom((k) => form[k] ?? null);
		// every address (admins only) needs a stated reason, asked for on the start form
		if (body.emailsWithoutConsent === 'true') body.reason = (form.reason ?? '').trim();
		const result = await staffApi(event).POST('/api/admin/exports', { body: formBody<ApiBody<'/api/admin/exports', 'post'>>(body) });
		if (result.error) {
			const { errors, message } = formProblem(event, result, FILTER_ORDER);
			return fail(result.response.status, { failed: Object.values(errors)[0] ?? message, errors, code: result.error.code, reason: form.reason ?? '' });
		}
		redirect(303, `/admin/exports/${result.data.job.id}?live=1`);
	}
};
