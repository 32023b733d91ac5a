// Web security of the API, through inject() against the test database and Redis: the
// security headers on every answer (HSTS only over https), CSRF for the public POSTs from
// browsers, error bodies without stack traces or SQL, and the request size limit.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmationToken } from '../signature/signature.service.ts';
import { createAction, createHarness, signBody, type Harness } from '../testing/harness.ts';

let h: Harness;
let secure: Harness;
const ORIGIN = 'http://127.0.0.1:3999';

beforeAll(async () => {
  h = await createHarness({ env: { PUBLIC_BASE_URL: ORIGIN, TRUSTED_FORM_ORIGINS: 'https://partner.example' } });
  secure = await createHarness({ env: { PUBLIC_BASE_URL: 'https://chorus.example' } });
});

afterAll(async () => {
  await h?.close();
  await secure?.close();
});

async function published(harness: Harness = h) {
  const fx = await createAction(harness.db);
  await harness.cache.refresh();
  return fx;
}

async function signatureCount(actionId: string): Promise<number> {
  const { rows } = await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signatures WHERE action_id = $1', [actionId]);
  return rows[0]!.n;
}

describe('security headers', () => {
  it('are on every kind of API answer: 200, 202, 404, 422, 415, health', async () => {
    const { action } = await published();
    const answers = await Promise.all([
      h.app.inject({ url: '/api/actions' }),
      h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() }),
      h.app.inject({ url: '/api/nothing-here' }),
      h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: { email: 1 } }),
      h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, headers: { 'content-type': 'text/plain' }, payload: 'x' }),
      h.app.inject({ url: '/healthz' }),
    ]);
    expect(answers.map((r) => r.statusCode)).toEqual([200, 202, 404, 422, 415, 200]);
    for (const res of answers) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(String(res.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
      expect(String(res.headers['content-security-policy'])).toContain("default-src 'none'");
      // PUBLIC_BASE_URL is plain http here: no HSTS (browsers ignore it over http anyway)
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('include HSTS when PUBLIC_BASE_URL is https', async () => {
    for (const url of ['/api/actions', '/healthz', '/api/nothing-here']) {
      const res = await secure.app.inject({ url });
      expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    }
  });
});

describe('CSRF on the public API', () => {
  it('refuses a browser POST from another site, by Origin or Sec-Fetch-Site, and writes nothing', async () => {
    const { action } = await published();
    const cross = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: `${ORIGIN}.evil.example` },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of cross) {
      const json = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, headers, payload: signBody() });
      expect(json.statusCode, JSON.stringify(headers)).toBe(403);
      expect(json.json()).toMatchObject({ statusCode: 403, code: 'csrf' });
      const form = await h.app.inject({
        method: 'POST',
        url: `/api/actions/${action.slug}/signatures`,
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ firstName: 'A', lastName: 'B', email: 'csrf@example.org', country: 'FR', consentCount: 'on' }).toString(),
      });
      expect(form.statusCode).toBe(403);
    }
    expect(await signatureCount(action.id)).toBe(0);
    // and the other public writes
    const token = confirmationToken({ secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 1 }, randomUUID());
    for (const url of [`/api/confirmations/${token}`, '/api/my-data/requests', `/api/actions/${action.slug}/letter-preview`, `/api/packets/${token}/responses`]) {
      const res = await h.app.inject({ method: 'POST', url, headers: { origin: 'https://evil.example' }, payload: { email: 'x@example.org' } });
      expect(res.statusCode, url).toBe(403);
    }
  });

  it('lets through our own pages, the trusted form origins, and non-browser clients', async () => {
    const { action } = await published();
    const allowed = [{ origin: ORIGIN }, { origin: 'https://partner.example' }, { 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }, {}];
    for (const headers of allowed) {
      const res = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, headers, payload: signBody() });
      expect(res.statusCode, JSON.stringify(headers)).toBe(202);
    }
    expect(await signatureCount(action.id)).toBe(allowed.length);
    // RFC 8058 one-click unsubscribe is posted by mail providers: the token decides, not the origin
    const res = await h.app.inject({ method: 'POST', url: '/api/unsubscribe/not-a-token.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', headers: { origin: 'https://mail.example' } });
    expect(res.statusCode).toBe(404);
  });
});

describe('error bodies', () => {
  const leaks = /at \S+ \(|\.ts:\d+|node_modules|SELECT|INSERT|UPDATE |syntax error|stack|pg-pool/i;

  it('say what, never where: bad JSON, deep nesting, wrong types, huge bodies, wrong content types', async () => {
    const { action } = await published();
    const url = `/api/actions/${action.slug}/signatures`;
    const deep = '['.repeat(120_000) + ']'.repeat(120_000);
    const cases = [
      { payload: '{"firstName":', headers: { 'content-type': 'application/json' }, status: 400 },
      { payload: deep, headers: { 'content-type': 'application/json' }, status: 422 },
      { payload: JSON.stringify({ ...signBody(), firstName: { $gt: '' } }), headers: { 'content-type': 'application/json' }, status: 422 },
      // prototype poisoning is refused by Fastify's JSON parser before any route sees it
      { payload: `{"__proto__":{"admin":true},"email":"a@example.org"}`, headers: { 'content-type': 'application/json' }, status: 400 },
      { payload: `{"constructor":{"prototype":{"admin":true}}}`, headers: { 'content-type': 'application/json' }, status: 400 },
      { payload: JSON.stringify({ ...signBody(), letterBody: 'x'.repeat(300 * 1024) }), headers: { 'content-type': 'application/json' }, status: 413 },
      { payload: '<x/>', headers: { 'content-type': 'application/xml' }, status: 415 },
      { payload: 'a=1', headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415 },
    ];
    for (const c of cases) {
      const res = await h.app.inject({ method: 'POST', url, headers: c.headers, payload: c.payload });
      expect(res.statusCode, c.payload.slice(0, 40)).toBe(c.status);
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['code', 'error', 'message', 'statusCode']));
      expect(res.body).not.toMatch(leaks);
    }
    expect((await h.app.inject({ method: 'POST', url, payload: 'x'.repeat(300 * 1024), headers: { 'content-type': 'application/json' } })).json()).toMatchObject({
      statusCode: 413,
      code: 'body_too_large',
    });
    expect(await signatureCount(action.id)).toBe(0);
  });

  it('an unexpected database error is a 500 with no SQL or stack; a lost connection, or a transaction that lost a race, is a 503 with Retry-After', async () => {
    const token = confirmationToken({ secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 1 }, randomUUID());
    const pool = h.db.pool as pg.Pool & { query: unknown };
    const original = pool.query;
    try {
      pool.query = () => {
        const err = Object.assign(new Error('syntax error at or near "SELECT" in SELECT s.id FROM signatures s WHERE secret = 1'), { code: '42601' });
        return Promise.reject(err);
      };
      const res = await h.app.inject({ url: `/api/confirmations/${token}` });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', code: 'internal', message: expect.any(String) });
      expect(res.body).not.toMatch(leaks);

      pool.query = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
      const down = await h.app.inject({ url: `/api/confirmations/${token}` });
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(down.body).not.toMatch(/5432|ECONNREFUSED/);

      // a transaction that lost a race (deadlock, serialization failure) even after its retries
      for (const code of ['40P01', '40001', '55P03']) {
        pool.query = () => Promise.reject(Object.assign(new Error('deadlock detected: Process 4242 waits for ShareLock on transaction 99'), { code }));
        const busy = await h.app.inject({ url: `/api/confirmations/${token}` });
        expect(busy.statusCode, code).toBe(503);
        expect(busy.headers['retry-after']).toBe('1');
        expect(busy.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', code: 'busy', message: expect.any(String) });
        expect(busy.body).not.toMatch(/Process|ShareLock/);
      }
    } finally {
      pool.query = original;
    }
  });
});
