// A pooled PostgreSQL client that loses its connection while checked out (inside a
// transaction, or held between queries) must not crash the process: pg emits 'error' on the
// client, which was unhandled. The connection runs through a TCP proxy the test cuts; the
// shared PostgreSQL server is never touched.
import { afterAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../../tests/support/tcp-proxy.ts';
import { createDb, inTransaction, type Db } from './db.ts';

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
