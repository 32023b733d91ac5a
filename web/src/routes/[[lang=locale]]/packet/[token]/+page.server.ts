import { fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { isLocale, t } from '$lib/i18n';
import type { ApiBody } from '$lib/api/types';
import { api, expectOk } from '$lib/server/api';
import { countryName } from '$lib/server/countries';
import { checkedToken } from '$lib/server/token';
import { isEnumValue, AnswerStatus } from '$shared/enums';
import { attachmentTypeOfName, isAttachmentType, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, type AttachmentType } from '$shared/attachments';
import { formatDate, formatDateTime } from '$lib/dates';
import { localePath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';

// The page for the official who received a letter. Loading it records the letter as opened
// (so does a mail scanner that fetches the link). Answers go to staff for review.
export const load: PageServerLoad = async (event) => {
	const token = checkedToken(event.params.token);
	const packet = expectOk(await api(event).GET('/api/packets/{token}', { params: { path: { token } } }));
	const letterLocale = packet.letter.locale;
	// an address without a language prefix opens in the letter's language
	if (!event.locals.localeFromPath && isLocale(letterLocale) && letterLocale !== event.locals.locale) {
		redirect(307, localePath(letterLocale, `/packet/${token}`));
	}
	const { locale } = event.locals;
	return {
		packet,
		target: [packet.target.name, packet.target.title, packet.target.organisation].filter((p) => p && p.trim()).join(', '),
		sentOn: formatDate(locale, packet.letter.sentAt),
		countries: packet.countries.map((c) => ({ code: c.country, name: countryName(locale, c.country), count: c.count })),
		signers: packet.signers.map((s) => ({
			name: s.name,
			country: s.country ? countryName(locale, s.country) : null,
			confirmedAt: s.confirmedAt,
			confirmedOn: formatDate(locale, `${s.confirmedAt}T00:00:00Z`)
		})),
		// the answers this official gave before (`responses` in the API)
		answers: packet.responses.map((r) => ({
			...r,
			attachments: r.attachments.map((a) => ({ ...a, url: `/api/packets/${token}/attachments/${a.id}`, kb: Math.max(1, Math.round(a.size / 1024)) })),
			received: formatDateTime(locale, r.receivedAt),
			statusKey: isEnumValue(AnswerStatus, r.status) ? (`packet_answer_${r.status}` as const) : null
		})),
		pdfUrl: `/api/packets/${token}/packet.pdf`,
		csvUrl: `/api/packets/${token}/packet.csv`
	};
};

/** The type a browser declared, or the one the file name says when it declared none of ours; undefined: none we take. */
function fileType(f: File): AttachmentType | undefined {
	const declared = f.type.split(';')[0]!.trim().toLowerCase();
	return isAttachmentType(declared) ? declared : attachmentTypeOfName(f.name);
}

async function answer(event: RequestEvent, acknowledgeOnly: boolean) {
	const token = checkedToken(event.params.token);
	// a body that is not a form (wrong content type, broken encoding) is an empty form: a 4xx, not a 500
	const form = await event.request.formData().catch(() => new FormData());
	const raw = form.get('body');
	const body = acknowledgeOnly ? t(event.locals.locale, 'packet_ack_body') : typeof raw === 'string' ? raw : '';
	if (!acknowledgeOnly && body.trim() === '') {
		return fail(422, { error: 'empty' as const, body });
	}
	const request: ApiBody<'/api/packets/{token}/responses', 'post'> = acknowledgeOnly ? { body, acknowledgeOnly: true } : { body };
	if (!acknowledgeOnly) {
		// files travel to the API as base64; the API checks their type, bytes and size
		const files = form.getAll('attachments').filter((f): f is File => typeof f !== 'string' && f.size > 0);
		const typed = files.flatMap((f) => {
			const type = fileType(f);
			return type ? [{ f, type }] : [];
		});
		if (files.length > MAX_ATTACHMENTS || typed.length < files.length || files.some((f) => f.size > MAX_ATTACHMENT_BYTES)) {
			return fail(422, { error: 'attachment' as const, body });
		}
		if (files.length) {
			request.attachments = await Promise.all(
				typed.map(async ({ f, type }) => ({ filename: f.name.slice(0, 200) || 'attachment', contentType: type, data: Buffer.from(await f.arrayBuffer()).toString('base64') }))
			);
		}
	}
	const result = await api(event).POST('/api/packets/{token}/responses', { params: { path: { token } }, body: request });
	if (!result.error) return { sent: true as const, acknowledged: acknowledgeOnly };
	const status = result.response.status;
	const aboutFiles = result.error.code.startsWith('attachment') || (result.error.issues ?? []).some((i) => i.path.split('.')[0] === 'attachments');
	if (status === 422 && aboutFiles) {
		return fail(422, { error: 'attachment' as const, body });
	}
	if (status === 422) {
		// each cause its own words: the issue's code says which (shared/issues.ts)
		const code = (result.error.issues ?? []).find((i) => i.path === 'body')?.code;
		const error = code === 'required' ? ('empty' as const) : code === 'too_long' ? ('too_long' as const) : code === 'forbidden_characters' ? ('characters' as const) : ('invalid' as const);
		return fail(422, { error, body: acknowledgeOnly ? '' : body });
	}
	if (status === 409) return fail(409, { error: 'too_many' as const, body: acknowledgeOnly ? '' : body });
	return expectOk(result);
}

export const actions: Actions = {
	answer: (event) => answer(event, false),
	acknowledge: (event) => answer(event, true)
};
