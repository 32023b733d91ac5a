// The hot statements' array parameters go in PostgreSQL's binary array format (binary-array.ts).
// Each element type is sent to the real database and read back as text: what arrives must be
// what was sent, NULLs and empty arrays included, and what PostgreSQL would refuse as text it
// refuses in binary too.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { arrayParamTypes, binaryArray, elementTypeOf } from './binary-array.ts';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
afterAll(() => pool.end());

async function roundTrip(cast: string, value: Buffer): Promise<(string | null)[]> {
  const { rows } = await pool.query<{ v: string | null }>({ text: `SELECT x::text AS v FROM unnest($1::${cast}[]) WITH ORDINALITY AS t(x, o) ORDER BY o`, values: [value] });
  return rows.map((r) => r.v);
}

describe('binary array parameters', () => {
  it('send uuids, NULLs among them, as they are', async () => {
    const ids = [randomUUID(), null, randomUUID().toUpperCase(), '00000000-0000-0000-0000-000000000000'];
    expect(await roundTrip('uuid', binaryArray('uuid', ids))).toEqual(ids.map((x) => x?.toLowerCase() ?? null));
  });

  it('send text byte for byte: quotes, backslashes, braces, commas, non-Latin scripts, emoji', async () => {
    const texts = ['"quoted"', 'back\\slash', '{braces},', 'NULL', '', ' spaced ', 'Ўзбекистон', 'الكويت', '😀 family 👨‍👩‍👧', null];
    expect(await roundTrip('varchar', binaryArray('varchar', texts))).toEqual(texts);
    expect(await roundTrip('text', binaryArray('text', texts))).toEqual(texts);
  });

  it('send char(2), booleans and integers', async () => {
    expect(await roundTrip('char(2)', binaryArray('bpchar', ['UZ', 'KZ', null]))).toEqual(['UZ', 'KZ', null]);
    expect(await roundTrip('bool', binaryArray('bool', [true, false, null, 1, 0]))).toEqual(['true', 'false', null, 'true', 'false']);
    expect(await roundTrip('int4', binaryArray('int4', [0, -1, 2147483647, null]))).toEqual(['0', '-1', '2147483647', null]);
    expect(await roundTrip('int8', binaryArray('int8', ['9007199254740993', -5, null]))).toEqual(['9007199254740993', '-5', null]);
  });

  it('send bytea without hex: every byte value, empty and NULL', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const got = await roundTrip('bytea', binaryArray('bytea', [all, Buffer.alloc(0), null]));
    expect(got).toEqual([`\\x${all.toString('hex')}`, '\\x', null]);
  });

  it('send an empty array', async () => {
    expect(await roundTrip('uuid', binaryArray('uuid', []))).toEqual([]);
    const { rows } = await pool.query({ text: 'SELECT cardinality($1::varchar[]) AS n', values: [binaryArray('varchar', [])] });
    expect(rows[0].n).toBe(0);
  });

  it('refuse what is not a uuid before sending, and PostgreSQL refuses a mismatched element type', async () => {
    expect(() => binaryArray('uuid', ['not-a-uuid'])).toThrow(/uuid/);
    expect(() => binaryArray('uuid', [`${randomUUID()}0`])).toThrow(/uuid/);
    expect(() => binaryArray('bytea', ['text'])).toThrow(/Buffer/);
    await expect(pool.query({ text: 'SELECT $1::uuid[] AS v', values: [binaryArray('varchar', ['x'])] })).rejects.toThrow(/element type 1043 .* instead of expected 2950/);
  });

  it('refuse text PostgreSQL would refuse as a literal: a NUL character', async () => {
    await expect(pool.query({ text: 'SELECT $1::varchar[] AS v', values: [binaryArray('varchar', ['a\u0000b'])] })).rejects.toThrow();
    await expect(pool.query({ text: 'SELECT $1::varchar[] AS v', values: [['a\u0000b']] })).rejects.toThrow();
  });

  it('read the array parameters of a statement from its casts', () => {
    expect(arrayParamTypes('SELECT * FROM unnest($1::uuid[], $2::char(2)[], $3 :: varchar [], $4::bool[]) WHERE $5::int = 1', 5)).toEqual(['uuid', 'bpchar', 'varchar', 'bool', null]);
    expect(elementTypeOf('character varying(20)')).toBe('varchar');
    expect(elementTypeOf('timestamptz')).toBeNull();
    expect(() => arrayParamTypes('SELECT $1::uuid[], $1::varchar[]', 1)).toThrow(/two array types/);
  });
});
