// The embeddable sign form (in an iframe on other sites, see /widget.js): the same fields,
// consents and double opt-in as the action page, posted to the same API and checked with the
// same schema. It sets no cookie, and it is the only page other sites may frame
// (hooks.server.ts). Personal letters are written on the action page itself; here the action's
// own letter is sent.
import { error, fail, redirect } from '@sveltejs/kit';
import type { TextKey } from '$lib/i18n';
import { api, expectOk, getAction } from '$lib/server/api';
import { checkSign, honeypot, readSignValues, signErrors, sourceTag, SIGN_LIMITS, type SignRequest } from '$lib/server/sign-form';
import { countryOptions } from '$lib/server/countries';
import { localePath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const { locale } = event.locals;
	const action = expectOk(await getAction(event, event.params.slug, locale));
	const canSign = action.status === 'PUBLISHED' && action.signingOpen;
	return {
		action: { slug: action.slug, title: action.title, summary: action.summary, kind: action.kind, count: action.count, goal: action.goal, locale: action.locale },
		canSign,
		countryOptions: canSign ? countryOptions(locale) : [],
		source: sourceTag(event.url.searchParams.get('source')) ?? 'embed',
		limits: SIGN_LIMITS
	};
};

export const actions: Actions = {
	sign: async (event) => {
		const { locale } = event.locals;
		const slug = event.params.slug ?? '';
		const form = await event.request.formData().catch(() => new FormData());
		const values = readSignValues(form);
		const request: SignRequest = {
			firstName: values.firstName.trim(),
			lastName: values.lastName.trim(),
			email: values.email.trim(),
			country: values.country,
			consentCount: values.consentCount,
			consentNamed: values.consentNamed,
			consentNamedToOwnCountry: values.consentNamedToOwnCountry,
			consentWall: values.consentWall,
			consentContact: values.consentContact,
			locale,
			website: honeypot(form),
			source: sourceTag(values.source)
		};
		const errors = checkSign(values, request);
		if (Object.keys(errors).length > 0) return fail(422, { values, errors, formError: undefined as TextKey | undefined });

		const result = await api(event).POST('/api/actions/{slug}/signatures', { params: { path: { slug } }, body: request });
		if (!result.error) redirect(303, localePath(locale, `/embed/${slug}/check-email`));
		const status = result.response.status;
		if (status === 404) error(404, { message: result.error.message || 'Not found', code: 'action_not_found' });
		const refused = status === 422 ? signErrors(result.error.issues ?? []).errors : {};
		const formError: TextKey =
			status === 409 ? (result.error.code === 'signing_paused' ? 'action_paused_text' : 'action_closed_text') : status === 429 ? 'err_rate_limited' : 'err_form_generic';
		return fail(status, { values, errors: refused, formError: Object.keys(refused).length > 0 ? undefined : formError });
	}
};
