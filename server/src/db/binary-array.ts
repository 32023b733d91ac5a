// Array parameters in PostgreSQL's binary format. node-postgres sends a JS array as a text
// literal ('{"…","…"}', each element escaped, a bytea as \\x and hex) that PostgreSQL parses back
// element by element; it sends a Buffer as it is, in the binary format. A batch statement of the
// signing path takes twenty-odd arrays of a few hundred elements each, so the hot statements
// (hot-statements.ts) send theirs as Buffers in the array's binary form (array_recv): a header,
// then each element as a length and its bytes, with no escaping, no hex and no parsing.

/** The element types the hot statements' arrays have, by the name their casts use. */
const ELEMENT_OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int4: 23,
  text: 25,
  bpchar: 1042,
  varchar: 1043,
  uuid: 2950,
} as const;

export type ElementType = keyof typeof ELEMENT_OID;

/** The element type a cast names (`varchar`, `char(2)`, `uuid`, …), or null for one not sent in binary. */
export function elementTypeOf(cast: string): ElementType | null {
  const t = cast.trim().toLowerCase();
  if (/^(char|character|bpchar)(\(\d+\))?$/.test(t)) return 'bpchar';
  if (/^(varchar|character varying)(\(\d+\))?$/.test(t)) return 'varchar';
  if (t === 'boolean') return 'bool';
  if (t === 'bigint') return 'int8';
  if (t === 'integer' || t === 'int') return 'int4';
  return t in ELEMENT_OID ? (t as ElementType) : null;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** A uuid's 16 bytes from its text form (with or without hyphens); throws on anything else. */
function uuidBytes(text: string, out: Buffer, at: number): void {
  let n = 0;
  let high = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 45 /* - */) continue;
    const v = hexValue(c);
    if (v < 0 || n === 32) throw new TypeError(`invalid input syntax for type uuid: "${text}"`);
    if (n % 2 === 0) high = v << 4;
    else out[at + (n >> 1)] = high | v;
    n++;
  }
  if (n !== 32) throw new TypeError(`invalid input syntax for type uuid: "${text}"`);
}

/** How many bytes `value` takes in the binary format of `type` (-1: NULL). */
function elementSize(type: ElementType, value: unknown): number {
  if (value === null || value === undefined) return -1;
  switch (type) {
    case 'bool':
      return 1;
    case 'bytea':
      if (!Buffer.isBuffer(value)) throw new TypeError('a bytea array element must be a Buffer');
      return value.length;
    case 'int4':
      return 4;
    case 'int8':
      return 8;
    case 'uuid':
      return 16;
    default:
      // text, varchar, bpchar: the characters in the connection's encoding (UTF-8)
      return Buffer.byteLength(String(value), 'utf8');
  }
}

/** Writes `value` (of `size` bytes, not NULL) at `at`. */
function writeElement(type: ElementType, value: unknown, out: Buffer, at: number, size: number): void {
  switch (type) {
    case 'bool':
      out[at] = value ? 1 : 0;
      return;
    case 'bytea':
      (value as Buffer).copy(out, at);
      return;
    case 'int4':
      out.writeInt32BE(Number(value), at);
      return;
    case 'int8':
      out.writeBigInt64BE(BigInt(value as number | bigint | string), at);
      return;
    case 'uuid':
      uuidBytes(String(value), out, at);
      return;
    default:
      out.write(String(value), at, size, 'utf8');
  }
}

/**
 * `values` as a one-dimensional PostgreSQL array of `type` in the binary format: ndim, has-nulls,
 * element type, length and lower bound, then each element as its byte length (-1 for NULL) and
 * its bytes. Sent as a Buffer, node-postgres marks the parameter binary.
 */
export function binaryArray(type: ElementType, values: readonly unknown[]): Buffer {
  const sizes = values.map((v) => elementSize(type, v));
  let total = 20;
  let nulls = 0;
  for (const n of sizes) {
    total += 4 + Math.max(n, 0);
    if (n < 0) nulls = 1;
  }
  const out = Buffer.allocUnsafe(total);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(nulls, 4);
  out.writeUInt32BE(ELEMENT_OID[type], 8);
  out.writeInt32BE(values.length, 12);
  out.writeInt32BE(1, 16);
  let at = 20;
  for (let i = 0; i < values.length; i++) {
    const n = sizes[i]!;
    out.writeInt32BE(n, at);
    at += 4;
    if (n < 0) continue;
    writeElement(type, values[i], out, at, n);
    at += n;
  }
  return out;
}

/**
 * The array parameters of a statement's text, by their casts: `$3::varchar[]` makes parameter 3 a
 * varchar array. Parameters cast to no array (or to a type not listed) are sent as node-postgres
 * sends them.
 */
export function arrayParamTypes(text: string, params: number): (ElementType | null)[] {
  const types: (ElementType | null)[] = Array.from({ length: params }, () => null);
  const cast = /\$(\d+)\s*::\s*([a-z_][a-z0-9_ ]*(?:\(\d+\))?)\s*\[\]/gi;
  for (const m of text.matchAll(cast)) {
    const i = Number(m[1]) - 1;
    const type = elementTypeOf(m[2]!);
    if (i < 0 || i >= params || !type) continue;
    if (types[i] && types[i] !== type) throw new Error(`parameter $${i + 1} is cast to two array types`);
    types[i] = type;
  }
  return types;
}
