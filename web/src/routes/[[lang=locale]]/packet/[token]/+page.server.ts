import { fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { isLocale, t } from '$lib/i18n';
import type { Packet, PacketAnswer, PacketAnswerAccepted } from '$lib/api-types';
import { api, expectOk } from '$lib/server/api';
import { countryName } from '$lib/server/countries';
import { tokenSegment } from '$lib/server/token';
import { formatDate, formatDateTime } from '$lib/dates';
import { localePath } from '$lib/paths';
import type { Actions, PageServerLoad } from './$types';

// The page for the official who received a letter. Loading it records the letter as opened
// (so does a mail scanner that fetches the link). Answers go to staff for review.
export const load: PageServerLoad = async (event) => {
	const segment = tokenSegment(event.params.token);
	const packet = expectOk(await api<Packet>(event, `/api/packets/${segment}`));
	const letterLocale = packet.letter.locale;
	// an address without a language prefix opens in the letter's language
	if (!event.locals.localeFromPath && isLocale(letterLocale) && letterLocale !== event.locals.locale) {
		redirect(307, localePath(letterLocale, `/packet/${segment}`));
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
		responses: packet.responses.map((r) => ({ ...r, received: formatDateTime(locale, r.receivedAt) })),
		pdfUrl: `/api/packets/${segment}/packet.pdf`,
		csvUrl: `/api/packets/${segment}/packet.csv`
	};
};

const MAX_FILES = 3;
const MAX_FILE_BYTES = 5 * 1024 * 1024;
const FILE_TYPES = new Set(['application/pdf', 'image/png', 'image/jpeg', 'text/plain']);
const BY_EXTENSION: Record<string, string> = { pdf: 'application/pdf', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', txt: 'text/plain' };

/** The type a browser declared, or the one the file name says when it declared none. */
function fileType(f: File): string {
	const declared = f.type.split(';')[0]!.trim().toLowerCase();
	if (FILE_TYPES.has(declared)) return declared;
	return BY_EXTENSION[f.name.split('.').pop()?.toLowerCase() ?? ''] ?? declared;
}

async function answer(event: RequestEvent, acknowledgeOnly: boolean) {
	const segment = tokenSegment(event.params.token);
	// a body that is not a form (wrong content type, broken encoding) is an empty form: a 4xx, not a 500
	const form = await event.request.formData().catch(() => new FormData());
	const raw = form.get('body');
	const body = acknowledgeOnly ? t(event.locals.locale, 'packet_ack_body') : typeof raw === 'string' ? raw : '';
	if (!acknowledgeOnly && body.trim() === '') {
		return fail(422, { error: 'invalid' as const, body });
	}
	const request: PacketAnswer = acknowledgeOnly ? { body, acknowledgeOnly: true } : { body };
	if (!acknowledgeOnly) {
		// files travel to the API as base64; the API checks their type, bytes and size
		const files = form.getAll('attachments').filter((f): f is File => typeof f !== 'string' && f.size > 0);
		if (files.length > MAX_FILES || files.some((f) => f.size > MAX_FILE_BYTES || !FILE_TYPES.has(fileType(f)))) {
			return fail(422, { error: 'attachment' as const, body });
		}
		if (files.length) {
			request.attachments = await Promise.all(
				files.map(async (f) => ({ filename: f.name.slice(0, 200) || 'attachment', contentType: fileType(f), data: Buffer.from(await f.arrayBuffer()).toString('base64') }))
			);
		}
	}
	const result = await api<PacketAnswerAccepted>(event, `/api/packets/${segment}/responses`, { method: 'POST', body: request });
	if (result.ok) return { sent: true as const, acknowledged: acknowledgeOnly };
	const aboutFiles = !result.ok && (result.body.code.startsWith('attachment') || (result.body.issues ?? []).some((i) => String(i.path).startsWith('attachments')));
	if (result.status === 422 && aboutFiles) {
		return fail(422, { error: 'attachment' as const, body });
	}
	if (result.status === 422) return fail(422, { error: 'invalid' as const, body: acknowledgeOnly ? '' : body });
	if (result.status === 409) return fail(409, { error: 'too_many' as const, body: acknowledgeOnly ? '' : body });
	return expectOk(result);
}

export const actions: Actions = {
	answer: (event) => answer(event, false),
	acknowledge: (event) => answer(event, true)
};
