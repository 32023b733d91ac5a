// Property-based tests (fast-check) of the public API, through inject() against the test
// database and Redis: arbitrary unicode, control characters, huge and nested inputs, extra
// fields and wrong content types, on the signing endpoint and every other public POST.
// Whatever arrives: never a 5xx, never a partial row, never markup reflected into the answer.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEmail } from '../supporter/email.ts';
import { createAction, createHarness, type Harness } from '../testing/harness.ts';
import { CONSENT_RECORDS } from '../testing/consent-records.ts';
import { emailIndex } from '../privacy/personal-data.ts';

let h: Harness;
let slug = '';
let actionId = '';
const startedAt = new Date();

beforeAll(async () => {
  h = await createHarness();
  const fx = await createAction(h.db, { kind: 'LETTER' });
  await h.cache.refresh();
  slug = fx.action.slug;
  actionId = fx.action.id;
});
afterAll(async () => {
  await h?.close();
});

const NASTY = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  'Ana\r\nBcc: victim@example.org',
  'a@example.org\r\nBcc: victim@example.org',
  '\u0000',
  '\u202Egnp.exe',
  '\uFEFF',
  '\uD800',
  "' OR 1=1 --",
  '{{constructor.constructor("return 1")()}}',
  '${7*7}',
  '__proto__',
  'https://evil.example/phish',
];

/** Strings a hostile client might send: any unicode (lone surrogates, controls), known payloads, and long ones. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.constantFrom(...NASTY),
  fc.tuple(fc.constantFrom(...NASTY), fc.string({ maxLength: 10 })).map(([a, b]) => a + b),
  fc.integer({ min: 100, max: 30_000 }).map((n) => 'é'.repeat(n)),
);
/** Any JSON value, nested, including objects where strings belong. */
const anyJson = fc.oneof(hostile, fc.jsonValue({ maxDepth: 5 }), fc.boolean(), fc.integer(), fc.constant(null));

const email = fc.oneof(
  fc.emailAddress().map((e) => e.slice(0, 200)),
  hostile,
  fc.tuple(fc.emailAddress(), fc.constantFrom(...NASTY)).map(([e, n]) => e + n),
);

const signBody = fc.record(
  {
    firstName: fc.oneof(fc.constantFrom('Ana', 'Jonas'), hostile, anyJson),
    lastName: fc.oneof(fc.constantFrom('López', 'Berg'), hostile),
    email,
    country: fc.oneof(fc.constantFrom('FR', 'mx', ' se '), hostile, anyJson),
    consentCount: fc.oneof(fc.constant(true), fc.constantFrom('on', 'yes', 'true'), anyJson),
    consentNamed: fc.oneof(fc.boolean(), anyJson),
    consentContact: fc.oneof(fc.boolean(), anyJson),
    locale: fc.oneof(fc.constantFrom('en', 'es', 'ru'), hostile),
    source: fc.oneof(fc.constantFrom('newsletter', 'x'), hostile),
    letterSubject: hostile,
    letterBody: fc.oneof(hostile, fc.lorem({ maxCount: 50 })),
    website: fc.oneof(fc.constant(''), hostile),
  },
  { requiredKeys: [] },
);
const withExtraKeys = fc.tuple(signBody, fc.dictionary(fc.string({ maxLength: 20 }), anyJson, { maxKeys: 3 })).map(([b, extra]) => ({ ...extra, ...b }));

/** Every string inside a value, to look for it in the answer. */
function stringsOf(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => stringsOf(x, out));
  else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => (out.push(k), stringsOf(x, out)));
  return out;
}

/** No submitted string with markup comes back as it was sent. */
function expectNoReflection(body: string, input: unknown) {
  for (const s of stringsOf(input)) if (/[<>]/.test(s) && s.length >= 3) expect(body.includes(s), `reflected: ${s.slice(0, 80)}`).toBe(false);
}

const accepted = new Set<string>();
const refused = new Set<string>();

describe('POST /api/actions/:slug/signatures, any input', () => {
  it('JSON: never a 5xx, markup never reflected, and a 202 always means a whole signature', async () => {
    await fc.assert(
      fc.asyncProperty(withExtraKeys, async (body) => {
        const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: body });
        expect(res.statusCode, res.body).toBeLessThan(500);
        expect([202, 400, 413, 415, 422]).toContain(res.statusCode);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expectNoReflection(res.body, body);
        if (typeof body.email === 'string') {
          const canonical = canonicalEmail(body.email.trim());
          (res.statusCode === 202 ? accepted : refused).add(canonical);
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('HTML form bodies with any fields and values: a 303 or a 4xx, never a 5xx', async () => {
    const fields = fc.array(fc.tuple(fc.oneof(fc.constantFrom('firstName', 'lastName', 'email', 'country', 'consentCount', 'website', 'locale'), fc.string({ maxLength: 20 })), hostile), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(fields, async (pairs) => {
        const params = new URLSearchParams();
        for (const [k, v] of pairs) params.append(k, v);
        const res = await h.app.inject({
          method: 'POST',
          url: `/api/actions/${slug}/signatures`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: params.toString(),
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        expect([303, 400, 413, 415, 422]).toContain(res.statusCode);
        expectNoReflection(res.body, pairs);
      }),
      { numRuns: 100 },
    );
  }, 120_000);

  it('wrong content types and arbitrary bytes: a 4xx, never a 5xx', async () => {
    const contentType = fc.oneof(
      fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/octet-stream', 'text/html', 'application/json', 'application/x-www-form-urlencoded', 'application/json;;;', 'application/x-www-form-urlencoded; charset=latin1'),
      fc.string({ maxLength: 40 }).filter((s) => /^[\x21-\x7e ]*$/.test(s)),
    );
    await fc.assert(
      fc.asyncProperty(contentType, fc.uint8Array({ maxLength: 3000 }), async (type, bytes) => {
        const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, headers: type ? { 'content-type': type } : {}, payload: Buffer.from(bytes) });
        expect(res.statusCode, `${type}: ${res.body}`).toBeLessThan(500);
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 120 },
    );
  }, 120_000);

  it('left no partial row: every signature whole, every refused address absent', async () => {
    const { rows: partial } = await h.db.pool.query(
      // consent records come with the confirmation: five once confirmed, none before
      `SELECT s.id FROM signatures s WHERE s.action_id = $1
         AND (SELECT count(*) FROM ${CONSENT_RECORDS} c WHERE c.signature_id = s.id) <> CASE WHEN s.status = 'CONFIRMED' THEN 5 ELSE 0 END`,
      [actionId],
    );
    expect(partial).toEqual([]);
    const { rows: orphans } = await h.db.pool.query(
      `SELECT p.id FROM supporters p WHERE p.created_at >= $1 AND NOT EXISTS (SELECT 1 FROM signatures s WHERE s.supporter_id = p.id)`,
      [startedAt],
    );
    expect(orphans).toEqual([]);
    // (only values PostgreSQL can hold as text: a NUL or a lone surrogate could never be stored anyway)
    const onlyRefused = [...refused].filter((e) => !accepted.has(e) && e.length <= 254 && !/[\u0000\uD800-\uDFFF]/.test(e));
    // (the canonical address is found by its blind index, as the platform finds it)
    const { rows: stored } = await h.db.pool.query(`SELECT email_index FROM supporters WHERE email_index = ANY($1::text[])`, [onlyRefused.map((e) => emailIndex(e))]);
    expect(stored).toEqual([]);
    expect(accepted.size + refused.size).toBeGreaterThan(50);
  });
});

describe('the other public POSTs, any input', () => {
  // any string as UTF-8, percent-encoded byte by byte (a lone surrogate becomes U+FFFD), or raw broken escapes
  const pct = (t: string) => [...Buffer.from(t, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const token = fc.oneof(
    fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom(...NASTY), fc.string({ unit: 'binary', maxLength: 600 })).map(pct),
    fc.constantFrom('%', '%zz', '%ff%fe', '..%2f..%2fetc%2fpasswd', 'a.b', 'AAAA.' + 'A'.repeat(32)),
  );
  const endpoints: [string, (t: string) => string][] = [
    ['letter preview', () => `/api/actions/${slug}/letter-preview`],
    ['my data request', () => '/api/my-data/requests'],
    ['confirmation', (t) => `/api/confirmations/${t}`],
    ['unsubscribe', (t) => `/api/unsubscribe/${t}`],
    ['official answer', (t) => `/api/packets/${t}/responses`],
    ['consent change', (t) => `/api/my-data/${t}/consents`],
    ['erase', (t) => `/api/my-data/${t}/erase`],
  ];
  it.each(endpoints)('%s: never a 5xx, markup never reflected', async (_name, url) => {
    await fc.assert(
      fc.asyncProperty(token, fc.oneof(fc.dictionary(fc.string({ maxLength: 20 }), anyJson, { maxKeys: 6 }), anyJson), async (t, body) => {
        const res = await h.app.inject({ method: 'POST', url: url(t), headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
        expect(res.statusCode, res.body).toBeLessThan(500);
        expectNoReflection(res.body, [t, body]);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
