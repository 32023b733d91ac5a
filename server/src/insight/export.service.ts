// Staff CSV exports of signatures and letters. An export is a job: a row in export_jobs
// with the filter, the number of rows that matched when it started and the rows written so
// far, and a file under EXPORT_DIR that staff download when it is done. Rows come from a
// server-side cursor (pg-query-stream: a Readable with backpressure over pg-cursor), go
// through csv-stringify and into the file, so memory stays flat whatever the row count.
// Every cell a spreadsheet could read as a formula is neutralised. Files are deleted after
// 24 hours.
//
// The job runs in the API process that was asked for it. A process that dies mid-export
// leaves a RUNNING row with a stale updated_at; readers report it as failed.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import { neutraliseCell } from '../delivery/packet.service.ts';
import { AppError, gone, notFound } from '../shared/errors.ts';
import { recordAudit } from '../staff/audit.ts';

export type ExportKind = 'SIGNATURES' | 'LETTERS';
export const SIGNATURE_STATUSES = ['PENDING', 'CONFIRMED', 'INVALIDATED'] as const;
export const LETTER_STATUSES = ['PENDING', 'SUBMITTING', 'SENT', 'FAILED', 'BOUNCED'] as const;

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
   * minimisation). An address only of a signer who agreed to be contacted (contactConsentSql).
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
  role: 'ADMIN' | 'CAMPAIGNER' | 'VIEWER';
}

/**
 * Whether the supporter `p` may be contacted, as an export decides it (promise 10: an address
 * leaves Chorus only with this): not erased, not unsubscribed, and their latest CONTACT consent
 * is a yes, counting only consents given with a confirmed signature or by the signer
 * themselves ("my data"). A pending sign-up proves nothing about who owns the address, so
 * a "yes" typed there with someone else's address does not count.
 */
export const contactConsentSql = `(p.erased_at IS NULL AND p.unsubscribed_at IS NULL AND COALESCE((
    SELECT c.granted FROM consents c LEFT JOIN signatures cs ON cs.id = c.signature_id
     WHERE c.supporter_id = p.id AND c.purpose = 'CONTACT' AND (c.signature_id IS NULL OR cs.status = 'CONFIRMED')
     ORDER BY c.created_at DESC, c.id DESC LIMIT 1), false))`;

export interface ExportJobView {
  id: string;
  kind: ExportKind;
  status: 'RUNNING' | 'DONE' | 'FAILED' | 'EXPIRED';
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
  sql: string;
  countSql: string;
  params: unknown[];
  columns: string[];
  /** rows come as arrays of cells already (rowMode 'array'), not objects */
  arrayRows?: boolean;
  /** a row of the query to CSV cells, in column order */
  cells: (row: Record<string, unknown>) => unknown[];
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? '' : String(v));
/** A timestamptz column as Date#toISOString writes it (UTC, milliseconds), or '' for NULL. */
const isoSql = (col: string) => `COALESCE(to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), '')`;

function buildQuery(f: ExportFilter): Query {
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('?', `$${params.length}`));
  };
  if (f.kind === 'SIGNATURES') {
    if (f.actionId) add('s.action_id = ?::uuid', f.actionId);
    if (f.status) add(`s.status = ?::"SignatureStatus"`, f.status);
    if (f.from) add('s.created_at >= ?', f.from);
    if (f.to) add('s.created_at < ?', f.to);
    if (f.country) add('s.country = ?', f.country);
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
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
    // Every cell comes out of PostgreSQL as the text the file shows (timestamps formatted
    // there, in UTC, exactly as Date#toISOString writes them): rows as arrays, no Date parsed in
    // JavaScript only to be printed again. That work was most of the cost per row.
    return {
      sql: `SELECT s.id::text, a.slug, s.status::text, ${isoSql('s.created_at')}, ${isoSql('s.confirmed_at')}, ${isoSql('s.invalidated_at')},
                   COALESCE(s.invalid_reason, ''), s.country, s.locale, COALESCE(s.source, ''),
                   CASE WHEN s.named_disclosure THEN 'yes' ELSE 'no' END,
                   CASE WHEN s.named_disclosure AND s.named_to_own_country THEN 'yes' ELSE 'no' END, CASE WHEN s.public_wall THEN 'yes' ELSE 'no' END
                   ${
                     personal
                       ? `, COALESCE(p.first_name, ''), COALESCE(p.last_name, ''), CASE WHEN cc.contact THEN 'yes' ELSE 'no' END,
                          ${everyEmail ? "COALESCE(p.email, '')" : "CASE WHEN cc.contact THEN COALESCE(p.email, '') ELSE '' END"}`
                       : ''
                   }
              FROM signatures s JOIN actions a ON a.id = s.action_id
              ${personal ? `JOIN supporters p ON p.id = s.supporter_id CROSS JOIN LATERAL (SELECT ${contactConsentSql} AS contact) cc` : ''}
              ${cond} ORDER BY s.created_at, s.id`,
      countSql: `SELECT count(*)::int AS n FROM signatures s ${cond}`,
      params,
      columns,
      arrayRows: true,
      cells: (r) => r as unknown as unknown[],
    };
  }
  if (f.actionId) add('b.action_id = ?::uuid', f.actionId);
  if (f.status) add(`l.status = ?::"LetterStatus"`, f.status);
  if (f.from) add('l.created_at >= ?', f.from);
  if (f.to) add('l.created_at < ?', f.to);
  if (f.country) add('g.country = ?', f.country);
  const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const from = 'FROM letters l JOIN delivery_batches b ON b.id = l.batch_id JOIN targets g ON g.id = l.target_id';
  return {
    sql: `SELECT l.id, a.slug, b.reason, l.status, l.created_at, l.sent_at, l.bounced_at, l.opened_at, l.signature_count,
                 l.locale, l.attempts, l.last_error, g.name, g.organisation, g.country, g.email
            ${from} JOIN actions a ON a.id = b.action_id ${cond} ORDER BY l.created_at, l.id`,
    countSql: `SELECT count(*)::int AS n ${from} ${cond}`,
    params,
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
    cells: (r) => [
      r.id,
      r.slug,
      r.reason,
      r.status,
      iso(r.created_at),
      iso(r.sent_at),
      iso(r.bounced_at),
      iso(r.opened_at),
      r.signature_count,
      r.locale,
      r.attempts,
      r.last_error ?? '',
      r.name,
      r.organisation,
      r.country ?? '',
      r.email,
    ],
  };
}

/** The cells of one CSV row, each neutralised against formula injection. */
export function safeCells(cells: unknown[]): string[] {
  return cells.map((c) => neutraliseCell(c == null ? '' : String(c)));
}

/**
 * The CSV of an export as a stream with backpressure: rows from a server-side cursor (1,000 per
 * FETCH), each turned into neutralised cells, then csv-stringify. Memory stays flat whatever the
 * row count. The caller owns `client` (and its transaction) and releases it when the stream ends
 * or fails; `onRow` is called once per row written. The staff export writes this into its file;
 * the benchmark (tests/bench/export.ts) measures it against PostgreSQL's own COPY.
 */
export function exportCsv(client: pg.PoolClient, f: ExportFilter, onRow?: () => void): Readable {
  const q = buildQuery(f);
  const rows = client.query(new QueryStream(q.sql, q.params, { batchSize: 1_000, ...(q.arrayRows ? { rowMode: 'array' as const } : {}) }));
  const toCells = new Transform({
    objectMode: true,
    transform(row: Record<string, unknown>, _enc, cb) {
      onRow?.();
      cb(null, safeCells(q.cells(row)));
    },
  });
  const csv = stringify({ header: true, columns: q.columns });
  // an error anywhere (the query, say) ends the stream the caller reads with that error; the
  // caller giving up on it (its file failed, say) closes the cursor, so the client is free again
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
export function exportQuery(f: ExportFilter): { sql: string; params: unknown[]; columns: string[] } {
  const { sql, params, columns } = buildQuery(f);
  return { sql, params, columns };
}

async function checkAction(pool: pg.Pool, actionId: string | undefined): Promise<void> {
  if (!actionId) return;
  const { rowCount } = await pool.query('SELECT 1 FROM actions WHERE id = $1', [actionId]);
  if (!rowCount) throw notFound('action_not_found', 'No action has this id');
}

export async function countExport(deps: Pick<ExportDeps, 'pool'>, f: ExportFilter): Promise<number> {
  checkStatus(f);
  await checkAction(deps.pool, f.actionId);
  const q = buildQuery(f);
  const { rows } = await deps.pool.query<{ n: number }>(q.countSql, q.params);
  return rows[0]!.n;
}

function checkStatus(f: ExportFilter): void {
  const allowed: readonly string[] = f.kind === 'SIGNATURES' ? SIGNATURE_STATUSES : LETTER_STATUSES;
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
    ...(f.kind === 'SIGNATURES' ? { includePersonal: Boolean(f.includePersonal) } : {}),
    ...(widerThanConsent(f) ? { emailsWithoutConsent: true, reason: f.reason ?? '' } : {}),
  };
}

const widerThanConsent = (f: ExportFilter) => f.kind === 'SIGNATURES' && Boolean(f.includePersonal) && Boolean(f.emailsWithoutConsent);

/**
 * The addresses of signers who did not agree to be contacted leave Chorus only by an admin,
 * for a stated reason that is kept with the job and in the audit log.
 */
function checkWider(staff: ExportStaff, f: ExportFilter): void {
  if (!f.emailsWithoutConsent) return;
  if (f.kind !== 'SIGNATURES' || !f.includePersonal) {
    throw new AppError(422, 'emails_need_personal', 'emailsWithoutConsent applies to a signatures export with includePersonal', {}, [
      { path: 'emailsWithoutConsent', message: 'applies to a signatures export with includePersonal' },
    ]);
  }
  if (staff.role !== 'ADMIN') {
    throw new AppError(403, 'admin_only', 'Only an admin may export the addresses of signers who did not agree to be contacted');
  }
  if (!f.reason || f.reason.trim().length < 10) {
    throw new AppError(422, 'reason_required', 'Say why these addresses are needed (at least 10 characters): it is kept with the export', {}, [
      { path: 'reason', message: 'Say why these addresses are needed (at least 10 characters)' },
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
  const { rows } = await deps.pool.query<{ id: string }>(
    `INSERT INTO export_jobs (staff_id, kind, filter, total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`,
    [staffId, f.kind, JSON.stringify(filterRecord(f)), total, now],
  );
  const id = rows[0]!.id;
  await recordAudit(deps.pool, {
    staffId,
    verb: 'export_started',
    entity: 'export',
    entityId: id,
    after: { ...filterRecord(f), rows: total },
    at: now,
  });
  const done = runExport(deps, id, staffId, f).catch(() => {});
  return { job: (await getExport(deps, id))!, done };
}

async function runExport(deps: ExportDeps, id: string, staffId: string, f: ExportFilter): Promise<void> {
  const final = fileOf(deps, id);
  const partial = `${final}.part`;
  const every = deps.progressEvery ?? 5_000;
  let rowsDone = 0;
  let progress: Promise<unknown> = Promise.resolve();
  const report = () => {
    const n = rowsDone;
    progress = progress.then(() =>
      deps.pool.query(`UPDATE export_jobs SET rows_done = $2, updated_at = $3 WHERE id = $1 AND status = 'RUNNING'`, [id, n, deps.clock()]).catch(() => {}),
    );
  };
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // each FETCH is its own statement; this bounds one, not the whole export
    await client.query(`SET LOCAL statement_timeout = '5min'`);
    await pipeline(
      exportCsv(client, f, () => {
        rowsDone++;
        if (rowsDone % every === 0) report();
      }),
      createWriteStream(partial, { mode: 0o600 }),
    );
    await client.query('COMMIT');
    await rename(partial, final);
    await progress;
    await deps.pool.query(
      `UPDATE export_jobs SET status = 'DONE', rows_done = $2, updated_at = $3, finished_at = $3 WHERE id = $1`,
      [id, rowsDone, deps.clock()],
    );
    await recordAudit(deps.pool, { staffId, verb: 'export_completed', entity: 'export', entityId: id, after: { ...filterRecord(f), rows: rowsDone }, at: deps.clock() });
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    await rm(partial, { force: true }).catch(() => {});
    await progress;
    await deps.pool
      .query(`UPDATE export_jobs SET status = 'FAILED', error = $2, updated_at = $3, finished_at = $3 WHERE id = $1`, [
        id,
        String(err instanceof Error ? err.message : err).slice(0, 500),
        deps.clock(),
      ])
      .catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

type JobRow = {
  id: string;
  kind: ExportKind;
  status: ExportJobView['status'];
  filter: Record<string, unknown>;
  total: number;
  rows_done: number;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  staff_id: string;
  staff_email: string | null;
};

function toView(deps: Pick<ExportDeps, 'clock'>, r: JobRow): ExportJobView {
  const stale = r.status === 'RUNNING' && deps.clock().getTime() - r.updated_at.getTime() > STALE_MS;
  return {
    id: r.id,
    kind: r.kind,
    status: stale ? 'FAILED' : r.status,
    filter: r.filter,
    total: r.total,
    rowsDone: r.rows_done,
    error: stale ? 'The export stopped (its server process ended); start it again.' : r.error,
    createdAt: r.created_at.toISOString(),
    finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
    staffEmail: r.staff_email,
    fileName: `chorus-${r.kind.toLowerCase()}-${r.created_at.toISOString().slice(0, 10)}-${r.id.slice(0, 8)}.csv`,
  };
}

const JOB_SELECT = `SELECT j.id, j.kind, j.status, j.filter, j.total, j.rows_done, j.error, j.created_at, j.updated_at, j.finished_at,
                           j.staff_id, s.email AS staff_email
                      FROM export_jobs j LEFT JOIN staff_users s ON s.id = j.staff_id`;

export async function getExport(deps: Pick<ExportDeps, 'pool' | 'clock'>, id: string): Promise<ExportJobView | null> {
  const { rows } = await deps.pool.query<JobRow>(`${JOB_SELECT} WHERE j.id = $1`, [id]);
  return rows[0] ? toView(deps, rows[0]) : null;
}

export async function listExports(deps: Pick<ExportDeps, 'pool' | 'clock'>, limit = 50): Promise<ExportJobView[]> {
  const { rows } = await deps.pool.query<JobRow>(`${JOB_SELECT} ORDER BY j.created_at DESC LIMIT $1`, [limit]);
  return rows.map((r) => toView(deps, r));
}

/** The finished file, for download; audited, since it hands personal data to a person. */
export async function openExport(
  deps: ExportDeps,
  staffId: string,
  id: string,
): Promise<{ job: ExportJobView; size: number; stream: NodeJS.ReadableStream }> {
  const job = await getExport(deps, id);
  if (!job) throw notFound('export_not_found', 'No export has this id');
  if (job.status === 'EXPIRED') throw gone('export_expired', 'This export was deleted after 24 hours; start it again');
  if (job.status !== 'DONE') throw new AppError(409, 'export_not_ready', 'This export is not finished');
  const path = fileOf(deps, id);
  const size = await stat(path).then(
    (s) => s.size,
    () => {
      throw gone('export_file_missing', 'The file of this export is no longer on this server; start it again');
    },
  );
  const stream = createReadStream(path);
  await once(stream, 'open');
  await recordAudit(deps.pool, { staffId, verb: 'export_downloaded', entity: 'export', entityId: id, after: { rows: job.rowsDone }, at: deps.clock() });
  return { job, size, stream };
}

/** Deletes the files of exports older than 24 hours and marks them EXPIRED. */
export async function expireExports(deps: Pick<ExportDeps, 'pool' | 'clock' | 'dir'>): Promise<number> {
  const cutoff = new Date(deps.clock().getTime() - EXPORT_TTL_MS);
  const { rows } = await deps.pool.query<{ id: string }>(
    `UPDATE export_jobs SET status = 'EXPIRED', updated_at = $2
      WHERE created_at < $1 AND status IN ('DONE', 'FAILED', 'RUNNING') RETURNING id`,
    [cutoff, deps.clock()],
  );
  for (const r of rows) {
    await rm(fileOf(deps, r.id), { force: true });
    await rm(`${fileOf(deps, r.id)}.part`, { force: true });
  }
  return rows.length;
}
