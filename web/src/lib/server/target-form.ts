// A target form's fields as the API's body.
export const TARGET_FIELDS = ['name', 'title', 'organisation', 'kind', 'country', 'email', 'language', 'timezone', 'officeHours', 'salutation', 'lastVerifiedAt', 'notes'] as const;

export function targetBody(values: Record<string, string>): Record<string, string | null> {
	const body: Record<string, string | null> = {};
	for (const f of TARGET_FIELDS) body[f] = values[f] ?? '';
	body.country = body.country ? body.country : null;
	body.lastVerifiedAt = body.lastVerifiedAt ? body.lastVerifiedAt : null;
	return body;
}
