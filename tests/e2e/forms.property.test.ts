// Property-based tests (fast-check) of every public form of the member pages: the SvelteKit
// form actions, posted over HTTP to the running platform as a browser without JavaScript
// would, with arbitrary fields and values (any unicode, controls, markup, huge values), and
// with wrong content types. Never a 5xx, never markup reflected unescaped, never a partial row.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../prisma/seed.ts';
import { buildBatch } from '../../server/src/delivery/batch.service.ts';
import { packetToken } from '../../server/src/delivery/packet.service.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { myDataToken, unsubscribeToken } from '../../server/src/supporter/supporter.service.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { CONSENT_RECORDS } from '../../server/src/testing/consent-records.ts';
import { loadConfig } from '../../server/src/config/config.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';

const PETITION = 'uzbekistan-let-the-rapporteur-in';
const LETTER = 'kazakhstan-independent-investigations';
const RUN = randomUUID().slice(0, 8);
/** markup that must never come back as markup: unique to this run, so the page itself cannot contain it */
const MARKS = [`<i id=m${RUN}>`, `<script>alert("${RUN}")</script>`, `"><img src=x data-m=${RUN} onerror=alert(1)>`];
const RAW = [`<i id=m${RUN}`, `<script>alert("${RUN}")`, `<img src=x data-m=${RUN}`];

let platform: Platform;
let pool: pg.Pool;
const tokens: Record<string, string> = {};
const startedAt = new Date();

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  // real links to real records, so the forms behind them are reached, not only their 404
  const email = `forms.property.${RUN}@example.org`;
  const res = await fetch(`${platform.baseUrl}/api/actions/${PETITION}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ firstName: 'Prop', lastName: 'Erty', email, country: 'FR', consentCount: true }),
  });
  expect(res.status).toBe(202);
  const { rows } = await pool.query<{ sig: string; sup: string }>(
    `SELECT s.id AS sig, p.id AS sup FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
    [indexOfEmail(email)],
  );
  const secret = process.env.SECRET_KEY!;
  const clock = () => new Date();
  tokens.confirm = confirmationToken({ secret, clock, confirmLinkTtlHours: 24 }, rows[0]!.sig);
  tokens.unsubscribe = unsubscribeToken({ secret, clock }, rows[0]!.sup);
  tokens.myData = myDataToken({ secret, clock }, rows[0]!.sup);
  // a letter of its own (one signature), so the packet page behind the answer forms is small
  const confirmed = await fetch(`${platform.baseUrl}/api/confirmations/${tokens.confirm}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(confirmed.status).toBe(200);
  const { rows: action } = await pool.query<{ action_id: string }>('SELECT action_id FROM signatures WHERE id = $1', [rows[0]!.sig]);
  await buildBatch({ pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: loadConfig().PUBLIC_COUNTRY_MIN }, action[0]!.action_id, 'forms-property');
  // the platform's own batcher may have claimed the signature first (it runs every 500 ms
  // here); either batch carries it, once that batcher's statement has committed
  let letters: { id: string }[] = [];
  for (let i = 0; i < 50 && letters.length === 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 200));
    ({ rows: letters } = await pool.query<{ id: string }>(
      'SELECT l.id FROM letters l JOIN signatures s ON s.batch_id = l.batch_id WHERE s.id = $1 LIMIT 1',
      [rows[0]!.sig],
    ));
  }
  expect(letters).toHaveLength(1);
  tokens.packet = packetToken(secret, letters[0]!.id, clock());
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await platform?.stop();
});

const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(...MARKS, '\r\nBcc: victim@example.org', '\u0000', '\u202E', 'https://evil.example', 'yes', 'on', 'FR', 'NAMED_DISCLOSURE'),
  fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...MARKS)).map(([a, b]) => a + b),
  fc.integer({ min: 500, max: 40_000 }).map((n) => `${MARKS[0]}${'ж'.repeat(n)}`),
);

function fieldsFor(names: string[]) {
  const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.string({ maxLength: 15 }) });
  return fc.array(fc.tuple(key, hostile), { maxLength: 14 });
}

const SIGN_FIELDS = ['firstName', 'lastName', 'email', 'country', 'consentCount', 'consentNamed', 'consentNamedToOwnCountry', 'consentWall', 'consentContact', 'website', 'source', 'letterSubject', 'letterBody'];

const forms: [string, () => string, string[]][] = [
  ['sign (petition)', () => `/en/actions/${PETITION}?/sign`, SIGN_FIELDS],
  ['sign (letter, Spanish)', () => `/es/actions/${LETTER}?/sign`, SIGN_FIELDS],
  ['letter preview', () => `/en/actions/${LETTER}?/preview`, SIGN_FIELDS],
  ['my data request', () => '/en/my-data', ['email']],
  ['confirm', () => `/en/confirm/${tokens.confirm}?/confirm`, ['version']],
  ['this was not me', () => `/es/confirm/${tokens.confirm}?/discard`, ['version']],
  ['unsubscribe', () => `/fr/unsubscribe/${tokens.unsubscribe}`, []],
  ['my data: consent', () => `/en/my-data/${tokens.myData}?/consent`, ['purpose', 'granted', 'signatureId']],
  ['official answer', () => `/en/packet/${tokens.packet}?/answer`, ['body']],
  ['official acknowledgement', () => `/ru/packet/${tokens.packet}?/acknowledge`, ['body']],
  ['a forged link', () => `/en/confirm/${encodeURIComponent('AAAA.' + 'A'.repeat(32))}?/confirm`, ['version']],
];

async function post(path: string, body: string | Uint8Array, contentType = 'application/x-www-form-urlencoded') {
  const res = await fetch(`${platform.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType, origin: platform.baseUrl, accept: 'text/html' },
    body,
    redirect: 'manual',
    // a hang is a failure too, reported with the input that caused it
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, html: await res.text() };
}

function expectNoMarkup(html: string) {
  for (const raw of RAW) expect(html.includes(raw), `reflected unescaped: ${raw}`).toBe(false);
}

describe('every public form, any input', () => {
  it.each(forms)('%s: never a 5xx, never markup reflected', async (_name, path, names) => {
    await fc.assert(
      fc.asyncProperty(fieldsFor(names.length ? names : ['x']), async (pairs) => {
        const params = new URLSearchParams();
        for (const [k, v] of pairs) params.append(k, v);
        const { status, html } = await post(path(), params.toString());
        expect(status, html.slice(0, 300)).toBeLessThan(500);
        expectNoMarkup(html);
      }),
      { numRuns: 25 },
    );
  }, 120_000);

  it('wrong content types and arbitrary bytes: never a 5xx', async () => {
    const type = fc.constantFrom('text/plain', 'application/json', 'application/xml', 'multipart/form-data; boundary=zz', 'multipart/form-data', 'application/octet-stream', 'application/x-www-form-urlencoded; charset=utf-16');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...forms), type, fc.uint8Array({ maxLength: 2000 }), async ([, path], contentType, bytes) => {
        const { status, html } = await post(path(), bytes, contentType);
        expect(status, `${contentType} ${html.slice(0, 200)}`).toBeLessThan(500);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('left no partial row: every signature since the start whole, no supporter without a signature', async () => {
    // (consent records come with the confirmation, five at once; the consent form appends to a
    // signature's history: at least the five first records once confirmed, none before)
    const { rows: partial } = await pool.query(
      `SELECT s.id FROM signatures s JOIN actions a ON a.id = s.action_id
       WHERE a.slug = ANY($2::text[]) AND s.created_at >= $1
         AND CASE WHEN s.confirmed_at IS NULL THEN (SELECT count(*) FROM ${CONSENT_RECORDS} c WHERE c.signature_id = s.id) <> 0
                  ELSE (SELECT count(*) FROM ${CONSENT_RECORDS} c WHERE c.signature_id = s.id) < 5 END`,
      [startedAt, [PETITION, LETTER]],
    );
    expect(partial).toEqual([]);
    const { rows: orphans } = await pool.query(
      `SELECT p.id FROM supporters p WHERE p.created_at >= $1 AND p.created_at <= now() AND NOT EXISTS (SELECT 1 FROM signatures s WHERE s.supporter_id = p.id)`,
      [startedAt],
    );
    expect(orphans).toEqual([]);
  });
});
