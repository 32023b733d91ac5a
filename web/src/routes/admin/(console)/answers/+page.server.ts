import { fail } from '@sveltejs/kit';
import { formFields, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export interface Answer {
	id: string;
	status: 'RECEIVED' | 'PUBLISHED' | 'REJECTED';
	body: string;
	publicSummary: string | null;
	receivedAt: string;
	publishedAt: string | null;
	reviewedAt: string | null;
	reviewerEmail: string | null;
	action: { id: string; slug: string; title: string };
	target: { id: string; name: string; title: string; organisation: string };
	letterId: string | null;
	letterSentAt: string | null;
	responseSeconds: number | null;
	attachments: { id: string; filename: string; contentType: string; size: number }[];
	notifications: { owed: number; sent: number };
}

const STATUSES = ['RECEIVED', 'PUBLISHED', 'REJECTED'] as const;

// Answers from officials: those awaiting review first (the default filter).
export const load: PageServerLoad = async (event) => {
	const raw = event.url.searchParams.get('status');
	const status = raw === 'all' ? undefined : (STATUSES.find((s) => s === raw) ?? 'RECEIVED');
	const { answers } = await staffData<{ answers: Answer[] }>(event, '/api/admin/answers', { query: { status } });
	return { answers, status: status ?? 'all' };
};

export const actions: Actions = {
	publish: async (event) => {
		const f = formFields(await event.request.formData());
		const result = await staffApi<{ notificationsOwed: number }>(event, `/api/admin/answers/${encodeURIComponent(f.id ?? '')}/publish`, {
			method: 'POST',
			body: { publicSummary: f.publicSummary ?? '' }
		});
		if (!result.ok) return fail(result.status, { error: result.body.message, id: f.id });
		return { done: f.republish ? ('updated' as const) : ('published' as const), n: result.data.notificationsOwed, id: f.id };
	},
	reject: async (event) => {
		const f = formFields(await event.request.formData());
		const result = await staffApi(event, `/api/admin/answers/${encodeURIComponent(f.id ?? '')}/reject`, { method: 'POST' });
		if (!result.ok) return fail(result.status, { error: result.body.message, id: f.id });
		return { done: 'rejected' as const, n: 0, id: f.id };
	}
};
