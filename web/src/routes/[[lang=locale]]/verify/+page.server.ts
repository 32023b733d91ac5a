import type { TextKey } from '$lib/i18n';
import type { ApiData } from '$lib/api/types';
import { fail, type RequestEvent } from '@sveltejs/kit';
import { api, errorPage } from '$lib/server/api';
import { formatDate } from '$lib/dates';
import { actionPath } from '$lib/paths';
import { chainHash, verifyInclusion } from '$shared/merkle';
import type { Actions, PageServerLoad } from './$types';

// Checking a receipt: a plain POST form, so it works without JavaScript and the code stays out
// of the address bar, the browser's history and any access log (a GET form would put it in all
// three). A link with ?code= is still answered, for whoever chooses to keep one, with the
// form's status when it is refused. The page asks
// the API (GET /api/receipts/{code}, server to server) and then checks the proof and the chain
// itself, with the same hashing anyone can redo: it says "checked" only when its own
// recomputation leads to the published root.

/** Longer than any way of writing a code (the API takes 64 characters at most): refused here. */
const MAX_TYPED = 100;

type Receipt = ApiData<'/api/receipts/{code}'>;

/** What the code's holder reads about it. */
interface Checked {
	status: Receipt['status'];
	title: string;
	actionHref: string;
	day: string;
	/** the proof and the chain, as the API gave them, with this page's own verdict */
	commitment: (NonNullable<NonNullable<Receipt['delivery']>['commitment']> & { holds: boolean }) | null;
	/** the delivery made before deliveries committed to their signatures */
	uncommitted: boolean;
	leaf: string;
}

const hex = (s: string) => Buffer.from(s, 'hex');

/** The API's answer, checked here: the proof leads from the leaf to the root, and the chain root follows. */
function check(r: Receipt): boolean {
	const c = r.delivery?.commitment;
	if (!c) return false;
	const proof = c.proof.map((s) => ({ side: s.side, hash: hex(s.hash) }));
	const chained = chainHash(c.chain.previous === null ? null : hex(c.chain.previous), hex(c.root), c.leafCount).toString('hex') === c.chain.root;
	return c.verified && chained && (c.chain.index === 1) === (c.chain.previous === null) && verifyInclusion(hex(r.leaf), proof, hex(c.root));
}

/** The words for what the API refused, by its status and the issue's code. */
function refusal(status: number, issue: string | undefined): TextKey | null {
	if (status === 404) return 'verify_error_not_found';
	if (status === 429) return 'err_rate_limited';
	if (status === 400 || status === 414) {
		if (issue === 'required') return 'verify_error_required';
		if (issue === 'too_short') return 'verify_error_too_short';
		if (issue === 'too_long' || status === 414) return 'verify_error_too_long';
		return 'verify_error_invalid';
	}
	return null;
}

type Answer = { code: string; error: TextKey | null; checked: Checked | null };

/** The answer to a typed code, and the HTTP status it goes with (200, or the refusal's). */
async function answer(event: RequestEvent, typed: string): Promise<{ status: number; answer: Answer }> {
	const { locale } = event.locals;
	const code = typed.slice(0, MAX_TYPED);
	if (typed.trim() === '') return { status: 400, answer: { code, error: 'verify_error_required', checked: null } };
	if (typed.length > MAX_TYPED) return { status: 400, answer: { code, error: 'verify_error_too_long', checked: null } };

	const result = await api(event).GET('/api/receipts/{code}', { params: { path: { code: typed }, query: { locale } } });
	if (result.error) {
		const error = refusal(result.response.status, result.error.issues?.[0]?.code);
		if (!error) errorPage(result);
		return { status: result.response.status === 414 ? 400 : result.response.status, answer: { code, error, checked: null } };
	}
	const r = result.data;
	const c = r.delivery?.commitment ?? null;
	const checked: Checked = {
		status: r.status,
		title: r.action.title,
		actionHref: actionPath(locale, r.action.slug),
		day: r.delivery ? formatDate(locale, `${r.delivery.day}T00:00:00Z`) : '',
		commitment: c ? { ...c, holds: check(r) } : null,
		uncommitted: r.delivery !== null && c === null,
		leaf: r.leaf
	};
	// the code as written, in the field: the holder sees it was read right
	return { status: 200, answer: { code: r.code, error: null, checked } };
}

export const load: PageServerLoad = async (event) => {
	const typed = event.url.searchParams.get('code');
	// the form, empty (or answered by the action below, which the page reads first)
	if (typed === null) return { code: '', error: null, checked: null } as Answer;
	const { status, answer: a } = await answer(event, typed);
	// a refused link answers as the form does: 400, 404 or 429, with the same page
	if (status !== 200) event.locals.pageStatus = status;
	return a;
};

export const actions: Actions = {
	default: async (event) => {
		// a body that is no form at all reads as an empty field: refused as such, never a 500
		const typed = (await event.request.formData().catch(() => null))?.get('code');
		const { status, answer: a } = await answer(event, typeof typed === 'string' ? typed : '');
		return status === 200 ? a : fail(status, a);
	}
};
