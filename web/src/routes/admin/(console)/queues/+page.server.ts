import { fail } from '@sveltejs/kit';
import { formFields, staffApi, staffData } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export interface QueueJob {
	id: string;
	name: string;
	state: string;
	data: Record<string, unknown>;
	attemptsMade: number;
	createdAt: string;
	processedAt: string | null;
	finishedAt: string | null;
	runAt: string | null;
	failedReason: string | null;
}

export interface QueueView {
	queues: { name: string; paused: boolean; workers: number; counts: Record<string, number>; jobs: QueueJob[] }[];
	owed: { confirmations: number; letters: number; lettersDue: number };
}

export const load: PageServerLoad = async (event) => ({ view: await staffData<QueueView>(event, '/api/admin/queues') });

async function toggle(event: Parameters<Actions[string]>[0], verb: 'pause' | 'resume') {
	const { name = '' } = formFields(await event.request.formData());
	const result = await staffApi(event, `/api/admin/queues/${encodeURIComponent(name)}/${verb}`, { method: 'POST' });
	if (!result.ok) return fail(result.status, { message: result.body.message });
	return { done: true };
}

export const actions: Actions = {
	pause: (event) => toggle(event, 'pause'),
	resume: (event) => toggle(event, 'resume')
};
