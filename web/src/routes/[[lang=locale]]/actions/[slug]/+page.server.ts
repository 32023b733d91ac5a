import { error, fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { publicBaseUrl } from '$lib/server/base-url';
import type { Locale, TextKey } from '$lib/i18n';
import {
	api,
	expectOk,
	getAction,
	type ActionDetail,
	type ApiResult,
	type LetterPreviewRequest,
	type LetterPreviewResult,
	type SignAccepted,
	type SignRequest
} from '$lib/server/api';
import { countryName, countryOptions, isCountryCode } from '$lib/server/countries';
import { formatDate } from '$lib/dates';
import { actionPath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';

const TOP_COUNTRIES = 10;
const MAX_SUBJECT = 200;

function role(parts: (string | null | undefined)[]): string {
	return parts.filter((part): part is string => Boolean(part && part.trim())).join(', ');
}

/** LETTER actions whose signers may write their own subject and text. */
function personalisable(action: ActionDetail): boolean {
	return action.kind === 'LETTER' && action.allowPersonalisation === true;
}

export const load: PageServerLoad = async (event) => {
	const { locale } = event.locals;
	const action = expectOk(await getAction(event, event.params.slug, locale));

	const sorted = [...action.countries].sort((a, b) => b.count - a.count);
	const countries = sorted.slice(0, TOP_COUNTRIES).map((c) => ({ code: c.country, name: countryName(locale, c.country), count: c.count }));
	// countries beyond the top ones join "other countries" on the page
	const beyondTop = sorted.slice(TOP_COUNTRIES).reduce((n, c) => n + c.count, 0);

	const canSign = action.status === 'PUBLISHED' && action.signingOpen;
	const baseUrl = publicBaseUrl(event.url);
	const source = event.url.searchParams.get('source') ?? '';

	return {
		action,
		personalisable: personalisable(action),
		byCountry: action.targetMode === 'BY_SIGNER_COUNTRY',
		targets: action.targets.map((t) => ({ name: t.name, role: role([t.title, t.organisation]) })),
		countries,
		countryCount: action.countries.length,
		// the signers of countries below the public minimum, counted together (never one of them by name)
		otherCountries: (action.otherCountries ?? 0) + beyondTop,
		countryMin: action.countryMin,
		// the API gives the day only (YYYY-MM-DD): the page shows no finer time for a person
		wall: (action.wall ?? []).map((entry) => {
			const day = entry.at.slice(0, 10);
			return { firstName: entry.firstName, country: countryName(locale, entry.country), at: day, when: formatDate(locale, `${day}T00:00:00Z`) };
		}),
		responses: (action.responses ?? []).map((r) => ({
			name: r.target.name,
			role: role([r.target.title, r.target.organisation]),
			body: r.body,
			publishedAt: r.publishedAt,
			published: formatDate(locale, r.publishedAt),
			attachments: r.id ? (r.attachments ?? []).map((f) => ({ ...f, href: `/api/answers/${r.id}/attachments/${f.id}` })) : []
		})),
		canSign,
		countryOptions: canSign ? countryOptions(locale) : [],
		source: /^[A-Za-z0-9._~:-]{1,100}$/.test(source) ? source : '',
		ogUrl: baseUrl + actionPath(locale, action.slug)
	};
};

const FIELDS = [
	'letterSubject',
	'letterBody',
	'firstName',
	'lastName',
	'email',
	'country',
	'consentCount',
	'consentNamed',
	'consentNamedToOwnCountry',
	'consentWall',
	'consentContact'
] as const;
type SignField = (typeof FIELDS)[number];

interface SignValues {
	letterSubject: string;
	letterBody: string;
	firstName: string;
	lastName: string;
	email: string;
	country: string;
	consentCount: boolean;
	consentNamed: boolean;
	consentNamedToOwnCountry: boolean;
	consentWall: boolean;
	consentContact: boolean;
	source: string;
}

type SignErrors = Partial<Record<SignField, TextKey>>;

export interface PreviewView {
	name: string;
	role: string;
	subject: string;
	text: string;
	/** the letter's language, when the member kept the action's own text */
	lang: string | undefined;
}

/** What every form action hands back to the page. */
export interface FormState {
	values: SignValues;
	errors: SignErrors;
	formError: TextKey | undefined;
	closed: 'action_closed' | 'signing_paused' | undefined;
	/** the letter previews, after "Preview my letter" */
	previews: PreviewView[] | undefined;
}

function state(values: SignValues, extra: Partial<Omit<FormState, 'values'>> = {}): FormState {
	return { values, errors: {}, formError: undefined, closed: undefined, previews: undefined, ...extra };
}

// The same loose check as the browser's type=email; the API has the final word.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const FORBIDDEN = /[<>\p{Cc}]/u;
// as the API: controls other than tab and newline, and invisible direction/format characters
const FORBIDDEN_IN_LETTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/u;
const LINK = /(https?:\/\/|www\.)/i;

function text(form: FormData, name: string, max: number): string {
	const value = form.get(name);
	return typeof value === 'string' ? value.slice(0, max) : '';
}

/**
 * A ticked checkbox: browsers send its value ("yes") or nothing. A post that sends the field
 * empty, or with any other value, has not ticked it.
 */
function checked(form: FormData, name: string): boolean {
	const value = form.get(name);
	return typeof value === 'string' && ['yes', 'on', 'true', '1'].includes(value.trim().toLowerCase());
}

/** Letter text as the API measures it: one kind of line break, NFC, no outer spaces. */
function letterText(value: string | null | undefined): string {
	return (value ?? '').replace(/\r\n?/g, '\n').normalize('NFC').trim();
}

function readValues(form: FormData, action: ActionDetail | null): SignValues {
	const maxBody = action ? action.maxLetterLength : 0;
	return {
		// a form posted without the letter fields keeps the action's text
		letterSubject: form.has('letterSubject') ? text(form, 'letterSubject', MAX_SUBJECT * 4) : (action?.letterSubject ?? ''),
		letterBody: form.has('letterBody') ? text(form, 'letterBody', maxBody * 4 + 100) : (action?.letterBody ?? ''),
		firstName: text(form, 'firstName', 400),
		lastName: text(form, 'lastName', 400),
		email: text(form, 'email', 1000),
		country: text(form, 'country', 10).trim().toUpperCase(),
		consentCount: checked(form, 'consentCount'),
		consentNamed: checked(form, 'consentNamed'),
		consentNamedToOwnCountry: checked(form, 'consentNamedToOwnCountry'),
		consentWall: checked(form, 'consentWall'),
		consentContact: checked(form, 'consentContact'),
		source: text(form, 'source', 100)
	};
}

function validateLetter(v: SignValues, action: ActionDetail, errors: SignErrors): void {
	const subject = letterText(v.letterSubject);
	const body = letterText(v.letterBody);
	if (!subject) errors.letterSubject = 'err_letterSubject_required';
	else if (subject.length > MAX_SUBJECT) errors.letterSubject = 'err_letterSubject_too_long';
	else if (LINK.test(subject)) errors.letterSubject = 'err_letterSubject_links';
	else if (FORBIDDEN_IN_LETTER.test(subject) || subject.includes('\n')) errors.letterSubject = 'err_letterSubject_invalid';
	if (!body) errors.letterBody = 'err_letterBody_required';
	else if (body.length > action.maxLetterLength) errors.letterBody = 'err_letterBody_too_long';
	else if (LINK.test(body)) errors.letterBody = 'err_letterBody_links';
	else if (FORBIDDEN_IN_LETTER.test(body)) errors.letterBody = 'err_letterBody_invalid';
}

function validateName(value: string, field: 'firstName' | 'lastName', required: boolean, errors: SignErrors): void {
	const trimmed = value.trim();
	if (!trimmed) {
		if (required) errors[field] = `err_${field}_required`;
	} else if (trimmed.length > 100 || FORBIDDEN.test(trimmed)) {
		errors[field] = `err_${field}_invalid`;
	}
}

function validateConsents(v: SignValues, errors: SignErrors): void {
	// being named to one's own officials is an addition to being named, never instead of it
	if (v.consentNamedToOwnCountry && !v.consentNamed) {
		errors.consentNamedToOwnCountry = 'err_consentNamedToOwnCountry_needs_named';
	}
}

function validateSign(v: SignValues, action: ActionDetail): SignErrors {
	const errors: SignErrors = {};
	if (personalisable(action)) validateLetter(v, action, errors);
	validateName(v.firstName, 'firstName', true, errors);
	validateName(v.lastName, 'lastName', true, errors);
	const email = v.email.trim();
	if (!email) errors.email = 'err_email_required';
	else if (email.length > 254 || !EMAIL.test(email)) errors.email = 'err_email_invalid';
	if (!isCountryCode(v.country)) errors.country = 'err_country_required';
	if (!v.consentCount) errors.consentCount = 'err_consentCount_required';
	validateConsents(v, errors);
	return errors;
}

/** For a preview only the letter must be right; the signer's details are optional. */
function validatePreview(v: SignValues, action: ActionDetail): SignErrors {
	const errors: SignErrors = {};
	validateLetter(v, action, errors);
	validateName(v.firstName, 'firstName', false, errors);
	validateName(v.lastName, 'lastName', false, errors);
	if (v.country && !isCountryCode(v.country)) errors.country = 'err_country_required';
	validateConsents(v, errors);
	return errors;
}

/**
 * The signer's own letter, if they changed the action's text; nothing otherwise, so that
 * each official keeps receiving the action's letter in their own language.
 */
function ownLetter(v: SignValues, action: ActionDetail): { letterSubject: string; letterBody: string } | undefined {
	if (!personalisable(action)) return undefined;
	const subject = letterText(v.letterSubject);
	const body = letterText(v.letterBody);
	if (subject === letterText(action.letterSubject) && body === letterText(action.letterBody)) return undefined;
	return { letterSubject: subject, letterBody: body };
}

function letterIssue(field: 'letterSubject' | 'letterBody', message: string): TextKey {
	if (/link/i.test(message)) return `err_${field}_links`;
	if (/at most|too long|maximum|exceed/i.test(message)) return `err_${field}_too_long`;
	return `err_${field}_invalid`;
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
			case 'letterSubject':
			case 'letterBody':
				errors[field] = letterIssue(field, issue.message);
				break;
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

/** An answer of the API other than success, as the form's state (or an error page). */
function failure(result: Extract<ApiResult<unknown>, { ok: false }>, values: SignValues) {
	switch (result.status) {
		case 422: {
			const mapped = fromIssues(result.body.issues);
			return fail(422, state(values, { errors: mapped.errors, formError: mapped.formError }));
		}
		case 409: {
			const closed = result.body.code === 'signing_paused' ? ('signing_paused' as const) : ('action_closed' as const);
			return fail(409, state(values, { closed }));
		}
		case 429:
			return fail(429, state(values, { formError: 'err_rate_limited' }));
		case 404:
			return error(404, { message: result.body.message || 'Not found', code: result.body.code || 'action_not_found' });
		default:
			return fail(result.status, state(values, { formError: 'err_form_generic' }));
	}
}

async function readForm(event: RequestEvent): Promise<FormData> {
	return event.request.formData().catch(() => new FormData());
}

export const actions: Actions = {
	sign: async (event) => {
		const locale: Locale = event.locals.locale;
		const slug = event.params.slug ?? '';
		const [form, actionResult] = await Promise.all([readForm(event), getAction(event, slug, locale)]);
		const action = expectOk(actionResult);
		const values = readValues(form, action);

		const errors = validateSign(values, action);
		if (Object.keys(errors).length > 0) return fail(422, state(values, { errors }));

		const body: SignRequest = {
			firstName: values.firstName.trim(),
			lastName: values.lastName.trim(),
			email: values.email.trim(),
			country: values.country,
			consentCount: true,
			consentNamed: values.consentNamed,
			consentNamedToOwnCountry: values.consentNamedToOwnCountry,
			consentWall: values.consentWall,
			consentContact: values.consentContact,
			locale,
			website: text(form, 'website', 1000),
			...ownLetter(values, action)
		};
		if (/^[A-Za-z0-9._~:-]{1,100}$/.test(values.source)) body.source = values.source;

		const result = await api<SignAccepted>(event, `/api/actions/${encodeURIComponent(slug)}/signatures`, {
			method: 'POST',
			body
		});
		if (result.ok) redirect(303, actionPath(locale, slug, 'check-email'));
		return failure(result, values);
	},

	preview: async (event) => {
		const locale: Locale = event.locals.locale;
		const slug = event.params.slug ?? '';
		const [form, actionResult] = await Promise.all([readForm(event), getAction(event, slug, locale)]);
		const action = expectOk(actionResult);
		// only personalisable letters have the button; anything else just shows the page
		if (!personalisable(action)) redirect(303, actionPath(locale, slug));
		const values = readValues(form, action);

		const errors = validatePreview(values, action);
		if (Object.keys(errors).length > 0) return fail(422, state(values, { errors }));

		const own = ownLetter(values, action);
		const body: LetterPreviewRequest = {
			...own,
			consentNamed: values.consentNamed,
			consentNamedToOwnCountry: values.consentNamedToOwnCountry,
			locale
		};
		if (values.firstName.trim()) body.firstName = values.firstName.trim();
		if (values.lastName.trim()) body.lastName = values.lastName.trim();
		if (values.country) body.country = values.country;

		const result = await api<LetterPreviewResult>(event, `/api/actions/${encodeURIComponent(slug)}/letter-preview`, {
			method: 'POST',
			body
		});
		if (!result.ok) return failure(result, values);

		const previews: PreviewView[] = result.data.previews.map((p) => ({
			name: p.target.name,
			role: role([p.target.title, p.target.organisation]),
			subject: p.subject,
			text: p.text,
			lang: own ? undefined : p.locale
		}));
		return state(values, { previews });
	}
};
