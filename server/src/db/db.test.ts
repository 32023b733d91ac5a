// A pooled PostgreSQL client that loses its connection while checked out (inside a
// transaction, or held between queries) must not crash the process: pg emits 'error' on the
// client, which was unhandled. The connection runs through a TCP proxy the test cuts; the
// shared PostgreSQL server is never touched.
import { afterAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../../tests/support/tcp-proxy.ts';
import { createDb, inTransaction, qb, type Db } from './db.ts';

let proxy: TcpProxy | undefined;
let db: Db | undefined;
afterAll(async () => {
  await db?.close();
  await proxy?.close();
});

describe('the pg pool when PostgreSQL goes away', () => {
  it('a checked-out client losing its connection fails its query and does not crash; the pool recovers', async () => {
    const url = new URL(process.env.DATABASE_URL!);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    db = createDb(proxy.via(process.env.DATABASE_URL!), { max: 2 });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const held = await db.pool.connect();
      await held.query('BEGIN');
      await proxy.cut();
      // the client sits between queries when its connection drops
      await new Promise((r) => setTimeout(r, 300));
      await expect(held.query('SELECT 1')).rejects.toThrow();
      held.release(true);
      await expect(inTransaction(db.pool, (c) => c.query('SELECT 1'))).rejects.toThrow();
      await proxy.restore();
      const { rows } = await db.pool.query<{ one: number }>('SELECT 1 AS one');
      expect(rows[0]!.one).toBe(1);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('inTransaction with retries', () => {
  it('runs a transaction that a real deadlock rolled back again, whole; other errors, and a conflict past the retries, reach the caller', async () => {
    const own = createDb(process.env.DATABASE_URL!, { max: 4 });
    const table = `tx_retry_probe_${process.pid}`;
    try {
      await own.pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL)`);
      await own.pool.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
      // two transactions lock the two rows in opposite orders, each waiting until the other
      // holds its first row: PostgreSQL kills one of them with 40P01, and it runs again
      let arrived = 0;
      let release!: () => void;
      const both = new Promise<void>((resolve) => (release = resolve));
      let runs = 0;
      const crossing = (first: number, second: number) =>
        inTransaction(
          own.pool,
          async (tx) => {
            runs++;
            await tx.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [first]);
            if (++arrived === 2) release();
            await both;
            await tx.query(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [second]);
          },
          { retries: 3 },
        );
      await Promise.all([crossing(1, 2), crossing(2, 1)]);
      expect(runs).toBe(3);
      // both committed, each once: two increments per row
      expect((await own.pool.query(`SELECT id, v FROM ${table} ORDER BY id`)).rows).toEqual([
        { id: 1, v: 2 },
        { id: 2, v: 2 },
      ]);

      let calls = 0;
      const failing = (code: string) => async () => {
        calls++;
        throw Object.assign(new Error(code), { code });
      };
      await expect(inTransaction(own.pool, failing('23505'), { retries: 3 })).rejects.toMatchObject({ code: '23505' });
      expect(calls).toBe(1);
      calls = 0;
      await expect(inTransaction(own.pool, failing('40001'), { retries: 2 })).rejects.toMatchObject({ code: '40001' });
      expect(calls).toBe(3);
      calls = 0;
      await expect(inTransaction(own.pool, failing('40P01'))).rejects.toMatchObject({ code: '40P01' });
      expect(calls).toBe(1);
    } finally {
      await own.pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      await own.close();
    }
  });
});

describe('qb: the query builder on the pool and inside a transaction', () => {
  it('runs on the transaction’s own client: its writes are seen inside, and gone after a rollback', async () => {
    const own = createDb(process.env.DATABASE_URL!, { max: 2 });
    try {
      const key = `qb-test-${Date.now()}-${Math.random()}`;
      const seenInside = await inTransaction(own.pool, async (client) => {
        await qb(client).insertInto('platform_settings').values({ key, value: JSON.stringify({ n: 1 }) }).execute();
        return qb(client).selectFrom('platform_settings').select('key').where('key', '=', key).executeTakeFirst();
      });
      expect(seenInside?.key).toBe(key);
      // committed: the pool sees it
      expect(await own.k.selectFrom('platform_settings').select('key').where('key', '=', key).executeTakeFirst()).toEqual({ key });
      const rolledBack = `${key}-rb`;
      await expect(
        inTransaction(own.pool, async (client) => {
          await qb(client).insertInto('platform_settings').values({ key: rolledBack, value: '{}' }).execute();
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await own.k.selectFrom('platform_settings').select('key').where('key', '=', rolledBack).executeTakeFirst()).toBeUndefined();
      // the client went back to the pool once: two more transactions run on a pool of two
      await Promise.all([1, 2, 3].map(() => inTransaction(own.pool, (c) => qb(c).selectFrom('platform_settings').select('key').limit(1).execute())));
      // streams read through a cursor
      let streamed = 0;
      for await (const _row of own.k.selectFrom('platform_settings').select('key').stream(10)) streamed++;
      expect(streamed).toBeGreaterThan(0);
      await own.k.deleteFrom('platform_settings').where('key', '=', key).execute();
    } finally {
      await own.close();
    }
  });
});
