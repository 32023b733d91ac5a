// Run by export.memory.test.ts in a plain Node process (as the server runs): exports one
// action's signatures and prints the peak live heap growth, sampled after full collections.
// Usage: node --expose-gc --import tsx export-memory.probe.ts <actionId> <staffId> <dir>
import { createDb } from '../db/db.ts';
import { startExport } from './export.service.ts';

const [actionId, staffId, dir] = process.argv.slice(2) as [string, string, string];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const live = () => {
  gc();
  return process.memoryUsage().heapUsed;
};
const db = createDb(process.env.DATABASE_URL!, { max: 4, applicationName: 'chorus-export-probe' });
// once to warm up code paths, then measured
for (const measured of [false, true]) {
  const base = live();
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, live());
  }, 100);
  const { job, done } = await startExport({ pool: db.pool, dir, clock: () => new Date(), progressEvery: 1_000 }, { id: staffId, role: 'ADMIN' }, {
    kind: 'SIGNATURES',
    actionId,
    includePersonal: true,
  });
  await done;
  clearInterval(sampler);
  if (measured) process.stdout.write(JSON.stringify({ jobId: job.id, growth: peak - base }) + '\n');
}
await db.close();
