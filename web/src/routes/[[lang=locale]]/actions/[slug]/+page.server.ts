import { error, fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { publicBaseUrl } from '$lib/server/base-url';
import type { Locale, TextKey } from '$lib/i18n';
import { api, expectOk, getAction } from '$lib/server/api';
import type { ActionDetail, ApiError } from '$lib/api/types';
import { letterText } from '$shared/sign-form';
import {
	checkPreview,
	checkSign,
	honeypot,
	readSignValues,
	signErrors,
	sourceTag,
	SIGN_LIMITS,
	type LetterPreviewRequest,
	type SignErrors,
	type SignRequest,
	type SignValues
} from '$lib/server/sign-form';
import { countryName, countryOptions } from '$lib/server/countries';
import { formatDate } from '$lib/dates';
import { actionPath } from '$lib/paths';
import { shareLinks } from '$lib/share';
import { foreignLang, languageName, listComma, t } from '$lib/i18n';
import type { Actions, PageServerLoad } from './$types';

const TOP_COUNTRIES = 10;

function role(parts: (string | null | undefined)[], locale: string): string {
	return parts.filter((part): part is string => Boolean(part && part.trim())).join(listComma(locale));
}

/** The `lang` of a text shown on a page in `locale`: none when it is in the page's language. */
const langOf = foreignLang;

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

	return {
		action,
		personalisable: personalisable(action),
		byCountry: action.targetMode === 'BY_SIGNER_COUNTRY',
		targets: action.targets.map((g) => ({
			name: g.name,
			role: role([g.title, g.organisation], locale),
			lang: langOf(g.locale, locale),
			roleLang: langOf(g.roleLocale, locale)
		})),
		countries,
		countryCount: action.countries.length,
		// the signers of countries below the public minimum, counted together (never one of them by name)
		otherCountries: action.otherCountries + beyondTop,
		countryMin: action.countryMin,
		// the API gives the day only (YYYY-MM-DD): the page shows no finer time for a person
		wall: action.wall.map((entry) => {
			const day = entry.at.slice(0, 10);
			return { firstName: entry.firstName, country: countryName(locale, entry.country), at: day, when: formatDate(locale, `${day}T00:00:00Z`) };
		}),
		// the officials' published answers (`responses` in the API)
		answers: action.responses.map((r) => ({
			name: r.target.name,
			role: role([r.target.title, r.target.organisation], locale),
			lang: langOf(r.target.locale, locale),
			roleLang: langOf(r.target.roleLocale, locale),
			body: r.body,
			// the answer's own language where it is not the page's: set as its `lang`, and named above it
			bodyLang: langOf(r.locale, locale),
			bodyLanguage: r.locale !== locale ? languageName(locale, r.locale) : null,
			// staff's summary is never passed off as the official's words
			summary: r.summary,
			// an acknowledgement of receipt is labelled as one, never passed off as an answer
			acknowledgement: r.acknowledgement,
			publishedAt: r.publishedAt,
			published: formatDate(locale, r.publishedAt),
			attachments: r.attachments.map((f) => ({ ...f, href: `/api/answers/${r.id}/attachments/${f.id}` }))
		})),
		canSign,
		countryOptions: canSign ? countryOptions(locale) : [],
		source: sourceTag(event.url.searchParams.get('source')) ?? '',
		limits: SIGN_LIMITS,
		ogUrl: baseUrl + actionPath(locale, action.slug),
		// plain links to each service's own share page: nothing of theirs loads here
		share: shareLinks(
			`${baseUrl}${actionPath(locale, action.slug)}?source=share`,
			action.shareText || t(locale, 'share_default_text', { title: action.title }),
			t(locale, 'share_email')
		)
	};
};

/** What every form action hands back to the page. */
export interface FormState {
	values: SignValues;
	errors: SignErrors;
	formError: TextKey | undefined;
	closed: 'action_closed' | 'signing_paused' | undefined;
	/** the letter previews, after "Preview my letter" */
	previews: PreviewView[] | undefined;
}

export interface PreviewView {
	name: string;
	role: string;
	/** the `lang` of the official's name and of their role, where not the page's */
	nameLang: string | undefined;
	roleLang: string | undefined;
	subject: string;
	text: string;
	/** the letter's language (greeting and sign-off included), as the `lang` of its text */
	lang: string;
	/** the letter's language, named in the page's language */
	language: string;
	/** the member's own text, not the action's letter */
	own: boolean;
	/** why the member's name is not in it, or null when it is */
	withheld: 'not_chosen' | 'own_country' | 'no_name' | null;
}

function state(values: SignValues, extra: Partial<Omit<FormState, 'values'>> = {}): FormState {
	return { values, errors: {}, formError: undefined, closed: undefined, previews: undefined, ...extra };
}

/** The action's own letter, which a form without letter fields keeps. */
function actionLetter(action: ActionDetail) {
	return { subject: action.letterSubject, body: action.letterBody, maxLength: action.maxLetterLength };
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

/** An answer of the API other than success, as the form's state (or an error page). */
function failure(result: { error: ApiError; response: Response }, values: SignValues) {
	const { code, issues } = result.error;
	switch (result.response.status) {
		case 422: {
			const mapped = signErrors(issues ?? []);
			const formError = mapped.formError ?? (Object.keys(mapped.errors).length === 0 ? 'err_form_generic' : undefined);
			return fail(422, state(values, { errors: mapped.errors, formError }));
		}
		case 409:
			return fail(409, state(values, { closed: code === 'signing_paused' ? 'signing_paused' : 'action_closed' }));
		case 429:
			return fail(429, state(values, { formError: 'err_rate_limited' }));
		case 404:
			return error(404, { message: result.error.message || 'Not found', code: code || 'action_not_found' });
		default:
			return fail(result.response.status, state(values, { formError: 'err_form_generic' }));
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
		const values = readSignValues(form, actionLetter(action));

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
			source: sourceTag(values.source),
			...ownLetter(values, action)
		};
		const errors = checkSign(values, request, personalisable(action) ? { maxLength: action.maxLetterLength } : undefined);
		if (Object.keys(errors).length > 0) return fail(422, state(values, { errors }));

		const result = await api(event).POST('/api/actions/{slug}/signatures', { params: { path: { slug } }, body: request });
		if (!result.error) redirect(303, actionPath(locale, slug, 'check-email'));
		return failure(result, values);
	},

	preview: async (event) => {
		const locale: Locale = event.locals.locale;
		const slug = event.params.slug ?? '';
		const [form, actionResult] = await Promise.all([readForm(event), getAction(event, slug, locale)]);
		const action = expectOk(actionResult);
		// only personalisable letters have the button; anything else just shows the page
		if (!personalisable(action)) redirect(303, actionPath(locale, slug));
		const values = readSignValues(form, actionLetter(action));

		const own = ownLetter(values, action);
		const request: LetterPreviewRequest = {
			...own,
			consentNamed: values.consentNamed,
			consentNamedToOwnCountry: values.consentNamedToOwnCountry,
			locale,
			firstName: values.firstName.trim() || undefined,
			lastName: values.lastName.trim() || undefined,
			country: values.country || undefined
		};
		const errors = checkPreview(values, request, action.maxLetterLength);
		if (Object.keys(errors).length > 0) return fail(422, state(values, { errors }));

		const result = await api(event).POST('/api/actions/{slug}/letter-preview', { params: { path: { slug } }, body: request });
		if (result.error) return failure(result, values);

		const previews: PreviewView[] = result.data.previews.map((p) => ({
			name: p.target.name,
			role: role([p.target.title, p.target.organisation], locale),
			nameLang: langOf(p.target.nameLocale, locale),
			roleLang: langOf(p.target.roleLocale, locale),
			subject: p.subject,
			text: p.text,
			lang: p.locale,
			language: languageName(locale, p.locale),
			own: p.own,
			withheld: p.withheld
		}));
		return state(values, { previews });
	}
};
