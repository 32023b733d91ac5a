import { error, fail, redirect } from '@sveltejs/kit';
import { publicBaseUrl } from '$lib/server/base-url';
import type { TextKey } from '$lib/i18n';
import { api, expectOk, getAction, type SignAccepted, type SignRequest } from '$lib/server/api';
import { countryName, countryOptions, isCountryCode } from '$lib/server/countries';
import { actionPath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';

const TOP_COUNTRIES = 10;

export const load: PageServerLoad = async (event) => {
	const { locale } = event.locals;
	const action = expectOk(await getAction(event, event.params.slug, locale));

	const countries = [...action.countries]
		.sort((a, b) => b.count - a.count)
		.slice(0, TOP_COUNTRIES)
		.map((c) => ({ code: c.country, name: countryName(locale, c.country), count: c.count }));

	const canSign = action.status === 'PUBLISHED' && action.signingOpen;
	const baseUrl = publicBaseUrl(event.url);
	const source = event.url.searchParams.get('source') ?? '';

	return {
		action,
		targets: action.targets.map((t) => ({
			name: t.name,
			role: [t.title, t.organisation].filter((part): part is string => Boolean(part && part.trim())).join(', ')
		})),
		countries,
		countryCount: action.countries.length,
		canSign,
		countryOptions: canSign ? countryOptions(locale) : [],
		source: /^[A-Za-z0-9._~:-]{1,100}$/.test(source) ? source : '',
		ogUrl: baseUrl + actionPath(locale, action.slug)
	};
};

const FIELDS = ['firstName', 'lastName', 'email', 'country', 'consentCount', 'consentNamed', 'consentWall', 'consentContact'] as const;
type SignField = (typeof FIELDS)[number];

interface SignValues {
	firstName: string;
	lastName: string;
	email: string;
	country: string;
	consentCount: boolean;
	consentNamed: boolean;
	consentWall: boolean;
	consentContact: boolean;
	source: string;
}

type SignErrors = Partial<Record<SignField, TextKey>>;

// The same loose check as the browser's type=email; the API has the final word.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const FORBIDDEN = /[<>\p{Cc}]/u;

function text(form: FormData, name: string, max: number): string {
	const value = form.get(name);
	return typeof value === 'string' ? value.slice(0, max) : '';
}

function validate(v: SignValues): SignErrors {
	const errors: SignErrors = {};
	const first = v.firstName.trim();
	const last = v.lastName.trim();
	const email = v.email.trim();
	if (!first) errors.firstName = 'err_firstName_required';
	else if (first.length > 100 || FORBIDDEN.test(first)) errors.firstName = 'err_firstName_invalid';
	if (!last) errors.lastName = 'err_lastName_required';
	else if (last.length > 100 || FORBIDDEN.test(last)) errors.lastName = 'err_lastName_invalid';
	if (!email) errors.email = 'err_email_required';
	else if (email.length > 254 || !EMAIL.test(email)) errors.email = 'err_email_invalid';
	if (!isCountryCode(v.country)) errors.country = 'err_country_required';
	if (!v.consentCount) errors.consentCount = 'err_consentCount_required';
	return errors;
}

/** The API's 422 issues, as translated messages on our fields (or on the whole form). */
function fromIssues(issues: { path: string; message: string }[] | undefined): { errors: SignErrors; formError?: TextKey } {
	const errors: SignErrors = {};
	let formError: TextKey | undefined;
	for (const issue of issues ?? []) {
		const field = issue.path.split('.')[0] as SignField;
		if (!FIELDS.includes(field)) {
			formError = 'err_form_generic';
			continue;
		}
		if (errors[field]) continue;
		switch (field) {
			case 'firstName':
			case 'lastName':
			case 'email':
				errors[field] = `err_${field}_invalid`;
				break;
			case 'country':
				errors.country = 'err_country_required';
				break;
			case 'consentCount':
				errors.consentCount = 'err_consentCount_required';
				break;
			default:
				errors[field] = 'err_consent_invalid';
		}
	}
	if (Object.keys(errors).length === 0 && !formError) formError = 'err_form_generic';
	return { errors, formError };
}

export const actions: Actions = {
	sign: async (event) => {
		const { locale } = event.locals;
		const slug = event.params.slug;
		const form = await event.request.formData().catch(() => new FormData());

		const values: SignValues = {
			firstName: text(form, 'firstName', 400),
			lastName: text(form, 'lastName', 400),
			email: text(form, 'email', 1000),
			country: text(form, 'country', 10).trim().toUpperCase(),
			consentCount: form.has('consentCount'),
			consentNamed: form.has('consentNamed'),
			consentWall: form.has('consentWall'),
			consentContact: form.has('consentContact'),
			source: text(form, 'source', 100)
		};

		const errors = validate(values);
		if (Object.keys(errors).length > 0) {
			return fail(422, { values, errors, formError: undefined, closed: undefined });
		}

		const body: SignRequest = {
			firstName: values.firstName.trim(),
			lastName: values.lastName.trim(),
			email: values.email.trim(),
			country: values.country,
			consentCount: true,
			consentNamed: values.consentNamed,
			consentWall: values.consentWall,
			consentContact: values.consentContact,
			locale,
			website: text(form, 'website', 1000)
		};
		if (/^[A-Za-z0-9._~:-]{1,100}$/.test(values.source)) body.source = values.source;

		const result = await api<SignAccepted>(event, `/api/actions/${encodeURIComponent(slug)}/signatures`, {
			method: 'POST',
			body
		});

		if (result.ok) redirect(303, actionPath(locale, slug, 'check-email'));

		switch (result.status) {
			case 422: {
				const mapped = fromIssues(result.body.issues);
				return fail(422, { values, errors: mapped.errors, formError: mapped.formError, closed: undefined });
			}
			case 409: {
				const closed = result.body.code === 'signing_paused' ? ('signing_paused' as const) : ('action_closed' as const);
				return fail(409, { values, errors: {} as SignErrors, formError: undefined, closed });
			}
			case 429:
				return fail(429, { values, errors: {} as SignErrors, formError: 'err_rate_limited' as TextKey, closed: undefined });
			case 404:
				return error(404, { message: result.body.message || 'Not found', code: result.body.code || 'action_not_found' });
			default:
				return fail(result.status, { values, errors: {} as SignErrors, formError: 'err_form_generic' as TextKey, closed: undefined });
		}
	}
};
