// The targets directory as CSV, with the csv-parse / csv-stringify pair of one project.
// Import: one header row, then one target per row, checked by the same schema as the API;
// every problem is reported with its line, and nothing is stored unless every row is good.
// Export: every cell that a spreadsheet would run as a formula is neutralised.
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { AppError, type Issue } from '../shared/errors.ts';
import { issueBound, issueCode } from '../shared/issues.ts';
import { targetInputSchema, type TargetView } from './target.schema.ts';
import type { ImportRow } from './target.service.ts';
import { NAME_LOCALES } from './target-names.ts';

/** The name, title and organisation in each other language: name_es, title_es, organisation_es, ... */
const NAME_COLUMNS = NAME_LOCALES.flatMap((locale) => (['name', 'title', 'organisation'] as const).map((part) => ({ col: `${part}_${locale}`, locale, part })));
/** yes: the name is the target's own official name, used in every language */
const OFFICIAL_COLUMN = 'name_official';

/** CSV header → field of targetInputSchema. The export writes these, the import reads them. */
export const CSV_COLUMNS = [
  ['slug', 'slug'],
  ['name', 'name'],
  ['title', 'title'],
  ['organisation', 'organisation'],
  ['kind', 'kind'],
  ['country', 'country'],
  ['email', 'email'],
  ['language', 'language'],
  ['timezone', 'timezone'],
  ['office_hours', 'officeHours'],
  ['salutation', 'salutation'],
  ['last_verified', 'lastVerifiedAt'],
  ['notes', 'notes'],
] as const;

/** Export-only columns: what the platform itself records about the contact. */
const EXPORT_ONLY = ['contact_status', 'bounce_count', 'disabled'] as const;

const REQUIRED = ['name', 'kind', 'email'];
export const MAX_IMPORT_ROWS = 2_000;

export type CsvIssue = Issue;

/** Parses and validates an upload. Throws a 422 `csv_invalid` listing every problem by line. */
export function parseTargetsCsv(text: string): ImportRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, {
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      info: true,
      bom: true,
      skip_empty_lines: true,
      trim: false,
      max_record_size: 64 * 1024,
    });
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    const reason = err instanceof Error ? err.message.replace(/^Invalid Record Length: /, '') : 'unreadable';
    throw new AppError(422, 'csv_invalid', `The file is not valid CSV${line ? ` (line ${line})` : ''}`, {}, [
      { path: line ? `line ${line}` : 'file', code: 'unreadable', message: reason.slice(0, 300) },
    ]);
  }
  const issues: CsvIssue[] = [];
  const header = records[0] ? Object.keys(records[0].record) : [];
  const known = new Set<string>([...CSV_COLUMNS.map(([c]) => c), ...NAME_COLUMNS.map((c) => c.col), OFFICIAL_COLUMN, ...EXPORT_ONLY]);
  for (const col of REQUIRED) if (records.length && !header.includes(col)) issues.push({ path: `line 1: ${col}`, code: 'missing_column', message: `the header has no "${col}" column` });
  for (const col of header) if (!known.has(col)) issues.push({ path: `line 1: ${col.slice(0, 40)}`, code: 'unknown_column', message: `unknown column "${col.slice(0, 40)}"` });
  if (records.length === 0) issues.push({ path: 'file', code: 'empty_file', message: 'the file has no targets (a header row, then one target per row)' });
  if (records.length > MAX_IMPORT_ROWS) issues.push({ path: 'file', code: 'too_many_rows', max: MAX_IMPORT_ROWS, message: `at most ${MAX_IMPORT_ROWS} targets per file` });
  if (issues.length) throw new AppError(422, 'csv_invalid', 'The file cannot be imported: ' + issues.map((i) => `${i.path}: ${i.message}`).join('; '), {}, issues);

  const rows: ImportRow[] = [];
  const seen = new Map<string, number>();
  for (const { record, info } of records) {
    const line = info.lines;
    const input: Record<string, unknown> = {};
    for (const [col, field] of CSV_COLUMNS) {
      const value = record[col];
      // an empty optional cell takes the default; a present one is validated
      if (value !== undefined && (value !== '' || REQUIRED.includes(col))) input[field] = value;
    }
    if (typeof input.kind === 'string') input.kind = input.kind.trim().toUpperCase().replace(/[\s-]+/g, '_');
    // a file without the columns of other languages keeps what the directory holds
    if (NAME_COLUMNS.some(({ col }) => header.includes(col))) {
      const names: Record<string, Record<string, string>> = {};
      for (const { col, locale, part } of NAME_COLUMNS) {
        const value = record[col];
        if (value !== undefined && value !== '') (names[locale] ??= {})[part] = value;
      }
      input.names = names;
    }
    const official = record[OFFICIAL_COLUMN]?.trim().toLowerCase();
    if (official !== undefined) {
      if (['yes', 'true', '1'].includes(official)) input.nameIsOfficial = true;
      else if (['', 'no', 'false', '0'].includes(official)) input.nameIsOfficial = false;
      else {
        issues.push({ path: `line ${line}: ${OFFICIAL_COLUMN}`, code: 'invalid', message: 'name_official must be yes or no' });
        continue;
      }
    }
    const parsed = targetInputSchema.safeParse(input);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = String(issue.path[0] ?? '');
        const col =
          field === 'names' ? `${String(issue.path[2] ?? 'name')}_${String(issue.path[1] ?? '')}` : (CSV_COLUMNS.find(([, f]) => f === field)?.[0] ?? field);
        issues.push({ path: `line ${line}: ${col}`, code: issueCode(issue), ...issueBound(issue), message: issue.message });
      }
      continue;
    }
    const key = parsed.data.email.toLowerCase();
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      issues.push({ path: `line ${line}: email`, code: 'duplicate', message: `${parsed.data.email} is already on line ${earlier}` });
      continue;
    }
    seen.set(key, line);
    rows.push({ line, input: parsed.data });
  }
  if (issues.length) {
    const shown = issues.slice(0, 200);
    throw new AppError(
      422,
      'csv_invalid',
      `${issues.length} ${issues.length === 1 ? 'problem' : 'problems'} in the file; nothing was imported`,
      {},
      shown,
    );
  }
  return rows;
}

/**
 * A cell a spreadsheet would evaluate (=, +, -, @, tab, carriage return first) gets a leading
 * single quote, so `=HYPERLINK(...)` in a name is shown as text, never run.
 */
export function neutraliseCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function targetsToCsv(targets: TargetView[]): string {
  const header = [...CSV_COLUMNS.map(([c]) => c), ...NAME_COLUMNS.map((c) => c.col), OFFICIAL_COLUMN, ...EXPORT_ONLY];
  const rows = targets.map((t) => [
    ...CSV_COLUMNS.map(([, field]) => {
      const v = t[field as keyof TargetView];
      return v === null || v === undefined ? '' : String(v);
    }),
    ...NAME_COLUMNS.map(({ locale, part }) => t.names[locale]?.[part] ?? ''),
    t.nameIsOfficial ? 'yes' : 'no',
    t.contactStatus,
    String(t.bounceCount),
    t.disabled ? 'yes' : 'no',
  ]);
  return stringify([header, ...rows], { cast: { string: neutraliseCell }, record_delimiter: 'windows' });
}
