// The export scenario: 1,000,000 signatures to CSV by the staff export's own streaming
// function (server/src/insight/export.service.ts, exportCsv), compared with PostgreSQL's own
// COPY (SELECT ...) TO STDOUT of the same query, and the exporting process's peak memory.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { startChild } from './child.ts';
import { createBenchAction, insertConfirmed } from './data.ts';
import { fmt, median, progress } from './load.ts';
import { createDb, qb } from '../../server/src/db/db.ts';
import { exportQuery, type ExportFilter } from '../../server/src/insight/export.service.ts';

export interface ExportResult {
  rows: number;
  copyRowsPerSecond: number;
  copyRuns: number[];
  copyMb: number;
  exportRowsPerSecond: number;
  exportRuns: number[];
  exportMb: number;
  peakMb: number;
}

/** What the scenario exports: every signature of the action, with names and email addresses. */
export const BENCH_EXPORT = (actionId: string): ExportFilter => ({ kind: 'SIGNATURES', actionId, includePersonal: true });

/** The export's own query with its parameters written in, for COPY (which takes none). */
export function copySql(pool: pg.Pool, actionId: string): string {
  // actionId is a uuid the bench generated; the query's other parameters are status and consent
  // names, consent flags and small counts
  if (!/^[0-9a-f-]{36}$/.test(actionId)) throw new Error('not a uuid');
  const q = exportQuery(qb(pool), BENCH_EXPORT(actionId));
  return q.sql.replace(/\$(\d+)/g, (_m, i: string) => {
    const v = q.params[Number(i) - 1];
    if (typeof v === 'number' && Number.isInteger(v)) return String(v);
    if (typeof v === 'boolean') return String(v);
    if (typeof v !== 'string' || !/^[\w-]+$/.test(v)) throw new Error('the bench export takes only ids, names, flags and counts');
    return `'${v}'`;
  });
}

async function copyOnce(pool: pg.Pool, actionId: string): Promise<{ rows: number; bytes: number; seconds: number }> {
  const client = await pool.connect();
  let bytes = 0;
  let lines = 0;
  const t0 = performance.now();
  try {
    await pipeline(
      client.query(copyTo(`COPY (${copySql(pool, actionId)}) TO STDOUT WITH (FORMAT csv, HEADER true)`)),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
          done();
        },
      }),
    );
  } finally {
    client.release();
  }
  return { rows: lines - 1, bytes, seconds: (performance.now() - t0) / 1000 };
}

export async function exportScenario(pool: pg.Pool, databaseUrl: string, opts: { rows: number; runs: number }): Promise<ExportResult> {
  const db = createDb(databaseUrl, { max: 2, applicationName: 'chorus-bench' });
  // a draft action: not in the server's cache, not a candidate for the batcher
  const action = await createBenchAction(db, { name: 'export', status: 'DRAFT' });
  await db.close();
  const t0 = performance.now();
  await insertConfirmed(pool, action.id, opts.rows, (done) => progress(`[export] ${fmt(done)}/${fmt(opts.rows)} signatures written (${fmt((performance.now() - t0) / 1000, 1)} s)`));
  await pool.query('VACUUM ANALYZE signatures');
  await pool.query('VACUUM ANALYZE supporters');

  const copies = [];
  for (let i = 0; i < opts.runs; i++) {
    const c = await copyOnce(pool, action.id);
    progress(`[export] COPY TO STDOUT run ${i + 1}/${opts.runs}: ${fmt(c.rows)} rows in ${fmt(c.seconds, 2)} s = ${fmt(c.rows / c.seconds)} rows/s`);
    copies.push(c);
  }
  const exports = [];
  let peakMb = 0;
  for (let i = 0; i < opts.runs; i++) {
    // a fresh process each run, so its peak memory is this export's
    const child = await startChild('./export-child.ts', { EXPORT_ACTION_ID: action.id });
    const ticker = setInterval(() => progress(`[export] streaming CSV export run ${i + 1}/${opts.runs} ...`), 1000);
    const e = await child.ask<{ rows: number; bytes: number; seconds: number; peakMb: number }>('export');
    clearInterval(ticker);
    await child.stop();
    progress(`[export] streaming CSV export run ${i + 1}/${opts.runs}: ${fmt(e.rows)} rows in ${fmt(e.seconds, 2)} s = ${fmt(e.rows / e.seconds)} rows/s, peak ${fmt(e.peakMb)} MB`);
    exports.push(e);
    peakMb = Math.max(peakMb, e.peakMb);
  }
  const copyRuns = copies.map((c) => c.rows / c.seconds);
  const exportRuns = exports.map((e) => e.rows / e.seconds);
  return {
    rows: copies[0]!.rows,
    copyRowsPerSecond: median(copyRuns),
    copyRuns,
    copyMb: copies[0]!.bytes / 2 ** 20,
    exportRowsPerSecond: median(exportRuns),
    exportRuns,
    exportMb: exports[0]!.bytes / 2 ** 20,
    peakMb,
  };
}
