// The embeddable sign form (in an iframe on other sites, see /widget.js): the same fields,
// consents and double opt-in as the action page, posted to the same API. It sets no cookie,
// and it is the only page other sites may frame (hooks.server.ts). Personal letters are
// written on the action page itself; here the action's own letter is sent.
import { error, fail, redirect } from '@sveltejs/kit';
import type { TextKey } from '$lib/i18n';
import { api, expectOk, getAction, type SignAccepted, type SignRequest } from '$lib/server/api';
import { countryOptions, isCountryCode } from '$lib/server/countries';
import { localePath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';

const FIELDS = ['firstName', 'lastName', 'email', 'country', 'consentCount', 'consentNamed', 'consentNamedToOwnCountry', 'consentWall', 'consentContact'] as const;
type Field = (typeof FIELDS)[number];
const CONSENTS = ['consentCount', 'consentNamed', 'consentNamedToOwnCountry', 'consentWall', 'consentContact'] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const FORBIDDEN = /[<>\p{Cc}]/u;

export const load: PageServerLoad = async (event) => {
	const { locale } = event.locals;
	const action = expectOk(await getAction(event, event.params.slug, locale));
	const canSign = action.status === 'PUBLISHED' && action.signingOpen;
	const source = event.url.searchParams.get('source') ?? '';
	return {
		action: { slug: action.slug, title: action.title, summary: action.summary, kind: action.kind, count: action.count, goal: action.goal, locale: action.locale },
		canSign,
		countryOptions: canSign ? countryOptions(locale) : [],
		source: /^[A-Za-z0-9._~:-]{1,100}$/.test(source) ? source : 'embed'
	};
};

function checked(form: FormData, name: string): boolean {
	const v = form.get(name);
	return typeof v === 'string' && ['yes', 'on', 'true', '1'].includes(v.trim().toLowerCase());
}

function str(form: FormData, name: string, max: number): string {
	const v = form.get(name);
	return typeof v === 'string' ? v.slice(0, max) : '';
}

export const actions: Actions = {
	sign: async (event) => {
		const { locale } = event.locals;
		const slug = event.params.slug ?? '';
		const form = await event.request.formData().catch(() => new FormData());
		const values = {
			firstName: str(form, 'firstName', 400),
			lastName: str(form, 'lastName', 400),
			email: str(form, 'email', 1000),
			country: str(form, 'country', 10).trim().toUpperCase(),
			consentCount: checked(form, 'consentCount'),
			consentNamed: checked(form, 'consentNamed'),
			consentNamedToOwnCountry: checked(form, 'consentNamedToOwnCountry'),
			consentWall: checked(form, 'consentWall'),
			consentContact: checked(form, 'consentContact'),
			source: str(form, 'source', 100)
		};
		const errors: Partial<Record<Field, TextKey>> = {};
		for (const f of ['firstName', 'lastName'] as const) {
			const v = values[f].trim();
			if (!v) errors[f] = `err_${f}_required`;
			else if (v.length > 100 || FORBIDDEN.test(v)) errors[f] = `err_${f}_invalid`;
		}
		const email = values.email.trim();
		if (!email) errors.email = 'err_email_required';
		else if (email.length > 254 || !EMAIL.test(email)) errors.email = 'err_email_invalid';
		if (!isCountryCode(values.country)) errors.country = 'err_country_required';
		if (!values.consentCount) errors.consentCount = 'err_consentCount_required';
		if (values.consentNamedToOwnCountry && !values.consentNamed) errors.consentNamedToOwnCountry = 'err_consentNamedToOwnCountry_needs_named';
		if (Object.keys(errors).length > 0) return fail(422, { values, errors, formError: undefined as TextKey | undefined });

		const body: SignRequest = {
			firstName: values.firstName.trim(),
			lastName: values.lastName.trim(),
			email,
			country: values.country,
			consentCount: true,
			consentNamed: values.consentNamed,
			consentNamedToOwnCountry: values.consentNamedToOwnCountry,
			consentWall: values.consentWall,
			consentContact: values.consentContact,
			locale,
			website: str(form, 'website', 1000)
		};
		if (/^[A-Za-z0-9._~:-]{1,100}$/.test(values.source)) body.source = values.source;
		const result = await api<SignAccepted>(event, `/api/actions/${encodeURIComponent(slug)}/signatures`, { method: 'POST', body });
		if (result.ok) redirect(303, localePath(locale, `/embed/${slug}/check-email`));
		if (result.status === 404) error(404, { message: result.body.message || 'Not found', code: 'action_not_found' });
		if (result.status === 422) {
			for (const issue of result.body.issues ?? []) {
				const field = issue.path.split('.')[0] as Field;
				if (FIELDS.includes(field) && !errors[field]) {
					errors[field] = (CONSENTS as readonly string[]).includes(field) ? 'err_consent_invalid' : field === 'country' ? 'err_country_required' : (`err_${field}_invalid` as TextKey);
				}
			}
		}
		const formError: TextKey = result.status === 409 ? (result.body.code === 'signing_paused' ? 'action_paused_text' : 'action_closed_text') : result.status === 429 ? 'err_rate_limited' : 'err_form_generic';
		return fail(result.status, { values, errors, formError: Object.keys(errors).length > 0 ? undefined : formError });
	}
};
