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
  return `SELECT p.first_name, p.last_name, p.email, s.country, s.status::text AS status,
                 s.created_at AS signed_at, s.confirmed_at
          FROM signatures s JOIN supporters p ON p.id = s.supporter_id
          WHERE s.action_id = '${actionId}' ORDER BY s.created_at, s.id`;
}

const iso = (d: Date | null) => (d ? d.toISOString() : '');

/** The CSV as a stream; the caller must release `client` when the stream ends or fails. */
export function exportSignaturesCsv(client: pg.PoolClient, actionId: string): Readable {
  const rows = client.query(new QueryStream(exportQuery(actionId), [], { batchSize: 1000 }));
  const toRecord = new Transform({
    objectMode: true,
    transform(r: Record<string, string | Date | null>, _enc, done) {
      done(null, [
        neutraliseCell((r.first_name as string) ?? ''),
        neutraliseCell((r.last_name as string) ?? ''),
        neutraliseCell((r.email as string) ?? ''),
        neutraliseCell((r.country as string) ?? ''),
        r.status as string,
        iso(r.signed_at as Date | null),
        iso(r.confirmed_at as Date | null),
      ]);
    },
  });
  rows.on('error', (err) => toRecord.destroy(err));
  return rows.pipe(toRecord).pipe(stringify({ header: true, columns: [...EXPORT_COLUMNS] }));
}
