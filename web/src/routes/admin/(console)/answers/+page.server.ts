import { fail } from '@sveltejs/kit';
import { AnswerStatus } from '$shared/enums';
import { expectOk } from '$lib/server/api';
import { formFields, formProblem, staffApi } from '$lib/server/staff';
import { adminT } from '$lib/i18n/admin/dict';
import { answers as answerWords } from '$lib/i18n/admin/answers';
import type { Actions, PageServerLoad } from './$types';

const STATUSES = Object.values(AnswerStatus);

// Answers from officials: those awaiting review first (the default filter).
export const load: PageServerLoad = async (event) => {
	const raw = event.url.searchParams.get('status');
	const status = raw === 'all' ? undefined : (STATUSES.find((s) => s === raw) ?? AnswerStatus.RECEIVED);
	const api = staffApi(event);
	const [{ answers }, { owed }] = await Promise.all([
		api.GET('/api/admin/answers', { params: { query: { status } } }).then(expectOk),
		api.GET('/api/admin/answers/owed', { params: { query: { locale: event.locals.locale } } }).then(expectOk)
	]);
	return { answers, owed, status: status ?? 'all' };
};

export const actions: Actions = {
	publish: async (event) => {
		const f = formFields(await event.request.formData());
		// a first publication (not of an acknowledgement, which emails nobody) needs its box ticked
		if (!f.republish && f.confirm !== 'yes' && f.acknowledgement !== '1') {
			return fail(422, { error: adminT(answerWords, event.locals.locale)('publish_confirm_required'), errors: {}, id: f.id, confirmMissing: true });
		}
		const result = await staffApi(event).POST('/api/admin/answers/{id}/publish', {
			params: { path: { id: f.id ?? '' } },
			body: { publicSummary: f.publicSummary ?? '' }
		});
		if (result.error) {
			const { errors, message } = formProblem(event, result, ['publicSummary']);
			// one field: what is wrong with it says it best
			return fail(result.response.status, { error: errors.publicSummary ?? message, errors, id: f.id });
		}
		return { done: f.republish ? ('updated' as const) : ('published' as const), n: result.data.notificationsOwed, id: f.id };
	},
	reject: async (event) => {
		const f = formFields(await event.request.formData());
		const result = await staffApi(event).POST('/api/admin/answers/{id}/reject', { params: { path: { id: f.id ?? '' } } });
		if (result.error) return fail(result.response.status, { error: formProblem(event, result).message, errors: {}, id: f.id });
		return { done: 'rejected' as const, n: 0, id: f.id };
	}
};
