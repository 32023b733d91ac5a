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
