// Small helpers that turn console form fields into API values.

/** "100, 250 500" → [100, 250, 500]; anything that is not a number is passed on for the API to refuse by name. */
export function parseMilestones(value: string): unknown[] {
	return value
		.split(/[\s,;]+/)
		.filter(Boolean)
		.map((v) => (/^\d+$/.test(v) ? Number(v) : v));
}

/** A whole number typed in a form, or the text itself for the API to refuse. */
export function numberField(value: string | undefined): unknown {
	const s = (value ?? '').trim();
	return /^\d+$/.test(s) ? Number(s) : s;
}
