// The sign form on the pages (the action page and the embedded form): what a post holds, checked
// with the API's own schema ($shared/sign-form) before it is sent, and the API's refusals. A
// problem, found here or by the API, is shown by its field and its issue code, never by the
// API's English text.
import { letterPreviewFormSchema, letterText, signFormSchema, SIGN_LIMITS, SOURCE_PATTERN } from '$shared/sign-form';
import { issueCode, issuePath, type IssueCode } from '$shared/issues';
import type { TextKey } from '$lib/i18n';
import type { ApiBody, ApiIssue } from '$lib/api/types';

export { SIGN_LIMITS };

export const SIGN_FIELDS = [
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
export type SignField = (typeof SIGN_FIELDS)[number];
export type SignErrors = Partial<Record<SignField, TextKey>>;

export type SignRequest = ApiBody<'/api/actions/{slug}/signatures', 'post'>;
export type LetterPreviewRequest = ApiBody<'/api/actions/{slug}/letter-preview', 'post'>;

/** The form as it was posted (to show again when something is wrong). */
export interface SignValues {
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

/** A text field as it was typed: never cut, so the page can show it again and say what is wrong. */
function text(form: FormData, name: string): string {
	const value = form.get(name);
	return typeof value === 'string' ? value : '';
}

/**
 * A ticked checkbox: browsers send its value ("yes") or nothing. A post that sends the field
 * empty, or with any other value, has not ticked it.
 */
function checked(form: FormData, name: string): boolean {
	const value = form.get(name);
	return typeof value === 'string' && ['yes', 'on', 'true', '1'].includes(value.trim().toLowerCase());
}

/**
 * The posted form, as typed: nothing is cut (the request's size limit bounds it), so a field
 * over its limit comes back whole with a message saying so. `letter`: the action's own
 * letter, kept when the form has no letter fields.
 */
export function readSignValues(form: FormData, letter?: { subject: string; body: string; maxLength: number }): SignValues {
	return {
		letterSubject: form.has('letterSubject') ? text(form, 'letterSubject') : (letter?.subject ?? ''),
		letterBody: form.has('letterBody') ? text(form, 'letterBody') : (letter?.body ?? ''),
		firstName: text(form, 'firstName'),
		lastName: text(form, 'lastName'),
		email: text(form, 'email'),
		country: text(form, 'country').trim().toUpperCase(),
		consentCount: checked(form, 'consentCount'),
		consentNamed: checked(form, 'consentNamed'),
		consentNamedToOwnCountry: checked(form, 'consentNamedToOwnCountry'),
		consentWall: checked(form, 'consentWall'),
		consentContact: checked(form, 'consentContact'),
		source: text(form, 'source')
	};
}

/** The honeypot field, hidden from people (who leave it empty), passed on within its limit. */
export function honeypot(form: FormData): string {
	return text(form, 'website').slice(0, SIGN_LIMITS.website);
}

/** A campaign source worth passing on, or undefined. */
export function sourceTag(value: string | null | undefined): string | undefined {
	return value && value.length <= SIGN_LIMITS.source && SOURCE_PATTERN.test(value) ? value : undefined;
}

/** The message for one problem with one field of the form. */
function messageFor(field: SignField, code: IssueCode | undefined): TextKey {
	switch (field) {
		case 'letterSubject':
		case 'letterBody':
			if (code === 'required' || code === 'too_long' || code === 'links' || code === 'forbidden_characters') return `err_${field}_${code}`;
			return `err_${field}_invalid`;
		case 'firstName':
		case 'lastName':
			if (code === 'required' || code === 'too_long' || code === 'forbidden_characters') return `err_${field}_${code}`;
			return `err_${field}_invalid`;
		case 'email':
			if (code === 'required' || code === 'too_long') return `err_email_${code}`;
			return 'err_email_invalid';
		case 'country':
			return 'err_country_required';
		case 'consentCount':
			return code === 'required' ? 'err_consentCount_required' : 'err_consent_invalid';
		default:
			return 'err_consent_invalid';
	}
}

const RANKED: readonly (IssueCode | undefined)[] = ['required', 'too_long', 'forbidden_characters', 'links'];
const rank = (code: IssueCode | undefined) => (RANKED.includes(code) ? RANKED.indexOf(code) : RANKED.length);

function isSignField(value: string): value is SignField {
	return (SIGN_FIELDS as readonly string[]).includes(value);
}

/**
 * Problems (the API's issues, or the schema's here) as messages on the form's fields; one
 * about anything else (a field the form does not show) is a message on the whole form.
 */
export function signErrors(issues: readonly Pick<ApiIssue, 'path' | 'code'>[]): { errors: SignErrors; formError: TextKey | undefined } {
	const errors: SignErrors = {};
	let formError: TextKey | undefined;
	// where a field has several problems, the one that says most: empty, too long, a link, then the rest
	for (const issue of [...issues].sort((a, b) => rank(a.code) - rank(b.code))) {
		const field = issue.path.split('.')[0] ?? '';
		if (!isSignField(field)) {
			formError = 'err_form_generic';
			continue;
		}
		errors[field] ??= messageFor(field, issue.code);
	}
	return { errors, formError };
}

/** The issues the sign form's schema finds in a request, as the API would give them. */
function schemaIssues(schema: typeof signFormSchema | typeof letterPreviewFormSchema, request: object): Pick<ApiIssue, 'path' | 'code'>[] {
	const parsed = schema.safeParse(request);
	return parsed.success ? [] : parsed.error.issues.map((i) => ({ path: issuePath(i.path), code: issueCode(i) }));
}

/** The letter the member may write: the schema's rules, then the page's own (both parts written, within the action's length). */
function letterIssues(v: SignValues, maxLength: number): Pick<ApiIssue, 'path' | 'code'>[] {
	const issues = schemaIssues(letterPreviewFormSchema, { letterSubject: v.letterSubject, letterBody: v.letterBody });
	if (!letterText(v.letterSubject)) issues.unshift({ path: 'letterSubject', code: 'required' });
	if (!letterText(v.letterBody)) issues.unshift({ path: 'letterBody', code: 'required' });
	else if (letterText(v.letterBody).length > maxLength) issues.unshift({ path: 'letterBody', code: 'too_long' });
	return issues;
}

/** Being named to one's own officials is an addition to being named, never instead of it. */
function consentErrors(v: SignValues, errors: SignErrors): void {
	if (v.consentNamedToOwnCountry && !v.consentNamed) errors.consentNamedToOwnCountry ??= 'err_consentNamedToOwnCountry_needs_named';
}

/**
 * The problems of a signature before it is posted, with the API's schema; `letter`: the member
 * may write their own letter, up to this many characters.
 */
export function checkSign(v: SignValues, request: SignRequest, letter?: { maxLength: number }): SignErrors {
	const issues = [...(letter ? letterIssues(v, letter.maxLength) : []), ...schemaIssues(signFormSchema, request)];
	const { errors } = signErrors(issues);
	consentErrors(v, errors);
	return errors;
}

/** The problems of a letter preview: the letter must be right; the signer's details are optional. */
export function checkPreview(v: SignValues, request: LetterPreviewRequest, maxLength: number): SignErrors {
	const { errors } = signErrors([...letterIssues(v, maxLength), ...schemaIssues(letterPreviewFormSchema, request)]);
	consentErrors(v, errors);
	return errors;
}
