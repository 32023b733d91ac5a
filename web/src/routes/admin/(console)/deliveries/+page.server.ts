import { staffData } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

export interface DeliveryActionSummary {
	id: string;
	slug: string;
	title: string;
	status: string;
	policy: string;
	everyN: number;
	paused: boolean;
	owed: number;
	held: number;
	pendingLetters: number;
	failedLetters: number;
	staleTargets: number;
	lastBatchAt: string | null;
}

// Every published or closed action with what it owes its targets and what went wrong.
export const load: PageServerLoad = async (event) => {
	const { actions } = await staffData<{ actions: DeliveryActionSummary[] }>(event, '/api/admin/deliveries');
	return { actions };
};
