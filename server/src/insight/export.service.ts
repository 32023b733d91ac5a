// Staff CSV exports of signatures and letters. An export is a job: a row in export_jobs
// with the filter, the number of rows that matched when it started and the rows written so
// far, and a file under EXPORT_DIR that staff download when it is done. Rows come from a
// server-side cursor (Kysely's stream over pg-cursor, read as a Readable with backpressure),
// go through csv-stringify and into the file, so memory stays flat whatever the row count.
// Every cell a spreadsheet could read as a formula is neutralised. Files are deleted after
// 24 hours.
//
// The job runs in the API process that was asked for it. A process that dies mid-export
// leaves a RUNNING row with a stale updated_at; readers report it as failed.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open as openFile, rename, rm, stat } from 'node:fs/promises';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { expressionBuilder, sql, type CompiledQuery, type Expression, type Kysely, type SqlBool } from 'kysely';
import type pg from 'pg';
import { ExportKind, ExportStatus, LetterStatus, qb, SignatureStatus, StaffRole, type DB } from '../db/db.ts';
import { neutraliseCell } from '../delivery/packet.service.ts';
import { AppError, gone, notFound } from '../shared/errors.ts';
import { recordAudit } from '../staff/audit.ts';
import { latestContactConsent } from '../supporter/consent.ts';
import { newDataKey, openName, openOrNull, supporterKey, unwrapDataKey } from '../privacy/personal-data.ts';

export const SIGNATURE_STATUSES = Object.values(SignatureStatus);
export const LETTER_STATUSES = Object.values(LetterStatus);

export interface ExportFilter {
  kind: ExportKind;
  actionId?: string;
  /** a signature status (SIGNATURES) or a letter status (LETTERS) */
  status?: string;
  /** created at or after / before */
  from?: Date;
  to?: Date;
  /** the signer's country (SIGNATURES) or the target's country (LETTERS) */
  country?: string;
  /**
   * SIGNATURES: add names, the contact consent and email addresses (off by default: data
   * minimisation). An address only of a signer who agreed to be contacted (contactConsent).
   */
  includePersonal?: boolean;
  /** SIGNATURES with includePersonal: every signer's address, consent or not. Admins only, with a reason */
  emailsWithoutConsent?: boolean;
  /** why the wider export is needed: kept with the job and in the audit log */
  reason?: string;
}

/** Who starts an export: the wider one is for admins only. */
export interface ExportStaff {
  id: string;
  role: StaffRole;
}

/** Signatures `s`, their supporters `p`, and for letters `l` their batches `b` and targets `g`. */
type Scope = DB & {
  s: DB['signatures'];
  p: DB['supporters'];
  l: DB['letters'];
  b: DB['delivery_batches'];
  g: DB['targets'];
};
const eb = expressionBuilder<Scope, 's' | 'p' | 'l' | 'b' | 'g'>();

/**
 * Whether the supporter `p` may be contacted, as an export decides it (promise 10: an address
 * leaves Chorus only with this): not erased, not unsubscribed, and their latest choice on being
 * contacted is a yes (supporter/consent.ts: only the owner of the address ever records one).
 */
export const contactConsent = eb.and([
  eb('p.erased_at', 'is', null),
  eb('p.unsubscribed_at', 'is', null),
  eb.fn.coalesce(latestContactConsent(eb.ref('p.id')), sql.lit(false)),
]);

export interface ExportJobView {
  id: string;
  kind: ExportKind;
  status: ExportStatus;
  filter: Record<string, unknown>;
  total: number;
  rowsDone: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  staffEmail: string | null;
  /** the file name offered for download */
  fileName: string;
}

export interface ExportDeps {
  pool: pg.Pool;
  dir: string;
  clock: () => Date;
  /** rows between progress writes */
  progressEvery?: number;
}

export const EXPORT_TTL_MS = 24 * 3_600_000;
/** A RUNNING job not heard from for this long belonged to a process that died. */
export const STALE_MS = 2 * 60_000;

interface Query {
  /** the rows, one object per row whose keys are the CSV columns */
  rows: { stream(chunkSize: number): AsyncIterableIterator<Record<string, unknown>>; compile(): CompiledQuery };
  count: { executeTakeFirstOrThrow(): Promise<{ n: number }> };
  columns: string[];
}

/** A timestamptz as Date#toISOString writes it (UTC, milliseconds), or '' for NULL. */
const isoOf = (e: Expression<Date | null>) => sql<string>`COALESCE(to_char(${e} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), '')`;
const yesNo = (cond: Expression<SqlBool>) => eb.case().when(cond).then(sql.lit('yes')).else(sql.lit('no')).end();
const orEmpty = (e: Expression<string | null>) => eb.fn.coalesce(e, sql.lit(''));
const countRows = sql<number>`count(*)::int`.as('n');

/** Every condition, or none. */
const allOf = (conds: Expression<SqlBool>[]) => (conds.length ? eb.and(conds) : null);

// Every cell comes out of PostgreSQL as the text the file shows (timestamps formatted there, in
// UTC, exactly as Date#toISOString writes them): no Date parsed in JavaScript only to be printed
// again. That work was most of the cost per row. Each column is aliased to its CSV header.
function buildQuery(k: Kysely<DB>, f: ExportFilter): Query {
  const conds: Expression<SqlBool>[] = [];
  if (f.kind === ExportKind.SIGNATURES) {
    if (f.actionId) conds.push(eb('s.action_id', '=', f.actionId));
    // the status is one of the kind's (checkStatus)
    if (f.status) conds.push(eb('s.status', '=', f.status as SignatureStatus));
    if (f.from) conds.push(eb('s.created_at', '>=', f.from));
    if (f.to) conds.push(eb('s.created_at', '<', f.to));
    if (f.country) conds.push(eb('s.country', '=', f.country));
    const where = allOf(conds);
    const personal = Boolean(f.includePersonal);
    const everyEmail = personal && Boolean(f.emailsWithoutConsent);
    // Data minimisation: no IP hashes, no letters, no consent history; names only when asked
    // for, and addresses then only of signers who agreed to be contacted (the contact_consent
    // column says who), unless an admin asked for every address with a reason (startExport).
    // An erased supporter has no name or address left to export.
    const columns = [
      'signature_id',
      'action',
      'status',
      'created_at',
      'confirmed_at',
      'invalidated_at',
      'invalid_reason',
      'country',
      'locale',
      'source',
      'named_disclosure',
      // whether the name may also go to officials of the signer's own country (a separate
      // choice): whoever hands names on from this file must see it
      'named_to_own_country',
      'public_wall',
      ...(personal ? ['first_name', 'last_name', 'contact_consent', 'email'] : []),
    ];
    const rows = k
      .selectFrom('signatures as s')
      .innerJoin('actions as a', 'a.id', 's.action_id')
      .select((e) => [
        's.id as signature_id',
        'a.slug as action',
        's.status',
        isoOf(e.ref('s.created_at')).as('created_at'),
        isoOf(e.ref('s.confirmed_at')).as('confirmed_at'),
        isoOf(e.ref('s.invalidated_at')).as('invalidated_at'),
        orEmpty(e.ref('s.invalid_reason')).as('invalid_reason'),
        's.country',
        's.locale',
        orEmpty(e.ref('s.source')).as('source'),
        yesNo(e.ref('s.named_disclosure')).as('named_disclosure'),
        yesNo(e.and([e.ref('s.named_disclosure'), e.ref('s.named_to_own_country')])).as('named_to_own_country'),
        yesNo(e.ref('s.public_wall')).as('public_wall'),
      ])
      .$if(personal, (q) =>
        q
          .innerJoin('supporters as p', 'p.id', 's.supporter_id')
          // the consent, decided once per row for two columns
          .crossJoinLateral(k.selectNoFrom(contactConsent.as('contact')).as('cc'))
          // the name and the address are sealed: the row carries them with the supporter's
          // wrapped data key, and openPersonal opens them as the row is written
          .select((e) => [
            'p.id as sealed_id',
            'p.data_key as sealed_key',
            // the person's name, only on a row they confirmed: a sign-up they never confirmed
            // (one set aside, an impostor's) did not come from them, and must not seem to
            e.case().when(e.ref('s.confirmed_at'), 'is not', null).then(e.ref('p.name')).else(sql.lit(null)).end().as('sealed_name'),
            yesNo(e.ref('cc.contact')).as('contact_consent'),
            (everyEmail ? e.ref('p.email') : e.case().when(e.ref('cc.contact')).then(e.ref('p.email')).else(sql.lit(null)).end()).as('sealed_email'),
          ]),
      )
      .$if(where !== null, (q) => q.where(where!))
      .orderBy('s.created_at')
      .orderBy('s.id');
    const counted = k
      .selectFrom('signatures as s')
      .select(countRows)
      .$if(where !== null, (q) => q.where(where!));
    return { rows, count: counted, columns };
  }
  if (f.actionId) conds.push(eb('b.action_id', '=', f.actionId));
  if (f.status) conds.push(eb('l.status', '=', f.status as LetterStatus));
  if (f.from) conds.push(eb('l.created_at', '>=', f.from));
  if (f.to) conds.push(eb('l.created_at', '<', f.to));
  if (f.country) conds.push(eb('g.country', '=', f.country));
  const where = allOf(conds);
  const letters = () =>
    k
      .selectFrom('letters as l')
      .innerJoin('delivery_batches as b', 'b.id', 'l.batch_id')
      .innerJoin('targets as g', 'g.id', 'l.target_id')
      .$if(where !== null, (q) => q.where(where!));
  const rows = letters()
    .innerJoin('actions as a', 'a.id', 'b.action_id')
    .select((e) => [
      'l.id as letter_id',
      'a.slug as action',
      'b.reason as batch_reason',
      'l.status',
      isoOf(e.ref('l.created_at')).as('created_at'),
      isoOf(e.ref('l.sent_at')).as('sent_at'),
      isoOf(e.ref('l.bounced_at')).as('bounced_at'),
      isoOf(e.ref('l.opened_at')).as('opened_at'),
      'l.signature_count as signatures',
      'l.locale',
      'l.attempts',
      orEmpty(e.ref('l.last_error')).as('last_error'),
      'g.name as target',
      'g.organisation',
      orEmpty(e.ref('g.country')).as('target_country'),
      'g.email as target_email',
    ])
    .orderBy('l.created_at')
    .orderBy('l.id');
  return {
    rows,
    count: letters().select(countRows),
    columns: [
      'letter_id',
      'action',
      'batch_reason',
      'status',
      'created_at',
      'sent_at',
      'bounced_at',
      'opened_at',
      'signatures',
      'locale',
      'attempts',
      'last_error',
      'target',
      'organisation',
      'target_country',
      'target_email',
    ],
  };
}

/** A signatures row with personal columns: its name and address opened with the supporter's data key. */
function openPersonal(row: Record<string, unknown>): Record<string, unknown> {
  if (!('sealed_id' in row)) return row;
  const id = row.sealed_id as string;
  const key = supporterKey(id, row.sealed_key as Buffer | null);
  const name = openName(key, id, row.sealed_name as Buffer | null);
  return { ...row, first_name: name.first ?? '', last_name: name.last ?? '', email: openOrNull(key, id, 'email', row.sealed_email as Buffer | null) ?? '' };
}

/** The cells of one CSV row, each neutralised against formula injection. */
export function safeCells(cells: unknown[]): string[] {
  return cells.map((c) => neutraliseCell(c == null ? '' : String(c)));
}

/**
 * The CSV of an export as a stream with backpressure: rows from a server-side cursor (1,000 per
 * FETCH), each turned into neutralised cells, then csv-stringify. Memory stays flat whatever the
 * row count. Give it a transaction (its snapshot is the file's): the caller owns it and ends it
 * when the stream ends or fails; `onRow` is called once per row written. The staff export writes
 * this into its file; the benchmark (tests/bench/export.ts) measures it against PostgreSQL's own COPY.
 */
export function exportCsv(db: Kysely<DB>, f: ExportFilter, onRow?: () => void): Readable {
  const q = buildQuery(db, f);
  const rows = Readable.from(q.rows.stream(1_000));
  const toCells = new Transform({
    objectMode: true,
    transform(row: Record<string, unknown>, _enc, cb) {
      onRow?.();
      const open = openPersonal(row);
      cb(null, safeCells(q.columns.map((c) => open[c])));
    },
  });
  const csv = stringify({ header: true, columns: q.columns });
  // an error anywhere (the query, say) ends the stream the caller reads with that error; the
  // caller giving up on it (its file failed, say) closes the cursor, so the connection is free again
  rows.on('error', (err) => toCells.destroy(err));
  toCells.on('error', (err) => csv.destroy(err));
  csv.on('close', () => {
    if (!csv.readableEnded) {
      toCells.destroy();
      rows.destroy();
    }
  });
  return rows.pipe(toCells).pipe(csv);
}

/** The query of an export and its parameters (the benchmark gives the same rows to COPY). */
export function exportQuery(db: Kysely<DB>, f: ExportFilter): { sql: string; params: readonly unknown[]; columns: string[] } {
  const { rows, columns } = buildQuery(db, f);
  const compiled = rows.compile();
  return { sql: compiled.sql, params: compiled.parameters, columns };
}

async function checkAction(pool: pg.Pool, actionId: string | undefined): Promise<void> {
  if (!actionId) return;
  const found = await qb(pool).selectFrom('actions').select('id').where('id', '=', actionId).executeTakeFirst();
  if (!found) throw notFound('action_not_found', 'No action has this id');
}

export async function countExport(deps: Pick<ExportDeps, 'pool'>, f: ExportFilter): Promise<number> {
  checkStatus(f);
  await checkAction(deps.pool, f.actionId);
  const { n } = await buildQuery(qb(deps.pool), f).count.executeTakeFirstOrThrow();
  return n;
}

function checkStatus(f: ExportFilter): void {
  const allowed: readonly string[] = f.kind === ExportKind.SIGNATURES ? SIGNATURE_STATUSES : LETTER_STATUSES;
  if (f.status && !allowed.includes(f.status)) {
    throw new AppError(422, 'invalid_status', `status must be one of ${allowed.join(', ')} for ${f.kind.toLowerCase()}`);
  }
}

/** What the job row and the audit log keep of a filter. */
function filterRecord(f: ExportFilter): Record<string, unknown> {
  return {
    kind: f.kind,
    ...(f.actionId ? { actionId: f.actionId } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...(f.from ? { from: f.from.toISOString() } : {}),
    ...(f.to ? { to: f.to.toISOString() } : {}),
    ...(f.country ? { country: f.country } : {}),
    ...(f.kind === ExportKind.SIGNATURES ? { includePersonal: Boolean(f.includePersonal) } : {}),
    ...(widerThanConsent(f) ? { emailsWithoutConsent: true, reason: f.reason ?? '' } : {}),
  };
}

const widerThanConsent = (f: ExportFilter) => f.kind === ExportKind.SIGNATURES && Boolean(f.includePersonal) && Boolean(f.emailsWithoutConsent);

/**
 * The addresses of signers who did not agree to be contacted leave Chorus only by an admin,
 * for a stated reason that is kept with the job and in the audit log.
 */
function checkWider(staff: ExportStaff, f: ExportFilter): void {
  if (!f.emailsWithoutConsent) return;
  if (f.kind !== ExportKind.SIGNATURES || !f.includePersonal) {
    throw new AppError(422, 'emails_need_personal', 'emailsWithoutConsent applies to a signatures export with includePersonal', {}, [
      { path: 'emailsWithoutConsent', code: 'not_applicable', message: 'applies to a signatures export with includePersonal' },
    ]);
  }
  if (staff.role !== StaffRole.ADMIN) {
    throw new AppError(403, 'admin_only', 'Only an admin may export the addresses of signers who did not agree to be contacted');
  }
  if (!f.reason || f.reason.trim().length < 10) {
    throw new AppError(422, 'reason_required', 'Say why these addresses are needed (at least 10 characters): it is kept with the export', {}, [
      { path: 'reason', code: 'too_short', min: 10, message: 'Say why these addresses are needed (at least 10 characters)' },
    ]);
  }
}

const fileOf = (deps: Pick<ExportDeps, 'dir'>, id: string) => join(resolve(deps.dir), `${id}.csv`);

/**
 * Counts the rows, records the job (and the export in the audit log), and starts writing the
 * file. Returns at once with the job; `done` settles when the file is complete (for tests).
 */
export async function startExport(deps: ExportDeps, staff: ExportStaff, f: ExportFilter): Promise<{ job: ExportJobView; done: Promise<void> }> {
  checkWider(staff, f);
  const staffId = staff.id;
  const total = await countExport(deps, f);
  await mkdir(resolve(deps.dir), { recursive: true });
  const now = deps.clock();
  const { id } = await qb(deps.pool)
    .insertInto('export_jobs')
    .values({ staff_id: staffId, kind: f.kind, filter: JSON.stringify(filterRecord(f)), total, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  await recordAudit(deps.pool, {
    staffId,
    verb: 'export_started',
    entity: 'export',
    entityId: id,
    after: { ...filterRecord(f), rows: total },
    at: now,
  });
  // the job as it starts: read before the export runs, which a small one may finish at once
  const job = (await getExport(deps, id))!;
  const done = runExport(deps, id, staffId, f).catch(() => {});
  return { job, done };
}

async function runExport(deps: ExportDeps, id: string, staffId: string, f: ExportFilter): Promise<void> {
  const final = fileOf(deps, id);
  const partial = `${final}.part`;
  const { key: fileKey, wrapped } = newDataKey('export', id);
  await qb(deps.pool).updateTable('export_jobs').set({ file_key: wrapped }).where('id', '=', id).execute();
  const every = deps.progressEvery ?? 5_000;
  const k = qb(deps.pool);
  const job = () => k.updateTable('export_jobs').where('id', '=', id);
  let rowsDone = 0;
  let progress: Promise<unknown> = Promise.resolve();
  const report = () => {
    const n = rowsDone;
    progress = progress.then(() =>
      job()
        .set({ rows_done: n, updated_at: deps.clock() })
        .where('status', '=', ExportStatus.RUNNING)
        .execute()
        .catch(() => {}),
    );
  };
  try {
    // one snapshot for the whole file
    await k
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        // each FETCH is its own statement; this bounds one, not the whole export (SET LOCAL)
        await trx.selectNoFrom((e) => e.fn('set_config', [sql.lit('statement_timeout'), sql.lit('5min'), sql.lit(true)]).as('timeout')).execute();
        // the file is encrypted on disk under a key of its own (sealedFile)
        await pipeline(
          exportCsv(trx, f, () => {
            rowsDone++;
            if (rowsDone % every === 0) report();
          }),
          sealingStream(fileKey, id),
          createWriteStream(partial, { mode: 0o600 }),
        );
      });
    await rename(partial, final);
    await progress;
    const at = deps.clock();
    await job().set({ status: ExportStatus.DONE, rows_done: rowsDone, updated_at: at, finished_at: at }).execute();
    await recordAudit(deps.pool, { staffId, verb: 'export_completed', entity: 'export', entityId: id, after: { ...filterRecord(f), rows: rowsDone }, at: deps.clock() });
  } catch (err) {
    await rm(partial, { force: true }).catch(() => {});
    await progress;
    const at = deps.clock();
    await job()
      .set({ status: ExportStatus.FAILED, error: String(err instanceof Error ? err.message : err).slice(0, 500), updated_at: at, finished_at: at })
      .execute()
      .catch(() => {});
    throw err;
  }
}

const jobs = (pool: pg.Pool) =>
  qb(pool)
    .selectFrom('export_jobs as j')
    .leftJoin('staff_users as s', 's.id', 'j.staff_id')
    .select([
      'j.id',
      'j.kind',
      'j.status',
      'j.filter',
      'j.total',
      'j.rows_done',
      'j.error',
      'j.created_at',
      'j.updated_at',
      'j.finished_at',
      'j.staff_id',
      's.email as staff_email',
    ]);

type JobRow = Awaited<ReturnType<ReturnType<typeof jobs>['executeTakeFirstOrThrow']>>;

function toView(deps: Pick<ExportDeps, 'clock'>, r: JobRow): ExportJobView {
  const stale = r.status === ExportStatus.RUNNING && deps.clock().getTime() - r.updated_at.getTime() > STALE_MS;
  return {
    id: r.id,
    kind: r.kind,
    status: stale ? ExportStatus.FAILED : r.status,
    filter: r.filter as Record<string, unknown>,
    total: r.total,
    rowsDone: r.rows_done,
    error: stale ? 'The export stopped (its server process ended); start it again.' : r.error,
    createdAt: r.created_at.toISOString(),
    finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
    staffEmail: r.staff_email,
    fileName: `chorus-${r.kind.toLowerCase()}-${r.created_at.toISOString().slice(0, 10)}-${r.id.slice(0, 8)}.csv`,
  };
}

export async function getExport(deps: Pick<ExportDeps, 'pool' | 'clock'>, id: string): Promise<ExportJobView | null> {
  const row = await jobs(deps.pool).where('j.id', '=', id).executeTakeFirst();
  return row ? toView(deps, row) : null;
}

export async function listExports(deps: Pick<ExportDeps, 'pool' | 'clock'>, limit = 50): Promise<ExportJobView[]> {
  const rows = await jobs(deps.pool).orderBy('j.created_at', 'desc').limit(limit).execute();
  return rows.map((r) => toView(deps, r));
}

// An export file on disk: a random IV, the CSV encrypted with AES-256-GCM under the export's own
// data key (wrapped in export_jobs.file_key, bound to the export's id), and the tag. A copy of the
// directory alone does not read; the key goes when the export expires.
const FILE_IV = 12;
const FILE_TAG = 16;
const fileAad = (id: string) => Buffer.from(`chorus export file v1\n${id}`);

function sealingStream(key: Buffer, id: string): Transform {
  const iv = randomBytes(FILE_IV);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(fileAad(id));
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const out = cipher.update(chunk);
      if (!started) {
        started = true;
        cb(null, Buffer.concat([iv, out]));
      } else cb(null, out);
    },
    flush(cb) {
      const last = cipher.final();
      cb(null, Buffer.concat([started ? Buffer.alloc(0) : iv, last, cipher.getAuthTag()]));
    },
  });
}

/** The CSV of an encrypted export file (`body`: its bytes between the IV and the tag); fails at the end if the file was altered. */
async function openingStream(path: string, size: number, key: Buffer, id: string, body: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> {
  const fh = await openFile(path, 'r');
  try {
    const iv = Buffer.alloc(FILE_IV);
    const tag = Buffer.alloc(FILE_TAG);
    await fh.read(iv, 0, FILE_IV, 0);
    await fh.read(tag, 0, FILE_TAG, size - FILE_TAG);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(fileAad(id));
    decipher.setAuthTag(tag);
    body.on('error', (err) => decipher.destroy(err));
    return body.pipe(decipher);
  } finally {
    await fh.close();
  }
}

/** The finished file, for download; audited, since it hands personal data to a person. */
export async function openExport(
  deps: ExportDeps,
  staffId: string,
  id: string,
): Promise<{ job: ExportJobView; size: number; stream: NodeJS.ReadableStream }> {
  const job = await getExport(deps, id);
  if (!job) throw notFound('export_not_found', 'No export has this id');
  if (job.status === ExportStatus.EXPIRED) throw gone('export_expired', 'This export was deleted after 24 hours; start it again');
  if (job.status !== ExportStatus.DONE) throw new AppError(409, 'export_not_ready', 'This export is not finished');
  const path = fileOf(deps, id);
  const size = await stat(path).then(
    (s) => s.size,
    () => {
      throw gone('export_file_missing', 'The file of this export is no longer on this server; start it again');
    },
  );
  const wrapped = await qb(deps.pool).selectFrom('export_jobs').select('file_key').where('id', '=', id).executeTakeFirst();
  if (!wrapped?.file_key) throw gone('export_file_missing', 'The key of this export is gone; start it again');
  const file = createReadStream(path, { start: FILE_IV, end: size - FILE_TAG - 1 });
  await once(file, 'open');
  const stream = await openingStream(path, size, unwrapDataKey('export', id, wrapped.file_key), id, file);
  await recordAudit(deps.pool, { staffId, verb: 'export_downloaded', entity: 'export', entityId: id, after: { rows: job.rowsDone }, at: deps.clock() });
  return { job, size: size - FILE_IV - FILE_TAG, stream };
}

/** Deletes the files of exports older than 24 hours and marks them EXPIRED. */
export async function expireExports(deps: Pick<ExportDeps, 'pool' | 'clock' | 'dir'>): Promise<number> {
  const cutoff = new Date(deps.clock().getTime() - EXPORT_TTL_MS);
  const rows = await qb(deps.pool)
    .updateTable('export_jobs')
    // the file's key goes with the file
    .set({ status: ExportStatus.EXPIRED, updated_at: deps.clock(), file_key: null })
    .where('created_at', '<', cutoff)
    .where('status', 'in', [ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.RUNNING])
    .returning('id')
    .execute();
  for (const r of rows) {
    await rm(fileOf(deps, r.id), { force: true });
    await rm(`${fileOf(deps, r.id)}.part`, { force: true });
  }
  return rows.length;
}
