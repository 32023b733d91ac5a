// What is wrong with one field, as a code: every issue of a 422 carries one next to its path
// (`issues: [{ path, code, message }]`), so that a page can say it in its reader's language
// without reading the English message. The pages check their forms with the same schemas and
// codes before posting (server/src/shared/sign-form.ts).

/**
 * The codes an issue may have. A schema gives its own through a refinement's params
 * (`.refine(fn, { message, params: { code: 'links' } })`); the others follow from the kind of
 * check that failed.
 */
export const ISSUE_CODES = [
  /** absent or empty */
  'required',
  /** longer than the field allows */
  'too_long',
  /** shorter than the field allows (but not empty) */
  'too_short',
  /** a number or date beyond the field's range */
  'out_of_range',
  /** control, invisible or markup characters */
  'forbidden_characters',
  /** a web address where links are not allowed */
  'links',
  /** `{{ merge fields }}` in a text the letter template wraps */
  'merge_fields',
  /** a field the endpoint does not take */
  'unknown_field',
  /** names something that does not exist (a campaign, a target) */
  'not_found',
  /** a language that has no texts yet */
  'no_texts',
  /** a target that is disabled in the directory */
  'disabled',
  /** a choice that applies only with another (e.g. addresses without consent need personal data) */
  'not_applicable',
  /** a web address on an internal network */
  'internal_address',
  /** the same value twice (e.g. one address on two lines of a file) */
  'duplicate',
  /** a file's header lacks a column it needs */
  'missing_column',
  /** a file's header has a column that is not known */
  'unknown_column',
  /** a file with no rows */
  'empty_file',
  /** a file with more rows than allowed */
  'too_many_rows',
  /** a file that cannot be read (not valid CSV) */
  'unreadable',
  /** any other value the field does not accept */
  'invalid',
] as const;

export type IssueCode = (typeof ISSUE_CODES)[number];

/** The parts of a zod issue (or of its copy in a Fastify validation error) that decide its code. */
export interface IssueLike {
  code: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  params?: { code?: unknown };
}

const OWN_CODES = new Set<string>(ISSUE_CODES);

/** The code of an issue; `missing`: the field was not sent at all. */
export function issueCode(issue: IssueLike, missing = false): IssueCode {
  const own = issue.params?.code;
  if (typeof own === 'string' && OWN_CODES.has(own)) return own as IssueCode;
  if (missing) return 'required';
  const sized = issue.origin === 'string' || issue.origin === 'array' || issue.origin === 'set';
  switch (issue.code) {
    case 'too_big':
      return sized ? 'too_long' : 'out_of_range';
    case 'too_small':
      if (!sized) return 'out_of_range';
      return Number(issue.minimum) === 1 ? 'required' : 'too_short';
    case 'unrecognized_keys':
      return 'unknown_field';
    default:
      return 'invalid';
  }
}

/**
 * The bound an issue broke, when it has one, as the issue's `max` (the most characters or
 * items, or the highest number: `too_long`, `out_of_range` above) or `min` (the fewest, or
 * the lowest number: `too_short`, `out_of_range` below). Pages say it ("at most 80 characters").
 */
export function issueBound(issue: IssueLike): { min?: number; max?: number } {
  const key = issue.code === 'too_big' ? 'max' : issue.code === 'too_small' ? 'min' : undefined;
  const bound = key === 'max' ? issue.maximum : key === 'min' ? issue.minimum : undefined;
  if (!key || bound === undefined) return {};
  const n = Number(bound);
  return Number.isFinite(n) ? { [key]: n } : {};
}

/** A field's path as the API gives it: segments joined by dots ("attachments.0.data"). */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}
