/** Plain text with blank lines between paragraphs, as a list of paragraphs (never HTML). */
export function paragraphs(text: string | null | undefined): string[] {
	if (!text) return [];
	return text
		.replace(/\r\n?/g, '\n')
		.split(/\n\s*\n/)
		.map((p) => p.trim())
		.filter((p) => p.length > 0);
}
