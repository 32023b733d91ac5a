// The exporting process of the export scenario: streams one action's signatures as CSV with the
// staff export's own function (exportCsv, as a staff export of that action with names and
// addresses runs it, in a read-only REPEATABLE READ transaction) into a byte counter, and
// reports rows, bytes, time and its own peak resident memory (VmHWM).
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { qb } from '../../server/src/db/db.ts';
import { exportCsv } from '../../server/src/insight/export.service.ts';
import { BENCH_EXPORT } from './export.ts';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const actionId = process.env.EXPORT_ACTION_ID!;
process.send?.({ type: 'ready', port: 0 });

process.on('message', async (m: { type: string }) => {
  if (m.type !== 'export') return;
  const client = await pool.connect();
  let bytes = 0;
  let lines = 0;
  const t0 = performance.now();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await pipeline(
      exportCsv(qb(client), BENCH_EXPORT(actionId)),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
          done();
        },
      }),
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const seconds = (performance.now() - t0) / 1000;
  const status = readFileSync('/proc/self/status', 'utf8');
  const peakMb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  process.send?.({ type: 'export', rows: lines - 1, bytes, seconds, peakMb });
});
process.on('disconnect', () => void pool.end().then(() => process.exit(0)));
process.on('SIGTERM', () => void pool.end().then(() => process.exit(0)));
