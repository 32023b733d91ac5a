import { fail } from '@sveltejs/kit';
import { formFields, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

interface LedgerLetter {
	id: string;
	target: { id: string; name: string; organisation: string; email: string; contactStatus: string };
	status: 'PENDING' | 'SUBMITTING' | 'SENT' | 'FAILED' | 'BOUNCED';
	locale: string;
	signatureCount: number;
	attempts: number;
	lastError: string | null;
	errorClass: 'smtp-permanent' | 'smtp-transient' | 'timeout' | 'connection' | 'gave-up' | 'other' | null;
	nextAttemptAt: string | null;
	messageId: string;
	smtpResponse: string | null;
	createdAt: string;
	sentAt: string | null;
	bouncedAt: string | null;
	openedAt: string | null;
	answeredAt: string | null;
	responseSeconds: number | null;
}

export interface DeliveryDetail {
	action: {
		id: string;
		slug: string;
		title: string;
		status: string;
		policy: string;
		everyN: number;
		milestones: number[];
		paused: boolean;
		owed: number;
		/** confirmed signatures waiting for their country to reach countryMin (BY_SIGNER_COUNTRY) */
		held: number;
		pendingLetters: number;
		failedLetters: number;
		staleTargets: number;
		lastBatchAt: string | null;
	};
	targets: {
		id: string;
		name: string;
		organisation: string;
		email: string;
		language: string;
		timezone: string;
		officeOpensAt: number;
		officeClosesAt: number;
		contactStatus: string;
		bounceCount: number;
		medianResponseSeconds: number | null;
		answered: number;
	}[];
	batches: { id: string; reason: string; signatureCount: number; totalCount: number; createdAt: string; letters: LedgerLetter[] }[];
	failures: LedgerLetter[];
	countryMin: number;
}

export interface DeliveryPreview {
	owed: boolean;
	policy: string;
	paused: boolean;
	heldForOfficeHours: boolean;
	signatureCount: number;
	totalCount: number;
	held: number;
	countries: { country: string; count: number }[];
	letters: { target: { name: string; organisation: string; email: string }; locale: string; signatureCount: number; subject: string; text: string; sendAt: string }[];
}

// One action's delivery: the ledger always; the preview of the next delivery when asked for
// (?preview=1, a GET: looking changes nothing).
export const load: PageServerLoad = async (event) => {
	const id = event.params.id;
	const detail = await staffData<DeliveryDetail>(event, `/api/admin/deliveries/${encodeURIComponent(id)}`);
	const preview =
		event.url.searchParams.get('preview') === '1'
			? await staffData<DeliveryPreview>(event, `/api/admin/deliveries/${encodeURIComponent(id)}/preview`)
			: null;
	return { detail, preview };
};

type Done = { done: 'policy' | 'paused' | 'resumed' | 'sent' | 'retried' | 'nothing'; n?: number; letters?: number };

async function post(event: Parameters<Actions[string]>[0], path: string, done: Done['done'], body?: unknown) {
	const result = await staffApi<{ signatureCount?: number; letterIds?: string[] }>(event, path, { method: body === undefined ? 'POST' : 'PUT', body });
	if (result.ok) return { done, n: result.data.signatureCount, letters: result.data.letterIds?.length } satisfies Done;
	if (result.status === 409 && result.body.code === 'nothing_owed') return { done: 'nothing' } satisfies Done;
	return fail(result.status, { error: result.body.message });
}

export const actions: Actions = {
	policy: async (event) => {
		const f = formFields(await event.request.formData());
		const body: Record<string, unknown> = { policy: f.policy };
		if (f.everyN?.trim()) body.everyN = f.everyN.trim();
		if (f.milestones?.trim()) body.milestones = f.milestones.split(/[\s,;]+/).filter(Boolean);
		return post(event, `/api/admin/deliveries/${encodeURIComponent(event.params.id)}/policy`, 'policy', body);
	},
	pause: (event) => post(event, `/api/admin/deliveries/${encodeURIComponent(event.params.id)}/pause`, 'paused'),
	resume: (event) => post(event, `/api/admin/deliveries/${encodeURIComponent(event.params.id)}/resume`, 'resumed'),
	send: (event) => post(event, `/api/admin/deliveries/${encodeURIComponent(event.params.id)}/send-now`, 'sent'),
	retry: async (event) => {
		const f = formFields(await event.request.formData());
		return post(event, `/api/admin/deliveries/letters/${encodeURIComponent(f.letter ?? '')}/retry`, 'retried');
	}
};
