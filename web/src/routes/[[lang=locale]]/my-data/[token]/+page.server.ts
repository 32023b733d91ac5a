import { fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { LOCALE_NAMES, isLocale, type Locale, type TextKey } from '$lib/i18n';
import { ConsentPurpose, SignatureStatus } from '$shared/enums';
import type { ApiBody, ApiError, MyDataExport } from '$lib/api/types';
import { api, errorPage, expectOk } from '$lib/server/api';
import { countryName } from '$lib/server/countries';
import { checkedToken } from '$lib/server/token';
import { formatDateTime, formatDateTimeShort } from '$lib/dates';
import { actionPath, myDataPath } from '$lib/paths';
import { consentWording, type Wording } from '$lib/consent-wording';
import type { Actions, PageServerLoad } from './$types';

type ConsentChange = ApiBody<'/api/my-data/{token}/consents', 'post'>;
/** the consents a supporter can change from their data page */
type ChangeablePurpose = ConsentChange['purpose'];

const PURPOSES: readonly ChangeablePurpose[] = ['NAMED_DISCLOSURE', 'NAMED_TO_OWN_COUNTRY', 'PUBLIC_WALL', 'CONTACT'];
const KNOWN_PURPOSES = new Set<string>([ConsentPurpose.COUNT, ...PURPOSES]);
const STATUSES = new Set<string>(Object.values(SignatureStatus));

function isPurpose(value: unknown): value is ChangeablePurpose {
	return typeof value === 'string' && (PURPOSES as readonly string[]).includes(value);
}

function languageName(code: string | null | undefined): string {
	if (!code) return '';
	return isLocale(code) ? LOCALE_NAMES[code] : code;
}

/** Whether we may email this supporter about our actions: their last CONTACT choice, unless they unsubscribed since. */
function receivesEmails(data: MyDataExport): boolean {
	const last = data.consentHistory
		.filter((c) => c.purpose === 'CONTACT')
		.reduce<MyDataExport['consentHistory'][number] | undefined>(
			(latest, c) => (!latest || Date.parse(c.createdAt) >= Date.parse(latest.createdAt) ? c : latest),
			undefined
		);
	if (!last?.granted) return false;
	const unsubscribed = data.supporter.unsubscribedAt ? Date.parse(data.supporter.unsubscribedAt) : NaN;
	return Number.isNaN(unsubscribed) || unsubscribed < Date.parse(last.createdAt);
}

/** The export, as the page shows it: names for codes, dates for people. */
function view(data: MyDataExport, locale: Locale) {
	const titles = new Map(data.signatures.map((s) => [s.action.slug, s.action.title]));
	const { supporter } = data;
	return {
		exportedAt: formatDateTime(locale, data.exportedAt),
		details: {
			email: supporter.email ?? '',
			firstName: supporter.firstName ?? '',
			lastName: supporter.lastName ?? '',
			country: supporter.country ? countryName(locale, supporter.country) : '',
			language: languageName(supporter.locale),
			since: formatDateTime(locale, supporter.createdAt)
		},
		receivesEmails: receivesEmails(data),
		signatures: data.signatures.map((s) => ({
			id: s.id,
			title: s.action.title,
			href: actionPath(locale, s.action.slug),
			status: STATUSES.has(s.status) ? (`status_${s.status}` as TextKey) : null,
			rawStatus: s.status,
			signed: formatDateTime(locale, s.createdAt),
			confirmed: formatDateTime(locale, s.confirmedAt),
			// choices exist only on a signature its owner confirmed; a set-aside sign-up holds none
			confirmedEver: s.confirmedAt !== null,
			setAside: s.status === 'INVALIDATED' && s.confirmedAt === null,
			country: s.country ? countryName(locale, s.country) : '',
			language: languageName(s.locale),
			letterSubject: s.letterSubject,
			letterBody: s.letterBody,
			// the receipt of a signature that was confirmed (and still counts): GET /api/receipts/{code}
			receipt: s.status === 'CONFIRMED' ? s.receipt : null,
			consents: s.consents
		})),
		history: historyByAction(data, locale, titles)
	};
}

/** The consent history, one group per action (in order of first appearance), then the choices tied to none. */
function historyByAction(data: MyDataExport, locale: Locale, titles: Map<string, string>) {
	const groups = new Map<string, { slug: string | null; title: string | null; entries: HistoryEntry[] }>();
	for (const c of data.consentHistory) {
		const key = c.actionSlug ?? '';
		let group = groups.get(key);
		if (!group) {
			group = { slug: c.actionSlug, title: c.actionSlug ? (titles.get(c.actionSlug) ?? c.actionSlug) : null, entries: [] };
			groups.set(key, group);
		}
		group.entries.push({
			date: formatDateTimeShort(locale, c.createdAt),
			at: c.createdAt,
			purpose: KNOWN_PURPOSES.has(c.purpose) ? (`purpose_${c.purpose}` as TextKey) : null,
			rawPurpose: c.purpose,
			granted: c.granted,
			// where and when the words were shown, and the words: not the version's id
			wording: consentWording(locale, String(c.wordingVersion ?? ''), c.purpose, c.granted)
		});
	}
	return [...groups.values()].sort((a, b) => Number(a.slug === null) - Number(b.slug === null));
}

interface HistoryEntry {
	date: string;
	at: string;
	purpose: TextKey | null;
	rawPurpose: string;
	granted: boolean;
	wording: Wording;
}

/** The data link's token, as the API's path parameter. */
function tokenParam(event: RequestEvent) {
	return { path: { token: checkedToken(event.params.token) } };
}

export const load: PageServerLoad = async (event) => {
	const params = tokenParam(event);
	const data = expectOk(await api(event).GET('/api/my-data/{token}', { params }));
	return {
		data: view(data, event.locals.locale),
		// the same API, as a file: a same-origin link, so the token goes nowhere else
		downloadHref: `/api/my-data/${params.path.token}?download=1`
	};
};

/** What the forms on this page hand back. */
interface MyDataFormState {
	saved: boolean;
	consentError: TextKey | undefined;
	eraseError: TextKey | undefined;
	/** the signature whose "also to my own country" box was not ticked */
	ownConfirmFor: string | undefined;
}

function state(extra: Partial<MyDataFormState>): MyDataFormState {
	return { saved: false, consentError: undefined, eraseError: undefined, ownConfirmFor: undefined, ...extra };
}

/** Expired or unknown links become their error page; other refusals stay on the page. */
function refused(result: { error: ApiError; response: Response }, extra: (key: TextKey) => Partial<MyDataFormState>) {
	const status = result.response.status;
	if (status === 404 || status === 410) errorPage(result);
	const key: TextKey =
		status === 429 ? 'err_rate_limited' : result.error.code === 'needs_named_disclosure' ? 'my_data_own_needs_named' : 'err_form_generic';
	return fail(status, state(extra(key)));
}

export const actions: Actions = {
	consent: async (event) => {
		const form = await event.request.formData().catch(() => new FormData());
		const purpose = form.get('purpose');
		const granted = form.get('granted');
		const signatureId = form.get('signatureId');
		if (!isPurpose(purpose) || (granted !== 'true' && granted !== 'false')) {
			return fail(400, state({ consentError: 'err_form_generic' }));
		}
		const change: ConsentChange = { purpose, granted: granted === 'true' };
		if (purpose !== 'CONTACT') {
			if (typeof signatureId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(signatureId)) {
				return fail(400, state({ consentError: 'err_form_generic' }));
			}
			change.signatureId = signatureId;
			// naming a signer to their own government is asked twice: the button, and a box saying
			// they understand what it can cost them (as erasing is)
			if (purpose === 'NAMED_TO_OWN_COUNTRY' && change.granted && form.get('understood') !== 'yes') {
				return fail(422, state({ consentError: 'err_own_confirm_required', ownConfirmFor: signatureId }));
			}
		}
		const result = await api(event).POST('/api/my-data/{token}/consents', { params: tokenParam(event), body: change });
		if (result.error) return refused(result, (key) => ({ consentError: key === 'err_form_generic' ? 'my_data_save_failed' : key }));
		return state({ saved: true });
	},

	erase: async (event) => {
		const form = await event.request.formData().catch(() => new FormData());
		// the box sends "yes" when ticked; an empty or other value is not a confirmation
		if (form.get('confirm') !== 'yes') return fail(422, state({ eraseError: 'err_erase_confirm_required' }));
		const result = await api(event).POST('/api/my-data/{token}/erase', { params: tokenParam(event), body: { confirm: true } });
		if (result.error) return refused(result, (key) => ({ eraseError: key }));
		redirect(303, myDataPath(event.locals.locale, 'erased'));
	}
};
