// A streaming CSV export of an action's signatures, built the way the staff export is meant to
// be (server/src/http/routes/admin/exports.ts, on another branch when this was written): a
// pg query stream (a server-side cursor read in pages, so memory stays flat) piped through
// csv-stringify with spreadsheet formulas neutralised. When the real export lands, point
// export-child.ts at it instead (see EXPORT_QUERY below for the columns to keep comparable).
import { Transform, type Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import { neutraliseCell } from '../../server/src/delivery/packet.service.ts';

export const EXPORT_COLUMNS = ['first_name', 'last_name', 'email', 'country', 'status', 'signed_at', 'confirmed_at'] as const;

/** The same rows PostgreSQL's own COPY is measured on (ceilings of the export scenario). */
export function exportQuery(actionId: string): string {
  // actionId is a uuid we generated; COPY takes no parameters
  if (!/^[0-9a-f-]{36}$/.test(actionId)) throw new Error('not a uuid');
  // timestamps are formatted by PostgreSQL (ISO 8601, UTC): parsing them into Dates in
  // JavaScript only to print them again costs more than everything else per row
  const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  return `SELECT p.first_name, p.last_name, p.email, s.country, s.status::text AS status,
                 ${iso('s.created_at')} AS signed_at, ${iso('s.confirmed_at')} AS confirmed_at
          FROM signatures s JOIN supporters p ON p.id = s.supporter_id
          WHERE s.action_id = '${actionId}' ORDER BY s.created_at, s.id`;
}

/** The CSV as a stream; the caller must release `client` when the stream ends or fails. */
export function exportSignaturesCsv(client: pg.PoolClient, actionId: string): Readable {
  // rows as arrays, 1,000 per round trip: memory stays flat (one page at a time) and the
  // per-row work is only the formula neutralising of member-typed text
  const rows = client.query(new QueryStream(exportQuery(actionId), [], { batchSize: 1000, rowMode: 'array' }));
  const toRecord = new Transform({
    objectMode: true,
    transform(r: (string | null)[], _enc, done) {
      for (let i = 0; i < 4; i++) r[i] = neutraliseCell(r[i] ?? '');
      done(null, r);
    },
  });
  rows.on('error', (err) => toRecord.destroy(err));
  return rows.pipe(toRecord).pipe(stringify({ header: true, columns: [...EXPORT_COLUMNS] }));
}
