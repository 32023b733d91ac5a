// What the API refused, as a console form shows it: each issue at its field (by the issue's
// path: "milestones.2" belongs to the field "milestones"), in the form's order, in the reader's
// language (by the issue's code, never its English message), and the error's own code as one
// sentence. Every console form goes through here (lib/server/staff.ts formProblem).
import { catalogueLocale, formatMessage, hasMessage } from '../i18n/format.ts';

/** One issue as the API sends it (the `issues` of a 422). */
export interface ApiIssue {
	path: string;
	code?: string;
	min?: number;
	max?: number;
	message: string;
}

/** An API error's body, or what the page knows of it. */
export interface ApiRefusal {
	code?: string;
	message?: string;
	issues?: ApiIssue[];
}

/** A refused form: field (or path) → what is wrong there, in form order; and one sentence for the whole. */
export interface FormProblem {
	errors: Record<string, string>;
	message: string;
}

/** A message of the console's `issues` area, filled. */
function words(locale: string, key: string, params?: Record<string, string | number | undefined>): string {
	const filled: Record<string, string | number> = {};
	for (const [name, value] of Object.entries(params ?? {})) if (value !== undefined) filled[name] = value;
	return formatMessage(catalogueLocale(locale), `issues.${key}` as never, filled);
}

function has(key: string): boolean {
	return hasMessage(`issues.${key}`);
}

/** The field a path belongs to: the longest of `fields` that is the path or starts it; else the path. */
export function fieldOf(path: string, fields: readonly string[]): string {
	let best = '';
	for (const f of fields) if ((path === f || path.startsWith(`${f}.`)) && f.length > best.length) best = f;
	return best || path;
}

/** One issue in the reader's language; `field`: the form's field it belongs to. */
export function issueMessage(locale: string, issue: ApiIssue, field = issue.path): string {
	const leaf = field.split('.').at(-1) ?? field;
	const code = issue.code;
	if (!code) return issue.message;
	let key: string = `${leaf}.${code}`;
	if (!has(key)) {
		key = `issue_${code}`;
		if (code === 'too_long' && issue.max === undefined) key = 'issue_too_long_any';
		if (code === 'too_short' && issue.min === undefined) key = 'issue_too_short_any';
		if (code === 'out_of_range') key = issue.min !== undefined ? 'issue_out_of_range_min' : issue.max !== undefined ? 'issue_out_of_range_max' : 'issue_out_of_range';
	}
	if (!has(key)) return issue.message;
	return words(locale, key, { min: issue.min, max: issue.max });
}

/** How a path that is not a field of the form reads: a file's line and column, or the path itself. */
export function pathLabel(locale: string, path: string): string {
	const line = /^line (\d+)(?:: (.+))?$/.exec(path);
	if (line) return line[2] ? words(locale, 'issue_line_column', { line: Number(line[1]), column: line[2] }) : words(locale, 'issue_line', { line: Number(line[1]) });
	if (path === 'file') return words(locale, 'issue_file');
	return path;
}

/** The error as one sentence: its code's words, else (for an unknown code) the API's message. */
export function refusalMessage(locale: string, body: ApiRefusal | undefined, status?: number): string {
	const code = body?.code ?? '';
	const key = `error_${code}`;
	if (has(key)) return words(locale, key);
	if (code.endsWith('_not_found') || status === 404) return words(locale, 'error_not_found');
	if (status !== undefined && status >= 500) return words(locale, 'error_unavailable');
	if (body?.message) return body.message;
	return words(locale, 'error_generic', { code: code || String(status ?? '') });
}

/**
 * A refused form: each issue at its field (`fields`: the form's fields in the order the form
 * shows them; issues of other paths come after them, in the API's order), the first issue of a
 * field only, and the error's sentence.
 */
export function formProblem(locale: string, body: ApiRefusal | undefined, fields: readonly string[] = [], status?: number): FormProblem {
	const byField = new Map<string, string>();
	for (const issue of body?.issues ?? []) {
		const field = fieldOf(issue.path, fields);
		if (!byField.has(field)) byField.set(field, issueMessage(locale, issue, field));
	}
	const rank = (f: string) => {
		const i = fields.indexOf(f);
		return i === -1 ? fields.length : i;
	};
	const ordered = [...byField.keys()].sort((a, b) => rank(a) - rank(b));
	const errors: Record<string, string> = {};
	for (const f of ordered) errors[f] = byField.get(f)!;
	return { errors, message: refusalMessage(locale, body, status) };
}
