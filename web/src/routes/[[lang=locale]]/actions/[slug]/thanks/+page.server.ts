import { publicBaseUrl } from '$lib/server/base-url';
import type { ActionSummary } from '$lib/api/types';
import { expectOk, getAction, listActions } from '$lib/server/api';
import { actionPath, localePath } from '$lib/paths';
import { RECEIPT_COOKIE, receiptFrom } from '$lib/server/receipt';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const { locale } = event.locals;
	const [actionResult, listResult] = await Promise.all([
		getAction(event, event.params.slug, locale),
		listActions(event, locale)
	]);
	const action = expectOk(actionResult);

	// the suggestion: another published action, preferably one still open for signing
	const others: ActionSummary[] = (listResult.data?.actions ?? []).filter((a) => a.slug !== action.slug && a.status === 'PUBLISHED');
	const next = others.find((a) => a.signingOpen) ?? others[0] ?? null;

	const baseUrl = publicBaseUrl(event.url);
	// the receipt of the signature just confirmed, shown this once (confirm/[token] set it)
	const receipt = event.url.searchParams.get('confirmed') === '1' ? receiptFrom(event.cookies.get(RECEIPT_COOKIE)) : null;
	if (receipt) {
		event.cookies.delete(RECEIPT_COOKIE, { path: '/' });
		event.setHeaders({ 'cache-control': 'private, no-store' });
	}
	return {
		receipt,
		verifyPath: localePath(locale, '/verify'),
		confirmed: event.url.searchParams.get('confirmed') === '1',
		// the signer chose to be shown on the action's page (the confirm page says so)
		wall: event.url.searchParams.get('confirmed') === '1' && event.url.searchParams.get('wall') === '1',
		action: {
			slug: action.slug,
			title: action.title,
			locale: action.locale,
			count: action.count,
			goal: action.goal,
			shareText: action.shareText || null
		},
		shareUrl: `${baseUrl}${actionPath(locale, action.slug)}?source=share`,
		next
	};
};
