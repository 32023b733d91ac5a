import { staffData } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

export interface TrendAlert {
	kind: 'source' | 'network';
	action: { slug: string };
	subject: string | null;
	lastHour: number;
	baselinePerHour: number;
	flagged: number;
}

export const load: PageServerLoad = async (event) => {
	const data = await staffData<{ generatedAt: string; alerts: TrendAlert[] }>(event, '/api/admin/alerts');
	return { generatedAt: data.generatedAt, alerts: data.alerts };
};
