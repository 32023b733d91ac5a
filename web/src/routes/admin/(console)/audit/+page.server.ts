import { staffApi } from '$lib/server/staff';
import type { PageServerLoad } from './$types';

export interface AuditEntry {
	id: string;
	createdAt: string;
	staffEmail: string | null;
	staffName: string | null;
	verb: string;
	entity: string;
	entityId: string | null;
	before: unknown;
	after: unknown;
}

const FILTERS = ['entity', 'staff', 'from', 'to', 'before'] as const;

export const load: PageServerLoad = async (event) => {
	const query: Record<string, string | undefined> = {};
	for (const name of FILTERS) {
		const value = event.url.searchParams.get(name)?.trim();
		if (value) query[name] = value;
	}
	const result = await staffApi<{ entries: AuditEntry[]; nextCursor: string | null; entities: string[] }>(event, '/api/admin/audit', { query });
	if (!result.ok) {
		// a bad filter (a date that is not one) shows the error and an empty list, not an error page
		const fallback = await staffApi<{ entities: string[] }>(event, '/api/admin/audit', { query: { limit: '1' } });
		return {
			filter: query,
			entries: [] as AuditEntry[],
			nextCursor: null,
			entities: fallback.ok ? fallback.data.entities : [],
			problems: result.body.issues?.map((i) => i.message) ?? [result.body.message]
		};
	}
	return { filter: query, ...result.data, problems: [] as string[] };
};
