// Every hot statement (hot-statements.ts) is prepared on the migrated database and its result
// columns, as PostgreSQL describes them, must be those it declares, in order and of the declared
// types: the TypeScript row types are derived from the declarations, so this is what checks them
// against the schema. Each runs once, with arguments that match nothing, inside a transaction
// that is rolled back. (PostgreSQL does not describe whether a column may be NULL; the `?` marks
// are read from the schema by their authors.)
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { HOT_STATEMENTS, runHot } from './hot-statements.ts';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
afterAll(() => pool.end());

const none = randomUUID();
const empty: unknown[] = [];
/** arguments for each statement that touch no row */
const ARGS: Record<string, unknown[]> = {
  'supporters-known': [empty],
  'signatures-write': Array.from({ length: 22 }, () => empty),
  'signatures-confirm': [[none], new Date(), 'test', 'test'],
  'signature-for-token': [none, 'en'],
  'signature-for-token-lock': [none, 'en'],
  'signature-for-token-lock-supporter': [none],
  'confirmation-load': [none],
  'confirmation-budget-release': [none, new Date(), 1],
  'confirmation-mark-sent': [none, new Date()],
  'confirmation-mark-sent-and-listed': [none, new Date(), new Date(), true, 1],
  'counter-fold': [0],
};

async function typeNames(client: pg.PoolClient, oids: number[]): Promise<Map<number, string>> {
  const { rows } = await client.query<{ oid: number; typname: string }>('SELECT oid::int AS oid, typname FROM pg_type WHERE oid = ANY($1::oid[])', [oids]);
  return new Map(rows.map((r) => [r.oid, r.typname]));
}

describe('hot statements against the schema', () => {
  it('have unique names, and a test case each', () => {
    const names = HOT_STATEMENTS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(ARGS).sort()).toEqual([...names].sort());
  });

  for (const st of HOT_STATEMENTS) {
    it(`${st.name}: prepares, takes ${st.params} parameters and answers the declared columns`, async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await client.query({ name: st.name, text: st.text, values: ARGS[st.name]! });
        const types = await typeNames(client, result.fields.map((f) => f.dataTypeID));
        const described = result.fields.map((f) => `${f.name}: ${types.get(f.dataTypeID)}`);
        const declared = Object.entries(st.columns).map(([name, type]) => `${name}: ${String(type).replace(/\?$/, '')}`);
        expect(described).toEqual(declared);
        // the statement's parameters are exactly $1..$params
        const numbers = [...st.text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
        expect(Math.max(0, ...numbers)).toBe(st.params);
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });
  }

  it('runHot refuses a wrong number of arguments before reaching the database', async () => {
    const st = HOT_STATEMENTS.find((s) => s.name === 'confirmation-load')!;
    await expect(runHot(pool, st, [])).rejects.toThrow('confirmation-load takes 1 parameters, given 0');
  });
});
