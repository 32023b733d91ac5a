// Member self-service against the real test database, Redis and a real SMTP server (the
// development mailbox on a free port): one-click unsubscribe, "my data" links, the export,
// consent changes and erasure, and what each endpoint does with hostile input.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { buildApp } from '../http/app.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox, StoredMessage } from '../mailbox/mailbox.service.ts';
import { sendConfirmation } from '../signature/confirmation.service.ts';
import { foldConfirmations } from '../signature/counter.service.ts';
import { SignatureWriter } from '../signature/signature.repository.ts';
import { confirmationToken } from '../signature/signature.service.ts';
import { confirmSignatures, createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../testing/harness.ts';
import { parseMultipartFields } from '../http/routes/members.ts';
import { myDataToken, unsubscribeToken } from './supporter.service.ts';
import { CONSENT_RECORDS } from '../testing/consent-records.ts';
import { indexOfEmail, openedSignatures, supporterById } from '../testing/sealed.ts';

const BASE = 'http://chorus.test';
const MAIL_FROM = 'Chorus <actions@chorus.example.org>';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
let app: FastifyInstance;
const clock = { value: new Date() };
const tokenDeps = () => ({ secret: h.secret, clock: () => clock.value });

beforeAll(async () => {
  h = await createHarness();
  ({ mailbox, mailer } = await startTestMail());
  // the harness app, but with this file's clock and mailer, and links to BASE
  app = await buildApp({
    config: { ...loadConfig(), LOG_LEVEL: 'silent', PUBLIC_BASE_URL: BASE },
    pool: h.db.pool,
    redis: h.redis,
    cache: h.cache,
    internalSecret: 'internal-secret-for-tests',
    logger: false,
    signatures: {
      pool: h.db.pool,
      cache: h.cache,
      writer: new SignatureWriter(h.db.pool),
      // these tests send confirmation emails themselves (sendConfirmation); queuing them too
      // would let a worker running elsewhere on the same Redis send them first
      queues: { enqueueConfirmations: async () => {} },
      secret: h.secret,
      clock: () => clock.value,
      confirmLinkTtlHours: 24,
    },
    members: { mailer, mailFrom: MAIL_FROM },
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});
beforeEach(() => {
  clock.value = new Date();
  mailbox.clear();
});

const mailDeps = () => ({
  pool: h.db.pool,
  mailer,
  secret: h.secret,
  clock: () => clock.value,
  confirmLinkTtlHours: 24,
  publicBaseUrl: BASE,
  mailFrom: MAIL_FROM,
});

async function published(opts: Parameters<typeof createAction>[1] = {}) {
  const fx = await createAction(h.db, opts);
  await h.cache.refresh();
  return fx;
}

/** Signs through the API; returns the ids and the email used. */
async function signUp(slug: string, overrides: Record<string, unknown> = {}) {
  const body = signBody(overrides);
  const res = await app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: body });
  expect(res.statusCode).toBe(202);
  const { rows } = await h.db.pool.query<{ supporter_id: string; signature_id: string }>(
    `SELECT p.id AS supporter_id, s.id AS signature_id FROM supporters p
     JOIN signatures s ON s.supporter_id = p.id JOIN actions a ON a.id = s.action_id
     WHERE p.email_index = $1 AND a.slug = $2`,
    [indexOfEmail(body.email as string), slug],
  );
  return { ...rows[0]!, email: body.email as string };
}

async function supporterRow(id: string) {
  const { rows } = await h.db.pool.query('SELECT * FROM supporters WHERE id = $1', [id]);
  return rows[0];
}
async function signatureRow(id: string) {
  const { rows } = await h.db.pool.query('SELECT * FROM signatures WHERE id = $1', [id]);
  return rows[0];
}
/** The signature with its sign-up's and supporter's personal data opened (server/src/testing/sealed.ts). */
async function openedSignature(id: string) {
  const [row] = await openedSignatures(h.db.pool, 's.id = $1', [id]);
  return row!;
}
async function consentRows(supporterId: string) {
  const { rows } = await h.db.pool.query(
    `SELECT signature_id, purpose, granted, wording_version FROM ${CONSENT_RECORDS} c WHERE supporter_id = $1 ORDER BY created_at, purpose, id`,
    [supporterId],
  );
  return rows;
}

async function waitForMail(pred: (m: StoredMessage) => boolean, timeoutMs = 5_000): Promise<StoredMessage> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = mailbox.messages().find(pred);
    if (found) return found;
    if (Date.now() > until) throw new Error('no such mail arrived');
    await new Promise((r) => setTimeout(r, 25));
  }
}
const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const json = { 'content-type': 'application/json' };

describe('one-click unsubscribe', () => {
  it('puts RFC 8058 headers and the footer links on confirmation and already-signed emails', async () => {
    const { action } = await published({ locales: ['en', 'es'] });
    const who = await signUp(action.slug, { locale: 'es' });
    expect(await sendConfirmation(mailDeps(), who.signature_id)).toBe('sent');
    const [mail] = mailbox.messages();
    const header = mail!.headers['list-unsubscribe'];
    expect(header).toMatch(new RegExp(`^<${BASE}/api/unsubscribe/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{32}>$`));
    expect(mail!.listUnsubscribe).toBe(header);
    expect(mail!.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    const token = /\/api\/unsubscribe\/([^>]+)>/.exec(header!)![1]!;
    expect(mail!.text).toContain(`${BASE}/es/unsubscribe/${token}`);
    expect(mail!.text).toContain(`${BASE}/es/my-data`);
    expect(mail!.text).toContain('Darte de baja');
    expect(mail!.html).toContain(`href="${BASE}/es/unsubscribe/${token}"`);

    // the exact request a mail client makes with that header
    const res = await app.inject({ method: 'POST', url: `/api/unsubscribe/${token}`, headers: form, payload: 'List-Unsubscribe=One-Click' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'unsubscribed' });
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toBeInstanceOf(Date);

    // a confirmed signer signing again gets the note, still with the headers
    await h.db.pool.query(`UPDATE signatures SET status = 'CONFIRMED', confirmed_at = now() WHERE id = $1`, [who.signature_id]);
    await app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody({ email: who.email, locale: 'es' }) });
    expect(await sendConfirmation(mailDeps(), who.signature_id)).toBe('already-signed-sent');
    const again = mailbox.messages()[1]!;
    expect(again.listUnsubscribe).toMatch(/^<http:\/\/chorus\.test\/api\/unsubscribe\//);
    expect(again.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    expect(again.text).toContain(`${BASE}/es/my-data`);
  });

  it('still sends a confirmation the signer asked for after unsubscribing: it is transactional', async () => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const token = unsubscribeToken(tokenDeps(), who.supporter_id);
    expect((await app.inject({ method: 'POST', url: `/api/unsubscribe/${token}` })).statusCode).toBe(200);
    expect(await sendConfirmation(mailDeps(), who.signature_id)).toBe('sent');
    expect(mailbox.messages()).toHaveLength(1);
  });

  it('shows the state on GET without changing it, and is idempotent on POST: one consent record, one timestamp', async () => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const token = unsubscribeToken(tokenDeps(), who.supporter_id);
    const view = await app.inject({ url: `/api/unsubscribe/${token}` });
    expect(view.statusCode).toBe(200);
    expect(view.headers['cache-control']).toBe('no-store');
    expect(view.json()).toEqual({ status: 'subscribed' });
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toBeNull();

    const first = await app.inject({ method: 'POST', url: `/api/unsubscribe/${token}`, headers: form, payload: 'List-Unsubscribe=One-Click' });
    expect(first.json()).toEqual({ status: 'unsubscribed' });
    const at = (await supporterRow(who.supporter_id)).unsubscribed_at;
    clock.value = new Date(clock.value.getTime() + 60_000);
    const second = await app.inject({ method: 'POST', url: `/api/unsubscribe/${token}`, headers: form, payload: 'List-Unsubscribe=One-Click' });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ status: 'unsubscribed' });
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toEqual(at);
    const contact = (await consentRows(who.supporter_id)).filter((c) => c.purpose === 'CONTACT' && c.signature_id === null);
    expect(contact).toEqual([{ signature_id: null, purpose: 'CONTACT', granted: false, wording_version: 'unsubscribe-2026-11' }]);
    expect((await app.inject({ url: `/api/unsubscribe/${token}` })).json()).toEqual({ status: 'unsubscribed' });
  });

  it.each([
    ['no body at all', {}, undefined],
    ['JSON {}', json, '{}'],
    ['JSON content type with an empty body', json, ''],
    ['multipart/form-data, as RFC 8058 recommends', { 'content-type': 'multipart/form-data; boundary=XyZ' }, '--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n'],
  ])('accepts %s', async (_label, headers, payload) => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const token = unsubscribeToken(tokenDeps(), who.supporter_id);
    const res = await app.inject({ method: 'POST', url: `/api/unsubscribe/${token}`, headers, payload });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'unsubscribed' });
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toBeInstanceOf(Date);
  });

  it('refuses bad links and hostile bodies with a clear 4xx, and changes nothing', async () => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const token = unsubscribeToken(tokenDeps(), who.supporter_id);
    const post = (url: string, headers: Record<string, string>, payload?: string) => app.inject({ method: 'POST', url, headers, payload });

    const cases: [string, Record<string, string>, string | undefined, number, string][] = [
      [`/api/unsubscribe/${token}`, json, '{"List-Unsubscribe":"One-Click","evil":1}', 422, 'validation_failed'],
      [`/api/unsubscribe/${token}`, json, '{"unsubscribe":true}', 422, 'validation_failed'],
      [`/api/unsubscribe/${token}`, json, '[1,2]', 422, 'validation_failed'],
      [`/api/unsubscribe/${token}`, json, '{"List-Unsubscribe":1}', 422, 'validation_failed'],
      [`/api/unsubscribe/${token}`, json, '{"__proto__":{"x":1}}', 400, 'invalid_json'],
      [`/api/unsubscribe/${token}`, json, '{not json', 400, 'invalid_json'],
      [`/api/unsubscribe/${token}`, form, 'List-Unsubscribe=Everything', 422, 'validation_failed'],
      [`/api/unsubscribe/${token}`, form, `List-Unsubscribe=${'x'.repeat(100_000)}`, 413, 'body_too_large'],
      [`/api/unsubscribe/${token}`, { 'content-type': 'multipart/form-data; boundary=B' }, 'garbage', 400, 'bad_request'],
      [`/api/unsubscribe/${token}`, { 'content-type': 'text/plain' }, 'List-Unsubscribe=One-Click', 415, 'unsupported_media_type'],
      [`/api/unsubscribe/not-a-token`, form, 'List-Unsubscribe=One-Click', 404, 'invalid_link'],
      [`/api/unsubscribe/${token.slice(0, -2)}xx`, form, 'List-Unsubscribe=One-Click', 404, 'invalid_link'],
      // a link of another kind for the same person is not an unsubscribe link
      [`/api/unsubscribe/${myDataToken(tokenDeps(), who.supporter_id)}`, form, 'List-Unsubscribe=One-Click', 404, 'invalid_link'],
      [`/api/unsubscribe/${confirmationToken({ ...tokenDeps(), confirmLinkTtlHours: 1 }, who.signature_id)}`, form, 'List-Unsubscribe=One-Click', 404, 'invalid_link'],
      [`/api/unsubscribe/${'A'.repeat(600)}`, form, 'List-Unsubscribe=One-Click', 422, 'validation_failed'],
    ];
    for (const [url, headers, payload, status, code] of cases) {
      const res = await post(url, headers, payload);
      expect({ url: url.slice(0, 60), status: res.statusCode, code: res.json().code }).toEqual({ url: url.slice(0, 60), status, code });
      expect(res.json()).toMatchObject({ statusCode: status, error: expect.any(String), message: expect.any(String) });
      expect(res.body).not.toMatch(/at .*\.ts:\d+|SELECT|INSERT/);
    }
    const huge = await app.inject({ url: `/api/unsubscribe/${'A'.repeat(2000)}` });
    expect(huge.statusCode).toBe(414);
    expect(huge.json()).toMatchObject({ statusCode: 414, code: expect.any(String) });
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toBeNull();
    expect((await consentRows(who.supporter_id)).filter((c) => c.wording_version.startsWith('unsubscribe'))).toEqual([]);

    // 400 days later the link has expired
    clock.value = new Date(clock.value.getTime() + 401 * 24 * 3_600_000);
    expect((await post(`/api/unsubscribe/${token}`, form, 'List-Unsubscribe=One-Click')).json()).toMatchObject({ statusCode: 410, code: 'link_expired' });
    expect((await app.inject({ url: `/api/unsubscribe/${token}` })).statusCode).toBe(410);
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toBeNull();
  });

  it('parses only well-formed multipart bodies', () => {
    const ct = 'multipart/form-data; boundary="b1"';
    expect(parseMultipartFields('--b1\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b1--', ct)).toEqual({ a: '1' });
    expect(parseMultipartFields('--b1\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n', ct)).toBeNull();
    expect(parseMultipartFields('--b1\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b1\r\nContent-Disposition: form-data; name="a"\r\n\r\n2\r\n--b1--', ct)).toBeNull();
    expect(parseMultipartFields('--b1\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\n1\r\n--b1--', ct)).toEqual(Object.fromEntries([['__proto__', '1']]));
    expect(parseMultipartFields('x', 'multipart/form-data')).toBeNull();
  });
});

describe('POST /api/my-data/requests', () => {
  const request = (payload: unknown, headers: Record<string, string> = json) =>
    app.inject({ method: 'POST', url: '/api/my-data/requests', headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  it('answers known and unknown addresses identically, and mails only the known one, at the address on file', async () => {
    const { action } = await published({ locales: ['en', 'fr'] });
    const local = `Known.Person.${Date.now()}`;
    const who = await signUp(action.slug, { email: `${local}@gmail.com`, locale: 'fr' });

    const unknown = await request({ email: uniqueEmail('nobody') });
    // typed differently (case, dots and a +tag, which Gmail delivers to the same mailbox): the
    // same supporter, but mail goes to the stored address
    const known = await request({ email: `${local.replaceAll('.', '').toUpperCase()}+data@GMAIL.com`, locale: 'fr' });
    // where a +tag may be another mailbox, it is another address: nobody we know
    const tagged = await request({ email: `${local}+data@example.org`, locale: 'fr' });
    await request({ email: `${local}@example.org`, locale: 'fr' });
    for (const res of [unknown, known, tagged]) {
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ status: 'received' });
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect(known.body).toBe(unknown.body);
    expect(Object.keys(known.headers).sort()).toEqual(Object.keys(unknown.headers).sort());

    const mail = await waitForMail((m) => m.envelope.to.includes(who.email));
    await settle();
    expect(mailbox.messages()).toHaveLength(1);
    expect(mail.subject).toBe('Votre lien pour consulter vos données');
    const link = new RegExp(`${BASE}/fr/my-data/([A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{32})`).exec(mail.text)?.[1];
    expect(link).toBeDefined();
    expect(mail.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    expect(mail.listUnsubscribe).toMatch(/^<http:\/\/chorus\.test\/api\/unsubscribe\//);
    expect(mail.text).toContain(`${BASE}/fr/my-data\n`);

    // the emailed link opens the export
    const data = await app.inject({ url: `/api/my-data/${link}` });
    expect(data.statusCode).toBe(200);
    expect(data.json().supporter.email).toBe(who.email);

    // asking again at once sends nothing more (one link per minute per person), yet answers the same
    const again = await request({ email: who.email });
    expect(again.statusCode).toBe(202);
    await settle();
    expect(mailbox.messages()).toHaveLength(1);
  });

  it('sends nothing for an erased supporter', async () => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const token = myDataToken(tokenDeps(), who.supporter_id);
    expect((await app.inject({ method: 'POST', url: `/api/my-data/${token}/erase`, payload: { confirm: true } })).statusCode).toBe(200);
    expect((await request({ email: who.email })).statusCode).toBe(202);
    await settle();
    expect(mailbox.messages()).toHaveLength(0);
  });

  it('refuses hostile input with a clear 4xx and sends nothing', async () => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const cases: [unknown, Record<string, string>, number][] = [
      [{ email: 42 }, json, 422],
      [{ email: [who.email] }, json, 422],
      [{}, json, 422],
      [{ email: who.email, admin: true }, json, 422],
      [{ email: `${who.email}\r\nBcc: victim@example.org` }, json, 422],
      [{ email: `victim@example.org\nBcc: ${who.email}` }, json, 422],
      [{ email: who.email, locale: 'xx' }, json, 422],
      [{ email: 'x'.repeat(100_000) + '@example.org' }, json, 413],
      [{ email: 'not-an-address' }, json, 422],
      ['{"email":', json, 400],
      [`email=${encodeURIComponent(who.email)}&email=other@example.org`, form, 422],
      [`email=${encodeURIComponent(who.email)}`, { 'content-type': 'text/plain' }, 415],
    ];
    for (const [payload, headers, status] of cases) {
      const res = await request(payload, headers);
      expect({ payload: String(JSON.stringify(payload)).slice(0, 60), status: res.statusCode }).toEqual({
        payload: String(JSON.stringify(payload)).slice(0, 60),
        status,
      });
      expect(res.json()).toMatchObject({ statusCode: status, code: expect.any(String), message: expect.any(String) });
    }
    const issues = (await request({ email: who.email, admin: true })).json().issues;
    expect(issues).toEqual([{ path: 'admin', code: 'unknown_field', message: 'is not a field this endpoint accepts' }]);
    await settle();
    expect(mailbox.messages()).toHaveLength(0);
  });
});

describe('GET /api/my-data/:token', () => {
  it('exports everything about the signer, and nothing about anyone else', async () => {
    const { action } = await published({ kind: 'LETTER', locales: ['en', 'es'] });
    await h.db.k.updateTable('actions').set({ allow_personalisation: true }).where('id', '=', action.id).execute();
    await h.cache.refresh();
    const other = await published();
    const me = await signUp(action.slug, {
      locale: 'es',
      consentNamed: true,
      consentContact: true,
      letterSubject: 'Mi asunto',
      letterBody: 'Mi carta, con mis palabras.',
    });
    await signUp(other.action.slug, { email: me.email });
    const stranger = await signUp(action.slug, { firstName: 'Stranger', lastName: 'Danger', letterBody: 'Not yours to see.' });

    const token = myDataToken(tokenDeps(), me.supporter_id);
    // before any confirmation, the export holds what each sign-up gave, on the sign-up: nothing is the person's yet
    const before = (await app.inject({ url: `/api/my-data/${token}` })).json();
    expect(before.supporter).toMatchObject({ email: me.email, firstName: null, country: null });
    expect(before.signatures[0].pending).toEqual({ firstName: 'Ana', lastName: 'López', contact: true });
    expect(before.consentHistory).toEqual([]);
    const confirmToken = confirmationToken({ secret: h.secret, clock: () => clock.value, confirmLinkTtlHours: 24 }, me.signature_id);
    expect((await app.inject({ method: 'POST', url: `/api/confirmations/${confirmToken}` })).json().status).toBe('confirmed');

    const res = await app.inject({ url: `/api/my-data/${token}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    // each sign-up's receipt, as stored (sealed) with it
    const myReceipt = (await openedSignature(me.signature_id)).receipt;
    expect(myReceipt).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
    expect(res.headers['content-disposition']).toBeUndefined();
    const data = res.json();
    expect(data).toMatchObject({
      exportedAt: clock.value.toISOString(),
      supporter: { email: me.email, firstName: 'Ana', lastName: 'López', country: 'MX', locale: 'es', unsubscribedAt: null },
    });
    expect(data.signatures).toHaveLength(2);
    expect(data.signatures[0]).toEqual({
      id: me.signature_id,
      action: { slug: action.slug, title: `Title es ${action.slug}` },
      status: 'CONFIRMED',
      country: 'MX',
      locale: 'es',
      createdAt: expect.any(String),
      confirmedAt: expect.any(String),
      letterSubject: 'Mi asunto',
      letterBody: 'Mi carta, con mis palabras.',
      consents: { named: true, wall: false, namedToOwnCountry: false },
      pending: null,
      receipt: myReceipt,
    });
    expect(data.signatures[1].pending).toEqual({ firstName: 'Ana', lastName: 'López', contact: false });
    expect(data.signatures[1].action.slug).toBe(other.action.slug);
    expect(data.signatures[1].receipt).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
    expect(data.signatures[1].receipt).not.toBe(myReceipt);
    const first = data.consentHistory.filter((c: { actionSlug: string }) => c.actionSlug === action.slug);
    expect(first).toEqual(
      expect.arrayContaining([
        { purpose: 'COUNT', granted: true, wordingVersion: expect.stringMatching(/^sign-/), createdAt: expect.any(String), actionSlug: action.slug },
        { purpose: 'NAMED_DISCLOSURE', granted: true, wordingVersion: expect.any(String), createdAt: expect.any(String), actionSlug: action.slug },
        { purpose: 'CONTACT', granted: true, wordingVersion: expect.any(String), createdAt: expect.any(String), actionSlug: action.slug },
      ]),
    );
    expect(res.body).not.toContain(stranger.email);
    expect(res.body).not.toContain(stranger.signature_id);
    expect(res.body).not.toContain('Stranger');
    expect(res.body).not.toContain('Not yours');
    expect(res.body).not.toMatch(/ip_?hash/i);

    const file = await app.inject({ url: `/api/my-data/${token}?download=1` });
    expect(file.headers['content-disposition']).toBe('attachment; filename="chorus-my-data.json"');
    expect(file.json()).toEqual(data);
  });

  it('refuses bad, foreign-purpose and expired links', async () => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const token = myDataToken(tokenDeps(), who.supporter_id);
    expect((await app.inject({ url: `/api/my-data/${unsubscribeToken(tokenDeps(), who.supporter_id)}` })).json()).toMatchObject({ statusCode: 404, code: 'invalid_link' });
    expect((await app.inject({ url: '/api/my-data/abc.def' })).json()).toMatchObject({ statusCode: 404, code: 'invalid_link' });
    expect((await app.inject({ url: `/api/my-data/${token}?download=yes` })).statusCode).toBe(422);
    clock.value = new Date(clock.value.getTime() + 24 * 3_600_000 + 1_000);
    expect((await app.inject({ url: `/api/my-data/${token}` })).json()).toMatchObject({ statusCode: 410, code: 'link_expired' });
  });
});

describe('POST /api/my-data/:token/consents', () => {
  /** each change a second after the last, so the history has an order to check */
  const change = (token: string, payload: unknown, headers: Record<string, string> = json) => {
    clock.value = new Date(clock.value.getTime() + 1_000);
    return app.inject({ method: 'POST', url: `/api/my-data/${token}/consents`, headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
  };

  it('withdraws and gives again, flipping the flag and appending each choice to the history', async () => {
    const { action } = await published();
    const who = await signUp(action.slug, { consentNamed: true, consentWall: true });
    const token = myDataToken(tokenDeps(), who.supporter_id);
    // a waiting sign-up has no choices to change: they are what its email asks to confirm
    const waiting = await change(token, { signatureId: who.signature_id, purpose: 'NAMED_DISCLOSURE', granted: false });
    expect(waiting.json()).toMatchObject({ statusCode: 404, code: 'signature_not_found' });
    expect((await signatureRow(who.signature_id)).named_disclosure).toBe(true);
    expect(await confirmSignatures(h.db.pool, 's.id = $1', [who.signature_id])).toHaveLength(1);
    const before = (await consentRows(who.supporter_id)).length;

    const off = await change(token, { signatureId: who.signature_id, purpose: 'NAMED_DISCLOSURE', granted: false });
    expect(off.statusCode).toBe(200);
    expect(off.headers['cache-control']).toBe('no-store');
    expect(off.json().signatures[0].consents).toEqual({ named: false, wall: true, namedToOwnCountry: false });
    expect((await signatureRow(who.signature_id)).named_disclosure).toBe(false);

    const on = await change(token, `signatureId=${who.signature_id}&purpose=NAMED_DISCLOSURE&granted=true`, form);
    expect(on.statusCode).toBe(200);
    expect((await signatureRow(who.signature_id)).named_disclosure).toBe(true);

    // own country: needs naming first; withdrawing naming withdraws it too
    const own = await change(token, { signatureId: who.signature_id, purpose: 'NAMED_TO_OWN_COUNTRY', granted: true });
    expect(own.json().signatures[0].consents).toEqual({ named: true, wall: true, namedToOwnCountry: true });
    await change(token, { signatureId: who.signature_id, purpose: 'NAMED_DISCLOSURE', granted: false });
    expect(await signatureRow(who.signature_id)).toMatchObject({ named_disclosure: false, named_to_own_country: false });
    const refused = await change(token, { signatureId: who.signature_id, purpose: 'NAMED_TO_OWN_COUNTRY', granted: true });
    expect(refused.json()).toMatchObject({ statusCode: 409, code: 'needs_named_disclosure' });
    expect((await signatureRow(who.signature_id)).named_to_own_country).toBe(false);

    const wall = await change(token, { signatureId: who.signature_id, purpose: 'PUBLIC_WALL', granted: false });
    expect(wall.json().signatures[0].consents.wall).toBe(false);

    const history = (await consentRows(who.supporter_id)).filter((c) => c.wording_version === 'self-service-2026-11');
    expect((await consentRows(who.supporter_id)).length - before).toBe(6);
    expect(history).toEqual([
      { signature_id: who.signature_id, purpose: 'NAMED_DISCLOSURE', granted: false, wording_version: 'self-service-2026-11' },
      { signature_id: who.signature_id, purpose: 'NAMED_DISCLOSURE', granted: true, wording_version: 'self-service-2026-11' },
      { signature_id: who.signature_id, purpose: 'NAMED_TO_OWN_COUNTRY', granted: true, wording_version: 'self-service-2026-11' },
      // same instant: ordered by purpose
      { signature_id: who.signature_id, purpose: 'NAMED_DISCLOSURE', granted: false, wording_version: 'self-service-2026-11' },
      { signature_id: who.signature_id, purpose: 'NAMED_TO_OWN_COUNTRY', granted: false, wording_version: 'self-service-2026-11' },
      { signature_id: who.signature_id, purpose: 'PUBLIC_WALL', granted: false, wording_version: 'self-service-2026-11' },
    ]);
    const exported = (await app.inject({ url: `/api/my-data/${token}` })).json();
    expect(exported.consentHistory.filter((c: { wordingVersion: string }) => c.wordingVersion === 'self-service-2026-11')).toHaveLength(6);
  });

  it('sets and clears the supporter-level contact consent', async () => {
    const { action } = await published();
    const who = await signUp(action.slug, { consentContact: true });
    const token = myDataToken(tokenDeps(), who.supporter_id);
    const off = await change(token, { purpose: 'CONTACT', granted: false });
    expect(off.json().supporter.unsubscribedAt).toBe(clock.value.toISOString());
    expect((await app.inject({ url: `/api/unsubscribe/${unsubscribeToken(tokenDeps(), who.supporter_id)}` })).json()).toEqual({ status: 'unsubscribed' });
    const on = await change(token, { purpose: 'CONTACT', granted: true });
    expect(on.json().supporter.unsubscribedAt).toBeNull();
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toBeNull();
    const rows = (await consentRows(who.supporter_id)).filter((c) => c.wording_version === 'self-service-2026-11');
    expect(rows).toEqual([
      { signature_id: null, purpose: 'CONTACT', granted: false, wording_version: 'self-service-2026-11' },
      { signature_id: null, purpose: 'CONTACT', granted: true, wording_version: 'self-service-2026-11' },
    ]);
  });

  it('refuses another supporter’s signature and hostile bodies, and changes nothing', async () => {
    const { action } = await published();
    const me = await signUp(action.slug, { consentNamed: true });
    const them = await signUp(action.slug, { consentNamed: true, consentWall: true });
    const token = myDataToken(tokenDeps(), me.supporter_id);
    const before = { mine: await consentRows(me.supporter_id), theirs: await consentRows(them.supporter_id) };

    const foreign = await change(token, { signatureId: them.signature_id, purpose: 'NAMED_DISCLOSURE', granted: false });
    expect(foreign.json()).toMatchObject({ statusCode: 404, code: 'signature_not_found' });
    const unknown = await change(token, { signatureId: '7c9e6679-7425-40de-944b-e07fc1f90ae7', purpose: 'PUBLIC_WALL', granted: true });
    expect(unknown.json()).toMatchObject({ statusCode: 404, code: 'signature_not_found' });

    const sig = me.signature_id;
    const hostile: [unknown, number][] = [
      [{ signatureId: 'not-a-uuid', purpose: 'NAMED_DISCLOSURE', granted: false }, 422],
      [{ signatureId: "' OR 1=1 --", purpose: 'NAMED_DISCLOSURE', granted: false }, 422],
      [{ signatureId: sig, purpose: 'COUNT', granted: false }, 422],
      [{ signatureId: sig, purpose: 'named_disclosure', granted: false }, 422],
      [{ signatureId: sig, purpose: 'NAMED_DISCLOSURE', granted: 'yes' }, 422],
      [{ signatureId: sig, purpose: 'NAMED_DISCLOSURE', granted: 0 }, 422],
      [{ signatureId: sig, purpose: 'NAMED_DISCLOSURE' }, 422],
      [{ signatureId: sig, purpose: 'NAMED_DISCLOSURE', granted: false, supporterId: them.supporter_id }, 422],
      [{ purpose: 'NAMED_DISCLOSURE', granted: false }, 422],
      [{ signatureId: sig, purpose: 'CONTACT', granted: false }, 422],
      [{ signatureId: sig, purpose: 'PUBLIC_WALL\r\nX: y', granted: true }, 422],
      [{ signatureId: sig, purpose: 'x'.repeat(100_000), granted: true }, 413],
      [[{ signatureId: sig, purpose: 'NAMED_DISCLOSURE', granted: false }], 422],
    ];
    for (const [payload, status] of hostile) {
      const res = await change(token, payload);
      expect({ payload: JSON.stringify(payload).slice(0, 80), status: res.statusCode }).toEqual({ payload: JSON.stringify(payload).slice(0, 80), status });
      expect(res.json()).toMatchObject({ statusCode: status, code: expect.any(String) });
    }
    // the other person's token, a bad token, an expired one
    expect((await change('nope', { signatureId: sig, purpose: 'NAMED_DISCLOSURE', granted: false })).statusCode).toBe(404);
    expect((await change(unsubscribeToken(tokenDeps(), me.supporter_id), { signatureId: sig, purpose: 'NAMED_DISCLOSURE', granted: false })).statusCode).toBe(404);
    clock.value = new Date(clock.value.getTime() + 24 * 3_600_000);
    expect((await change(token, { signatureId: sig, purpose: 'NAMED_DISCLOSURE', granted: false })).statusCode).toBe(410);

    expect(await consentRows(me.supporter_id)).toEqual(before.mine);
    expect(await consentRows(them.supporter_id)).toEqual(before.theirs);
    expect(await signatureRow(me.signature_id)).toMatchObject({ named_disclosure: true });
    expect(await signatureRow(them.signature_id)).toMatchObject({ named_disclosure: true, public_wall: true });
  });
});

describe('POST /api/my-data/:token/erase', () => {
  const eraseReq = (token: string, payload: unknown, headers: Record<string, string> = json) =>
    app.inject({ method: 'POST', url: `/api/my-data/${token}/erase`, headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  it('erases address, names, letters and IP hash, keeps the confirmed signature counted, and ends the link', async () => {
    const { action } = await published({ kind: 'LETTER' });
    await h.db.k.updateTable('actions').set({ allow_personalisation: true }).where('id', '=', action.id).execute();
    await h.cache.refresh();
    const who = await signUp(action.slug, { consentNamed: true, consentWall: true, consentNamedToOwnCountry: true, letterSubject: 'S', letterBody: 'My own words.' });
    const bystander = await signUp(action.slug, { consentNamed: true, letterBody: 'Theirs.' });
    // confirm through the real link, and let the counter count it
    const confirmToken = confirmationToken({ secret: h.secret, clock: () => clock.value, confirmLinkTtlHours: 24 }, who.signature_id);
    expect((await app.inject({ method: 'POST', url: `/api/confirmations/${confirmToken}` })).json().status).toBe('confirmed');
    while ((await foldConfirmations(h.db.pool)) > 0);
    const countBefore = (await h.db.pool.query('SELECT confirmed_count FROM action_stats WHERE action_id = $1', [action.id])).rows[0].confirmed_count;
    expect(countBefore).toBe(1);
    const sigBefore = await signatureRow(who.signature_id);
    expect(sigBefore.ip_hash).toMatch(/^[0-9a-f]{32}$/);

    const token = myDataToken(tokenDeps(), who.supporter_id);
    // a refusal first: nothing happens without an explicit confirm
    for (const [payload, status] of [
      [{}, 422],
      [{ confirm: false }, 422],
      [{ confirm: 'yes' }, 422],
      [{ confirm: 1 }, 422],
      [{ confirm: true, everything: true }, 422],
      [{ confirm: 'x'.repeat(100_000) }, 413],
    ] as [unknown, number][]) {
      expect((await eraseReq(token, payload)).statusCode).toBe(status);
    }
    expect((await supporterById(h.db.pool, who.supporter_id))!.email).toBe(who.email);
    // stored sealed, never in clear
    expect((await supporterRow(who.supporter_id)).email).toBeInstanceOf(Buffer);
    expect((await openedSignature(who.signature_id)).letter_body).toBe('My own words.');
    expect((await supporterRow(who.supporter_id)).email_domain_index).toMatch(/^[0-9a-f]{64}$/);

    const res = await eraseReq(token, { confirm: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'erased' });

    const sup = await supporterRow(who.supporter_id);
    // the data key is destroyed with the address and name sealed under it
    expect(sup).toMatchObject({ email: null, name: null, data_key: null, erased_at: clock.value });
    expect(await supporterById(h.db.pool, who.supporter_id)).toMatchObject({ email: null, first_name: null, last_name: null });
    // the blind index of the address is replaced by a random value: the address no longer finds them
    expect(sup.email_index).toMatch(/^[0-9a-f]{64}$/);
    expect(sup.email_index).not.toBe(indexOfEmail(who.email));
    // nor the domain's: a search by domain must not find the erased person again
    expect(sup.email_domain_index).toBeNull();
    const sig = await signatureRow(who.signature_id);
    expect(sig).toMatchObject({
      status: 'CONFIRMED',
      confirmed_at: sigBefore.confirmed_at,
      counted_at: sigBefore.counted_at,
      letter: null,
      pending_name: null,
      receipt_sealed: null,
      ip_hash: null,
      named_disclosure: false,
      public_wall: false,
      named_to_own_country: false,
    });
    const countAfter = (await h.db.pool.query('SELECT confirmed_count FROM action_stats WHERE action_id = $1', [action.id])).rows[0].confirmed_count;
    expect(countAfter).toBe(countBefore);
    // nothing that names the person is left in their rows
    const leftovers = await h.db.pool.query(
      `SELECT row_to_json(p)::text || row_to_json(s)::text AS t FROM supporters p JOIN signatures s ON s.supporter_id = p.id WHERE p.id = $1`,
      [who.supporter_id],
    );
    expect(leftovers.rows[0].t).not.toMatch(new RegExp(`${who.email}|Ana|López|My own words`, 'i'));

    // the bystander is untouched
    expect(await openedSignature(bystander.signature_id)).toMatchObject({ letter_body: 'Theirs.', named_disclosure: true });
    expect((await supporterById(h.db.pool, bystander.supporter_id))!.email).toBe(bystander.email);

    // the links stop working
    expect((await app.inject({ url: `/api/my-data/${token}` })).json()).toMatchObject({ statusCode: 404, code: 'invalid_link' });
    expect((await eraseReq(token, { confirm: true })).json()).toMatchObject({ statusCode: 404, code: 'invalid_link' });
    // but for unsubscribing, which is true of them now: nothing will be emailed to them again
    // (a 404 made mail clients report a one-click unsubscribe as failed)
    const unsubscribeLink = `/api/unsubscribe/${unsubscribeToken(tokenDeps(), who.supporter_id)}`;
    expect((await app.inject({ url: unsubscribeLink })).json()).toEqual({ status: 'unsubscribed' });
    const oneClick = await app.inject({ method: 'POST', url: unsubscribeLink, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
    expect(oneClick.statusCode).toBe(200);
    expect(oneClick.json()).toEqual({ status: 'unsubscribed' });
    expect((await supporterRow(who.supporter_id)).unsubscribed_at).toBeNull();
    // no email can go to them: the confirmation sender finds no address
    expect(await sendConfirmation(mailDeps(), who.signature_id)).toBe('nothing-owed');

    // the same person may sign again later, as someone new
    const again = await signUp((await published()).action.slug, { email: who.email });
    expect(again.supporter_id).not.toBe(who.supporter_id);
  });

  it('accepts the confirmation from an HTML form', async () => {
    const { action } = await published();
    const who = await signUp(action.slug);
    const res = await eraseReq(myDataToken(tokenDeps(), who.supporter_id), 'confirm=true', form);
    expect(res.statusCode).toBe(200);
    expect((await supporterRow(who.supporter_id)).erased_at).toBeInstanceOf(Date);
  });
});

describe('OpenAPI', () => {
  it('documents every member endpoint with its schemas', async () => {
    const doc = (await app.inject({ url: '/api/openapi.json' })).json();
    for (const [path, method] of [
      ['/api/unsubscribe/{token}', 'get'],
      ['/api/unsubscribe/{token}', 'post'],
      ['/api/my-data/requests', 'post'],
      ['/api/my-data/{token}', 'get'],
      ['/api/my-data/{token}/consents', 'post'],
      ['/api/my-data/{token}/erase', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    expect(JSON.stringify(doc.paths['/api/my-data/{token}/consents'].post.requestBody)).toContain('NAMED_TO_OWN_COUNTRY');
  });
});
