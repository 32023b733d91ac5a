// One pg pool per process. Queries are written with Kysely (qb), typed from prisma/schema.prisma
// by prisma-kysely; the few hot statements that run as named prepared statements on a pg client
// are listed in hot-statements.ts. Transactions run on one pooled client (inTransaction), and
// qb(client) builds queries inside them.
import pg from 'pg';
import Cursor from 'pg-cursor';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type { DB } from '../generated/kysely/types.ts';
import { isTransientConflict } from './conflict.ts';

export { isTransientConflict };
export type { DB };
/** Status names and other enums of the schema, as constants and types (e.g. SignatureStatus.CONFIRMED). */
export * from '../generated/kysely/enums.ts';

/** Where a query runs: the pool, or the client of a transaction (inTransaction). */
export type Queryable = pg.Pool | pg.PoolClient;

export interface Db {
  pool: pg.Pool;
  /** Kysely over the pool (qb(db.pool)) */
  k: Kysely<DB>;
  close(): Promise<void>;
}

const builders = new WeakMap<Queryable, Kysely<DB>>();

/**
 * The query builder on a pool or on one transaction's client. On a client, every query runs
 * on that client (so inside its transaction), and Kysely never releases it: inTransaction does.
 */
export function qb(on: Queryable): Kysely<DB> {
  let k = builders.get(on);
  if (!k) {
    const pool: PostgresPool = on instanceof pg.Pool ? on : onlyClient(on);
    k = new Kysely<DB>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
    builders.set(on, k);
  }
  return k;
}

function onlyClient(client: pg.PoolClient): PostgresPool {
  const held: PostgresPoolClient = {
    query: client.query.bind(client) as PostgresPoolClient['query'],
    release() {},
  };
  return {
    connect: async () => held,
    end: async () => {},
    options: {},
  };
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
  return {
    pool,
    k: qb(pool),
    async close() {
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
