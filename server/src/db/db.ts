// One pg pool per process, shared by Prisma (through the driver adapter) and by the raw SQL
// of the hot paths (signing, counting, batching), which need multi-row statements.
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { isTransientConflict } from './conflict.ts';

export { isTransientConflict };

export type Prisma = PrismaClient;

export interface Db {
  prisma: PrismaClient;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function createDb(databaseUrl: string, opts: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: opts.max ?? 20,
    application_name: opts.applicationName ?? 'chorus',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // a statement that hangs must not hold a request forever
    statement_timeout: 30_000,
  });
  // an idle client losing its connection must not crash the process
  pool.on('error', () => {});
  // ... nor a checked-out one (inside a transaction, or held between queries): pg emits
  // 'error' on the client itself, which would be unhandled. The query under way still fails,
  // and the pool drops the broken client when it is released. Found by the PostgreSQL outage
  // test in tests/faults/platform-faults.test.ts, where the worker process died of it.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}

/**
 * Runs fn inside one transaction on one pooled client. With `retries`, a transaction rolled back
 * by a transient conflict (isTransientConflict) is run again from the start, up to that many
 * more times, after a short random pause: only for an fn whose every effect is inside the
 * transaction (nothing sent, enqueued or cached before it commits).
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts: { retries?: number } = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(pool, fn);
    } catch (err) {
      if (attempt >= (opts.retries ?? 0) || !isTransientConflict(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}

async function once<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
