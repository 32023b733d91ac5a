// Paper signatures. Street teams and events collect signatures on paper; staff import a CSV of
// them with what the whole sheet pile shares (the event, the day, the version of the paper
// form's consent wording, and whether that form asked consent to give names to officials).
//
// - Preview first: every line is checked (errors are reported by line, and nothing is stored
//   while any line is wrong); a good file is stored as a PREVIEW, which counts nowhere, with
//   what would count and what repeats.
// - Counting makes them part of the public count, apart (`action_stats.paper_count`, shown as
//   "of which N on paper"), and sends them to the officials at once, in a delivery of their own
//   (reason "paper") whose letters say they were signed on paper, where and when; the packet
//   lists them, by name only where the paper form asked consent for names (and never to the
//   officials of the signer's own country: paper cannot ask that second question).
// - A paper signature is identified by its place on paper, sheet and line, and by its name and
//   country where it has them: a line repeated in the file, or already counted from another
//   import, is left out and shown as a repeat.
// - Withdrawing an import takes its signatures out of the count and out of the packets.
// - Previewing, counting and withdrawing are audited.
import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import type pg from 'pg';
import { z } from 'zod';
import { LetterStatus, PaperImportStatus, TargetMode, inTransaction, qb, type Queryable } from '../db/db.ts';
import { nextOfficeOpening } from '../delivery/office-hours.ts';
import type { Queues } from '../queue/queue.ts';
import { AppError, conflict, notFound, type Issue } from '../shared/errors.ts';
import { issueBound, issueCode } from '../shared/issues.ts';
import { lineText } from '../shared/text.ts';
import { isCountryCode } from '../shared/countries.ts';
import { recordAudit } from '../staff/audit.ts';
import { keyedFingerprint, newDataKey, openName, sealName, unwrapDataKey } from '../privacy/personal-data.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const MAX_PAPER_ROWS = 10_000;
const PAPER_LOCK = 7_310_007;

export const paperImportInputSchema = z.strictObject({
  filename: z.union([z.literal(''), lineText(200, 'filename')]).default(''),
  event: lineText(200, 'event').describe('where the signatures were collected: a street stall, a concert, a march'),
  collectedOn: z.iso.date('collectedOn must be a date, YYYY-MM-DD').describe('the day they were collected'),
  consentVersion: lineText(100, 'consentVersion').describe('the version of the consent wording printed on the paper form'),
  namesToOfficials: z.boolean().default(false).describe('the paper form asked each signer whether their name may be given to the officials'),
  csv: z.string().min(1, 'csv is required').max(900_000, 'the file must be at most 900 kB').describe('sheet,line,first_name,last_name,country: a header row, then one signature per row'),
});
export type PaperImportInput = z.infer<typeof paperImportInputSchema>;

const ROW = z.strictObject({
  sheet: z.string().trim().min(1, 'sheet is required').max(40, 'sheet must be at most 40 characters').regex(/^[\p{L}\p{N} ._/-]+$/u, 'sheet holds letters, digits, spaces and . _ / - only'),
  line: z
    .string()
    .trim()
    .regex(/^[0-9]{1,6}$/, 'line must be a whole number, written in digits')
    .transform(Number)
    .pipe(z.number().int().min(1, 'line must be 1 or more').max(100_000, 'line must be at most 100000')),
  first_name: z.union([z.literal(''), lineText(100, 'first_name')]).optional(),
  last_name: z.union([z.literal(''), lineText(100, 'last_name')]).optional(),
  country: z
    .string()
    .trim()
    .toUpperCase()
    .refine((c) => c === '' || isCountryCode(c), 'country is a two-letter code (ISO 3166-1), or empty')
    .optional(),
});
const COLUMNS = ['sheet', 'line', 'first_name', 'last_name', 'country'];

export interface PaperRow {
  /** the line of the CSV file */
  fileLine: number;
  sheet: string;
  line: number;
  firstName: string | null;
  lastName: string | null;
  country: string | null;
  nameKey: string | null;
}

/** The name and country as deduplication compares them: case, accents and spacing aside. */
export function paperNameKey(firstName: string | null, lastName: string | null, country: string | null): string | null {
  const name = [firstName, lastName]
    .filter(Boolean)
    .join(' ')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLocaleLowerCase('en')
    .replace(/\s+/g, ' ')
    .trim();
  // keyed, like the blind index of email addresses: a list of names cannot be tried against it
  return name ? keyedFingerprint('paper-name', `${name}|${country ?? ''}`, 43) : null;
}

/** Parses and checks a paper CSV. Throws a 422 `csv_invalid` listing every problem by line. */
export function parsePaperCsv(text: string): PaperRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  let header: string[] = [];
  try {
    records = parse(text, {
      columns: (h: string[]) => (header = h.map((c) => c.trim().toLowerCase())),
      info: true,
      bom: true,
      skip_empty_lines: true,
      trim: false,
      max_record_size: 16 * 1024,
    });
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    throw new AppError(422, 'csv_invalid', `The file is not valid CSV${line ? ` (line ${line})` : ''}`, {}, [
      { path: line ? `line ${line}` : 'file', code: 'unreadable', message: (err instanceof Error ? err.message : 'unreadable').slice(0, 300) },
    ]);
  }
  const issues: Issue[] = [];
  header.forEach((col, i) => {
    if (header.indexOf(col) !== i) issues.push({ path: `line 1: ${col.slice(0, 40)}`, code: 'duplicate', message: `the column "${col.slice(0, 40)}" is there twice` });
  });
  for (const col of ['sheet', 'line']) if (records.length && !header.includes(col)) issues.push({ path: `line 1: ${col}`, code: 'missing_column', message: `the header has no "${col}" column` });
  for (const col of header) if (!COLUMNS.includes(col)) issues.push({ path: `line 1: ${col.slice(0, 40)}`, code: 'unknown_column', message: `unknown column "${col.slice(0, 40)}"` });
  if (records.length === 0) issues.push({ path: 'file', code: 'empty_file', message: 'the file has no signatures (a header row, then one signature per row)' });
  if (records.length > MAX_PAPER_ROWS) issues.push({ path: 'file', code: 'too_many_rows', max: MAX_PAPER_ROWS, message: `at most ${MAX_PAPER_ROWS} signatures per file` });
  if (issues.length) throw new AppError(422, 'csv_invalid', 'The file cannot be imported: ' + issues.map((i) => `${i.path}: ${i.message}`).join('; '), {}, issues);

  const rows: PaperRow[] = [];
  for (const { record, info } of records) {
    const parsed = ROW.safeParse(record);
    if (!parsed.success) {
      // one problem per cell: the first the rules find
      const seen = new Set<string>();
      for (const issue of parsed.error.issues) {
        const path = `line ${info.lines}: ${String(issue.path[0] ?? '')}`;
        if (seen.has(path)) continue;
        seen.add(path);
        issues.push({ path, code: issueCode(issue), ...issueBound(issue), message: issue.message });
      }
      continue;
    }
    const r = parsed.data;
    const firstName = r.first_name || null;
    const lastName = r.last_name || null;
    const country = r.country || null;
    rows.push({ fileLine: info.lines, sheet: r.sheet, line: r.line, firstName, lastName, country, nameKey: paperNameKey(firstName, lastName, country) });
  }
  if (issues.length) {
    throw new AppError(422, 'csv_invalid', `${issues.length} ${issues.length === 1 ? 'problem' : 'problems'} in the file; nothing was imported`, {}, issues.slice(0, 200));
  }
  return rows;
}

export interface PaperDeps {
  pool: pg.Pool;
  clock: () => Date;
  mailDomain: string;
  queues?: Pick<Queues, 'enqueueLetters'>;
  refreshPublic?: () => Promise<void>;
}

/** An import as staff see it. */
/**
 * An import as staff see it. Its sample shows the signers' names only `withNames` (campaigners
 * and admins: a viewer sees where they are on paper and their countries, not who they are).
 */
async function importView(db: Queryable, id: string, withNames = true) {
  const r = await qb(db)
    .selectFrom('paper_imports as i')
    .select((eb) => [
      'i.id',
      'i.action_id as actionId',
      'i.status',
      'i.filename',
      'i.event',
      sql<string>`to_char(i.collected_on, 'YYYY-MM-DD')`.as('collectedOn'),
      'i.consent_version as consentVersion',
      'i.names_to_officials as namesToOfficials',
      'i.row_count as rows',
      'i.counted_count as counted',
      'i.created_at as createdAt',
      'i.counted_at as countedAt',
      'i.withdrawn_at as withdrawnAt',
      eb.selectFrom('paper_signatures as p').select((e) => e.cast<number>(e.fn.countAll(), 'integer').as('n')).whereRef('p.import_id', '=', 'i.id').where('p.duplicate', '=', true).as('repeats'),
    ])
    .where('i.id', '=', id)
    .executeTakeFirst();
  if (!r) throw notFound('paper_import_not_found', 'No such paper import');
  const sealed = await qb(db)
    .selectFrom('paper_signatures as p')
    .innerJoin('paper_imports as i', 'i.id', 'p.import_id')
    .select(['p.sheet', 'p.line', 'p.name', 'p.country', 'p.duplicate', 'i.data_key'])
    .where('p.import_id', '=', id)
    .orderBy('p.duplicate', 'desc')
    .orderBy('p.sheet')
    .orderBy('p.line')
    .limit(20)
    .execute();
  const sample = sealed.map((x) => {
    const name = withNames ? openPaperName({ import_id: id, data_key: x.data_key, name: x.name }) : { first_name: null, last_name: null };
    return { sheet: x.sheet, line: x.line, firstName: name.first_name, lastName: name.last_name, country: x.country, duplicate: x.duplicate };
  });
  return { ...r, repeats: r.repeats ?? 0, willCount: r.status === PaperImportStatus.PREVIEW ? r.rows - (r.repeats ?? 0) : r.counted, sample };
}

/** Marks the rows of `importId` that repeat a counted signature of the action, or an earlier row of the same file. */
async function markRepeats(db: Queryable, importId: string, actionId: string): Promise<void> {
  await sql`
    UPDATE paper_signatures p SET duplicate = true
    WHERE p.import_id = ${importId} AND (
      EXISTS (SELECT 1 FROM paper_signatures c WHERE c.action_id = ${actionId} AND c.counted AND c.sheet = p.sheet AND c.line = p.line)
      OR (p.name_key IS NOT NULL AND EXISTS (SELECT 1 FROM paper_signatures c WHERE c.action_id = ${actionId} AND c.counted AND c.name_key = p.name_key))
      OR EXISTS (SELECT 1 FROM paper_signatures e WHERE e.import_id = p.import_id AND e.id <> p.id AND e.seq < p.seq
                 AND (e.sheet = p.sheet AND e.line = p.line OR (p.name_key IS NOT NULL AND e.name_key = p.name_key))))`.execute(qb(db));
}

/** Checks a paper CSV and stores it as a preview: nothing counts until it is counted. */
export async function previewPaperImport(deps: Pick<PaperDeps, 'pool' | 'clock'>, staffId: string, actionId: string, input: PaperImportInput) {
  if (!UUID.test(actionId)) throw notFound('action_not_found', 'No such action');
  const now = deps.clock();
  // the day where the paper was signed may be ahead of UTC by up to 14 hours
  if (input.collectedOn > new Date(now.getTime() + 14 * 3_600_000).toISOString().slice(0, 10)) {
    throw new AppError(422, 'validation_failed', 'collectedOn cannot be in the future', {}, [{ path: 'collectedOn', code: 'out_of_range', message: 'collectedOn cannot be in the future' }]);
  }
  if (input.collectedOn < '2000-01-01') {
    throw new AppError(422, 'validation_failed', 'collectedOn must be in 2000 or later', {}, [{ path: 'collectedOn', code: 'out_of_range', message: 'collectedOn must be in 2000 or later' }]);
  }
  const rows = parsePaperCsv(input.csv);
  const id = await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const action = await db.selectFrom('actions').select('id').where('id', '=', actionId).executeTakeFirst();
    if (!action) throw notFound('action_not_found', 'No such action');
    const id = randomUUID();
    // the import's own data key: its signers' names are sealed under it
    const { key, wrapped } = newDataKey('paper-import', id);
    await db
      .insertInto('paper_imports')
      .values({ id, data_key: wrapped, action_id: actionId, filename: input.filename, event: input.event, collected_on: input.collectedOn, consent_version: input.consentVersion, names_to_officials: input.namesToOfficials, row_count: rows.length, created_by: staffId, created_at: now })
      .execute();
    for (let i = 0; i < rows.length; i += 2_000) {
      await db
        .insertInto('paper_signatures')
        .values(rows.slice(i, i + 2_000).map((r, j) => ({ import_id: id, action_id: actionId, seq: i + j, sheet: r.sheet, line: r.line, name: sealName(key, id, r.firstName, r.lastName), has_name: Boolean(r.firstName || r.lastName), country: r.country, name_key: r.nameKey })))
        .execute();
    }
    await markRepeats(client, id, actionId);
    await recordAudit(client, { staffId, verb: 'paper_previewed', entity: 'action', entityId: actionId, before: null, after: { importId: id, rows: rows.length, event: input.event }, at: now });
    return id;
  });
  return importView(deps.pool, id);
}

/**
 * Counts a previewed import: its signatures that repeat nothing counted join the public count
 * (paper_count) and are sent to the officials at once in a delivery of their own. Repeats are
 * checked again now, under a lock per action, so two imports counted at once cannot both count
 * the same line.
 */
export async function countPaperImport(deps: PaperDeps, staffId: string, importId: string) {
  if (!UUID.test(importId)) throw notFound('paper_import_not_found', 'No such paper import');
  const now = deps.clock();
  const result = await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const imp = await db.selectFrom('paper_imports').select(['id', 'action_id', 'status']).where('id', '=', importId).forUpdate().executeTakeFirst();
    if (!imp) throw notFound('paper_import_not_found', 'No such paper import');
    if (imp.status !== PaperImportStatus.PREVIEW) throw conflict('paper_import_not_preview', `This import is ${imp.status.toLowerCase()}: only a preview can be counted`);
    await sql`SELECT pg_advisory_xact_lock(${PAPER_LOCK}, hashtext(${imp.action_id}))`.execute(db);
    await markRepeats(client, importId, imp.action_id);
    const counted = await db.updateTable('paper_signatures').set({ counted: true }).where('import_id', '=', importId).where('duplicate', '=', false).returning('country').execute();
    const n = counted.length;
    await db
      .insertInto('action_stats')
      .values({ action_id: imp.action_id, paper_count: n, updated_at: now })
      .onConflict((oc) => oc.column('action_id').doUpdateSet((eb) => ({ paper_count: eb('action_stats.paper_count', '+', n), updated_at: now })))
      .execute();
    // the delivery that carries them: one letter per target (per target of their country, where
    // letters go to the officials of each signer's country), in the target's office hours
    let letters: { id: string; delayMs: number }[] = [];
    let batchId: string | null = null;
    if (n > 0) {
      const a = await db
        .selectFrom('actions as a')
        .select((eb) => ['a.target_mode', 'a.default_locale', sql<string[]>`ARRAY(${eb.selectFrom('action_texts as t').select('t.locale').whereRef('t.action_id', '=', 'a.id')})`.as('locales')])
        .where('a.id', '=', imp.action_id)
        .executeTakeFirstOrThrow();
      const targets = await db
        .selectFrom('action_targets as at')
        .innerJoin('targets as t', 't.id', 'at.target_id')
        .select(['t.id', 't.country', 't.language', 't.timezone', 't.office_opens_at', 't.office_closes_at'])
        .where('at.action_id', '=', imp.action_id)
        .where('t.disabled_at', 'is', null)
        .orderBy('at.position')
        .execute();
      const byCountry = new Map<string | null, number>();
      for (const r of counted) byCountry.set(r.country, (byCountry.get(r.country) ?? 0) + 1);
      const stats = await db.selectFrom('action_stats').select(['confirmed_count', 'paper_count']).where('action_id', '=', imp.action_id).executeTakeFirstOrThrow();
      batchId = randomUUID();
      await db
        .insertInto('delivery_batches')
        .values({ id: batchId, action_id: imp.action_id, reason: 'paper', signature_count: n, total_count: stats.confirmed_count + stats.paper_count, created_at: now })
        .execute();
      const rows = targets.flatMap((t) => {
        const count = a.target_mode === TargetMode.BY_SIGNER_COUNTRY ? (t.country === null ? 0 : (byCountry.get(t.country) ?? 0)) : n;
        if (count === 0) return [];
        const id = randomUUID();
        const due = nextOfficeOpening(now, { timezone: t.timezone, opensAt: t.office_opens_at, closesAt: t.office_closes_at });
        return [{ id, batch_id: batchId!, target_id: t.id, signature_count: count, locale: a.locales.includes(t.language) ? t.language : a.default_locale, message_id: `<letter.${id}@${deps.mailDomain}>`, next_attempt_at: due, created_at: now }];
      });
      if (rows.length > 0) await db.insertInto('letters').values(rows).execute();
      letters = rows.map((r) => ({ id: r.id, delayMs: Math.max(0, r.next_attempt_at.getTime() - now.getTime()) }));
    }
    await db.updateTable('paper_imports').set({ status: PaperImportStatus.COUNTED, counted_count: n, counted_at: now, batch_id: batchId }).where('id', '=', importId).execute();
    await recordAudit(client, { staffId, verb: 'paper_counted', entity: 'action', entityId: imp.action_id, before: { importId, status: imp.status }, after: { importId, status: PaperImportStatus.COUNTED, counted: n }, at: now });
    return { letters };
  });
  await deps.queues?.enqueueLetters(result.letters.map((l) => ({ id: l.id, attempts: 0, delayMs: l.delayMs }))).catch(() => {
    // PENDING in the database: the sweeper enqueues them
  });
  await deps.refreshPublic?.().catch(() => {});
  return importView(deps.pool, importId);
}

/** Withdraws an import: out of the public count and of the packets (letters already sent stay sent). A preview is simply dropped. */
export async function withdrawPaperImport(deps: Pick<PaperDeps, 'pool' | 'clock' | 'refreshPublic'>, staffId: string, importId: string) {
  if (!UUID.test(importId)) throw notFound('paper_import_not_found', 'No such paper import');
  const now = deps.clock();
  await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    const imp = await db.selectFrom('paper_imports').select(['action_id', 'status', 'counted_count', 'batch_id']).where('id', '=', importId).forUpdate().executeTakeFirst();
    if (!imp) throw notFound('paper_import_not_found', 'No such paper import');
    if (imp.status === PaperImportStatus.WITHDRAWN) return;
    await db.updateTable('paper_signatures').set({ counted: false }).where('import_id', '=', importId).execute();
    if (imp.status === PaperImportStatus.COUNTED && imp.counted_count > 0) {
      await db.updateTable('action_stats').set((eb) => ({ paper_count: eb('paper_count', '-', imp.counted_count), updated_at: now })).where('action_id', '=', imp.action_id).execute();
    }
    // its letters not yet on their way are not sent: the delivery never was (one being sent now,
    // or sent, stays; the packets no longer list the signatures)
    let lettersStopped = 0;
    if (imp.batch_id) {
      const stopped = await db.deleteFrom('letters').where('batch_id', '=', imp.batch_id).where('status', '=', LetterStatus.PENDING).returning('id').execute();
      lettersStopped = stopped.length;
      const left = await db.selectFrom('letters').select('id').where('batch_id', '=', imp.batch_id).limit(1).executeTakeFirst();
      if (!left) await db.deleteFrom('delivery_batches').where('id', '=', imp.batch_id).execute();
    }
    await db.updateTable('paper_imports').set({ status: PaperImportStatus.WITHDRAWN, withdrawn_at: now }).where('id', '=', importId).execute();
    await recordAudit(client, { staffId, verb: 'paper_withdrawn', entity: 'action', entityId: imp.action_id, before: { importId, status: imp.status, counted: imp.counted_count }, after: { importId, status: PaperImportStatus.WITHDRAWN, lettersStopped }, at: now });
  });
  await deps.refreshPublic?.().catch(() => {});
  return importView(deps.pool, importId);
}

/** An action's paper imports, newest first. */
/** Who looks at imports: with names (a campaigner or an admin), the look is audited, as every look at who signed is. */
export interface PaperViewer {
  staffId: string;
  withNames: boolean;
  clock: () => Date;
}

async function auditLook(pool: pg.Pool, viewer: PaperViewer, actionId: string, views: { id: string; sample: { firstName: string | null; lastName: string | null }[] }[]): Promise<void> {
  const shown = views.filter((v) => v.sample.some((s) => s.firstName || s.lastName)).map((v) => v.id);
  if (shown.length === 0) return;
  await recordAudit(pool, { staffId: viewer.staffId, verb: 'paper_names_viewed', entity: 'action', entityId: actionId, before: null, after: { importIds: shown }, at: viewer.clock() });
}

export async function listPaperImports(pool: pg.Pool, actionId: string, viewer: PaperViewer) {
  if (!UUID.test(actionId)) throw notFound('action_not_found', 'No such action');
  const ids = await qb(pool).selectFrom('paper_imports').select('id').where('action_id', '=', actionId).orderBy('created_at', 'desc').limit(200).execute();
  const views = await Promise.all(ids.map((r) => importView(pool, r.id, viewer.withNames)));
  await auditLook(pool, viewer, actionId, views);
  return views;
}

export async function getPaperImport(pool: pg.Pool, importId: string, viewer: PaperViewer) {
  if (!UUID.test(importId)) throw notFound('paper_import_not_found', 'No such paper import');
  const view = await importView(pool, importId, viewer.withNames);
  await auditLook(pool, viewer, view.actionId, [view]);
  return view;
}

/** A paper signer's name, opened with the import's data key (`data_key`: wrapped, as stored). */
export function openPaperName(r: { import_id: string; data_key: Buffer | null; name: Buffer | null }): { first_name: string | null; last_name: string | null } {
  const key = r.data_key ? unwrapDataKey('paper-import', r.import_id, r.data_key) : null;
  const name = openName(key, r.import_id, r.name);
  return { first_name: name.first, last_name: name.last };
}

/** The paper signatures a delivery carries, as the packet and the letters read signers. */
export function paperSignersOf(db: Queryable, batchId: string, targetCountry: string | null, byCountry: boolean) {
  return qb(db)
    .selectFrom('paper_signatures as p')
    .innerJoin('paper_imports as i', 'i.id', 'p.import_id')
    .select((eb) => [
      'p.id',
      'p.import_id',
      'p.name',
      'i.data_key',
      'p.country',
      // a signer whose country the paper does not say may be of any country: named only to
      // officials of none (inter-governmental bodies), never to a government
      eb
        .and([eb.ref('i.names_to_officials'), eb.ref('p.has_name'), ...(targetCountry === null ? [] : [eb('p.country', 'is not', null)])])
        .$castTo<boolean>()
        .as('named_disclosure'),
      // paper asks one question about names: never given to the officials of the signer's own country
      sql<boolean>`false`.as('named_to_own_country'),
      sql<Date>`i.collected_on::timestamptz`.as('confirmed_at'),
    ])
    .where('i.batch_id', '=', batchId)
    .where('i.status', '=', PaperImportStatus.COUNTED)
    .where('p.counted', '=', true)
    .$if(byCountry, (q) => q.where('p.country', '=', targetCountry!));
}
