import { fail, redirect } from '@sveltejs/kit';
import type { ApiBody, ApiError } from '$lib/api/types';
import { numberField, parseMilestones } from '$lib/admin/forms';
import { expectOk } from '$lib/server/api';
import { formBody, formFields, formProblem, refusal, staffApi } from '$lib/server/staff';
import { issueMessage } from '$lib/admin/problems';
import { adminT } from '$lib/i18n/admin/dict';
import { actionsText } from '$lib/i18n/admin/actions';
import type { Actions, PageServerLoad, RequestEvent } from './$types';



const CONFIRMABLE = ['publish', 'close', 'archive', 'reopen', 'pause', 'resume'] as const;
type Confirmable = (typeof CONFIRMABLE)[number];
/** the outcomes a redirect may announce (?done=...) */
const DONE = ['created', 'saved', 'published', 'closed', 'archived', 'paused', 'resumed', 'removed', 'targets', 'thresholds', 'update', 'paper_previewed', 'paper_counted', 'paper_withdrawn'] as const;

export const load: PageServerLoad = async (event) => {
	const action = expectOk(await staffApi(event).GET('/api/admin/actions/{id}', { params: { path: { id: event.params.id } } }));
	const confirm = event.url.searchParams.get('confirm');
	const thresholds = expectOk(
		await staffApi(event).GET('/api/admin/actions/{id}/thresholds', { params: { path: { id: event.params.id }, query: { locale: event.locals.locale } } })
	);
	const updates = expectOk(await staffApi(event).GET('/api/admin/actions/{id}/updates', { params: { path: { id: event.params.id } } }));
	const { imports: paper } = expectOk(await staffApi(event).GET('/api/admin/actions/{id}/paper-imports', { params: { path: { id: event.params.id } } }));
	return {
		action,
		thresholds,
		updates,
		paper,
		confirm: (CONFIRMABLE as readonly string[]).includes(confirm ?? '') ? (confirm as Confirmable) : null,
		// a new action arrives with ?created=1 (from the new action form)
		done: event.url.searchParams.get('created') === '1' ? 'created' : (DONE.find((d) => d === event.url.searchParams.get('done')) ?? null)
	};
};

/** The settings form's fields in the order it shows them. */
const SETTINGS_FIELDS = ['goal', 'milestones', 'targetMode', 'allowPersonalisation', 'maxLetterLength', 'replyTo'];

const action = (event: { params: { id: string } }) => ({ path: { id: event.params.id } });

/** After a change: back to the action, saying what was done; or the API's refusal on the page. */
function after(event: RequestEvent, result: { error?: ApiError; response: Response }, done: string) {
	if (result.error) {
		const issues = (result.error.issues ?? []).map((i) => ({ path: i.path, message: issueMessage(event.locals.locale, i) }));
		return fail(result.response.status, { error: refusal(event, result), issues });
	}
	redirect(303, `/admin/actions/${event.params.id}?done=${done}`);
}

export const actions: Actions = {
	publish: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/publish', { params: action(event) }), 'published'),
	close: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/close', { params: action(event) }), 'closed'),
	archive: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/archive', { params: action(event) }), 'archived'),
	pause: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/signing', { params: action(event), body: { enabled: false } }), 'paused'),
	resume: async (event) => after(event, await staffApi(event).POST('/api/admin/actions/{id}/signing', { params: action(event), body: { enabled: true } }), 'resumed'),
	settings: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi(event).PATCH('/api/admin/actions/{id}', {
			params: action(event),
			body: formBody<ApiBody<'/api/admin/actions/{id}', 'patch'>>({
				goal: numberField(values.goal),
				milestones: parseMilestones(values.milestones ?? ''),
				targetMode: values.targetMode,
				// a petition's form has no letter fields: what the form does not show, it does not change
				...(values.maxLetterLength === undefined
					? {}
					: { allowPersonalisation: values.allowPersonalisation === 'on', maxLetterLength: numberField(values.maxLetterLength) }),
				replyTo: values.replyTo ?? ''
			})
		});
		if (result.error) return fail(422, { settingsErrors: formProblem(event, result, SETTINGS_FIELDS).errors, values });
		redirect(303, `/admin/actions/${event.params.id}?done=saved`);
	},
	thresholds: async (event) => {
		const values = formFields(await event.request.formData());
		const result = await staffApi(event).PUT('/api/admin/actions/{id}/thresholds', {
			params: action(event),
			body: formBody<ApiBody<'/api/admin/actions/{id}/thresholds', 'put'>>({
				counts: parseMilestones(values.counts ?? ''),
				respondWithinDays: numberField(values.respondWithinDays)
			})
		});
		if (result.error) {
			const problem = formProblem(event, result, ['counts', 'respondWithinDays']);
			// a reached threshold cannot be removed: the API's conflict says which
			return fail(result.response.status, { thresholdErrors: { ...problem.errors, ...(Object.keys(problem.errors).length ? {} : { counts: problem.message }) }, thresholdValues: values });
		}
		redirect(303, `/admin/actions/${event.params.id}?done=thresholds`);
	},
	update: async (event) => {
		const form = await event.request.formData();
		const values = formFields(form);
		// the languages written in: a language whose title and text are both empty is left out
		const texts: Record<string, { title: string; body: string }> = {};
		for (const [key, value] of Object.entries(values)) {
			const m = /^title_([a-z]{2,3})$/.exec(key);
			if (!m) continue;
			const body = values[`body_${m[1]}`] ?? '';
			if (value.trim() !== '' || body.trim() !== '') texts[m[1]!] = { title: value, body };
		}
		// emailing every signer cannot be undone: the box says it was meant
		if (values.confirm !== 'on') return fail(422, { updateErrors: { confirm: adminT(actionsText, event.locals.locale)('update_confirm_required') }, updateValues: values });
		const result = await staffApi(event).POST('/api/admin/actions/{id}/updates', {
			params: action(event),
			body: formBody<ApiBody<'/api/admin/actions/{id}/updates', 'post'>>({ texts })
		});
		if (result.error) {
			const fields = Object.keys(texts).flatMap((l) => [`texts.${l}.title`, `texts.${l}.body`]);
			const problem = formProblem(event, result, ['texts', ...fields]);
			const errors = Object.fromEntries(Object.entries(problem.errors).map(([k, v]) => [k.replace(/^texts\.([a-z]+)\.(title|body)$/, '$2_$1'), v]));
			return fail(result.response.status, { updateErrors: Object.keys(errors).length ? errors : { texts: problem.message }, updateValues: values });
		}
		redirect(303, `/admin/actions/${event.params.id}?done=update`);
	},
	paper: async (event) => {
		const form = await event.request.formData();
		const values = formFields(form);
		const file = form.get('file');
		const csv = file instanceof File ? await file.text() : '';
		const result = await staffApi(event).POST('/api/admin/actions/{id}/paper-imports', {
			params: action(event),
			body: formBody<ApiBody<'/api/admin/actions/{id}/paper-imports', 'post'>>({
				filename: file instanceof File ? file.name.slice(0, 200) : '',
				event: values.event ?? '',
				collectedOn: values.collectedOn ?? '',
				consentVersion: values.consentVersion ?? '',
				namesToOfficials: values.namesToOfficials === 'on',
				csv
			})
		});
		if (result.error) {
			const problem = formProblem(event, result, ['event', 'collectedOn', 'consentVersion', 'csv']);
			// a file's problems are by line: each is listed as the API names it
			const lines = (result.error.issues ?? []).filter((i) => /^(line \d+|file)/.test(i.path)).map((i) => `${i.path}: ${issueMessage(event.locals.locale, i)}`);
			return fail(result.response.status, { paperErrors: { ...problem.errors, ...(lines.length || Object.keys(problem.errors).length ? {} : { csv: problem.message }) }, paperLines: lines, paperValues: values });
		}
		redirect(303, `/admin/actions/${event.params.id}?done=paper_previewed#paper-heading`);
	},
	paperCount: async (event) => {
		const values = formFields(await event.request.formData());
		return after(event, await staffApi(event).POST('/api/admin/paper-imports/{id}/count', { params: { path: { id: values.import ?? '' } } }), 'paper_counted');
	},
	paperWithdraw: async (event) => {
		const values = formFields(await event.request.formData());
		return after(event, await staffApi(event).POST('/api/admin/paper-imports/{id}/withdraw', { params: { path: { id: values.import ?? '' } } }), 'paper_withdrawn');
	}
};
