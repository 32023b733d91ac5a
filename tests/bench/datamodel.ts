// What the data model costs PostgreSQL per signature, along its whole life: the sign-up written
// (in batches, as the server's writer makes them under load), its confirmation email marked sent
// (as the mail worker does after each email), and its confirmation (the transaction the confirm
// button runs). Measured as PostgreSQL's CPU time (its backends, from /proc) per signature, with
// nothing else running against the database: CPU time, unlike a rate, is barely moved by what
// else shares the machine's cores.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { inTransaction } from '../../server/src/db/db.ts';
import { recordConfirmations, writeSignatures, type NewSignature } from '../../server/src/signature/signature.repository.ts';
import { markConfirmationSent } from '../../server/src/signature/confirmation.service.ts';
import { measureCpu } from './cpu.ts';
import { progress } from './load.ts';

export interface DataModelResult {
  signatures: number;
  /** PostgreSQL CPU ms per signature, by step */
  pgMs: { write: number; markSent: number; confirm: number };
}

const CONCURRENCY = 8;

async function inParallel<T>(items: T[], fn: (item: T) => Promise<void>, label: string): Promise<void> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
  progress(`${label}: ${items.length} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

export async function dataModelScenario(pool: pg.Pool, redis: Redis, actionId: string, n: number): Promise<DataModelResult> {
  const tag = randomUUID().slice(0, 8);
  const items: NewSignature[] = Array.from({ length: n }, (_, i) => {
    const email = `model-${tag}-${i}@signers.example.org`;
    return {
      actionId,
      email,
      canonicalEmail: email,
      firstName: `Signer${i}`,
      lastName: 'Benchmark',
      country: i % 3 === 0 ? 'UZ' : 'PH',
      locale: 'en',
      namedDisclosure: i % 3 === 0,
      namedToOwnCountry: false,
      publicWall: i % 10 === 0,
      contact: i % 2 === 0,
      letterSubject: null,
      letterBody: null,
      ipHash: null,
      netHash: null,
      source: 'bench',
      suspicious: false,
    };
  });
  const cpu = (pool: pg.Pool) => measureCpu({ pids: {}, pool, redis });

  // 1. written in batches of 64, eight at a time
  const batches: NewSignature[][] = [];
  for (let i = 0; i < items.length; i += 64) batches.push(items.slice(i, i + 64));
  const written: { id: string; requestedAt: Date }[] = [];
  let stop = await cpu(pool);
  await inParallel(
    batches,
    async (batch) => {
      for (const w of await writeSignatures(pool, batch)) written.push({ id: w.signatureId, requestedAt: w.requestedAt });
    },
    'data model: sign-ups written',
  );
  const write = (await stop()).ms.postgresql!;

  // 2. each one's confirmation email marked sent
  stop = await cpu(pool);
  await inParallel(written, (w) => markConfirmationSent(pool, w.id, w.requestedAt), 'data model: confirmation emails marked sent');
  const markSent = (await stop()).ms.postgresql!;

  // 3. each one confirmed: the supporter locked first, then the confirmation recorded
  stop = await cpu(pool);
  await inParallel(
    written,
    async (w) => {
      await inTransaction(pool, async (tx) => {
        await tx.query('SELECT 1 FROM supporters WHERE id = (SELECT supporter_id FROM signatures WHERE id = $1) FOR NO KEY UPDATE', [w.id]);
        await recordConfirmations(tx, [w.id], new Date());
      });
    },
    'data model: signatures confirmed',
  );
  const confirm = (await stop()).ms.postgresql!;
  return { signatures: n, pgMs: { write: write / n, markSent: markSent / n, confirm: confirm / n } };
}
