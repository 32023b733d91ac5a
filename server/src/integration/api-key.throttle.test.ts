// Failed API-key authentications are throttled per client address: someone trying keys gets
// 401 a few times, then 429 with Retry-After for the rest of the window, from every path that
// takes a key (v1 and OSDI, Bearer and OSDI-API-Token). Valid keys are never counted, and other
// addresses are not affected.
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, createHarness, staffSession, type Harness } from '../testing/harness.ts';

const LIMIT = 5;
let h: Harness;
let secret: string;

beforeAll(async () => {
  h = await createHarness({ env: { API_KEY_FAILURES_PER_IP: String(LIMIT) } });
  const admin = await staffSession(h.db, 'ADMIN');
  const res = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/api-keys', payload: { name: 'Throttle test', scopes: ['read_public'], rateLimitPerMinute: 100_000 } });
  expect(res.statusCode).toBe(201);
  secret = res.json().secret;
});
afterAll(async () => h?.close());

/** a fresh client address per test, so counters of other tests (and of the suite's 127.0.0.1) do not mix in */
let n = 0;
const run = `${randomInt(1, 255)}.${randomInt(0, 256)}`;
const address = () => `198.${run}.${++n}`;
const get = (remoteAddress: string, headers: Record<string, string>, url = '/api/v1/actions') => h.app.inject({ url, remoteAddress, headers });
const wrong = (i: number) => ({ authorization: `Bearer chorus_${i.toString(16).padStart(12, '0')}_${'x'.repeat(43)}` });

describe('wrong API keys from one address', () => {
  it('get 401 up to the limit, then 429 with Retry-After on every path that takes a key', async () => {
    const attacker = address();
    for (let i = 0; i < LIMIT; i++) {
      const res = await get(attacker, wrong(i));
      expect([i, res.statusCode]).toEqual([i, 401]);
    }
    for (const [url, headers] of [
      ['/api/v1/actions', wrong(99)],
      ['/api/v1/actions', { authorization: 'Bearer nonsense' }],
      ['/api/v1/actions', { 'osdi-api-token': `chorus_${'0'.repeat(12)}_${'y'.repeat(43)}` }],
      ['/api/osdi/v1/', wrong(100)],
    ] as const) {
      const res = await get(attacker, headers, url);
      expect([url, res.statusCode]).toEqual([url, 429]);
      expect(res.json().code).toBe('too_many_failed_keys');
      const retry = Number(res.headers['retry-after']);
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(600);
    }
    // the address that kept guessing cannot get past the 429 with a right guess either
    expect((await get(attacker, { authorization: `Bearer ${secret}` })).statusCode).toBe(429);
  });

  it('do not touch other addresses: a valid key elsewhere works at once, and wrong keys there start from zero', async () => {
    const attacker = address();
    const other = address();
    for (let i = 0; i < LIMIT + 3; i++) await get(attacker, wrong(i));
    expect((await get(attacker, wrong(1))).statusCode).toBe(429);
    expect((await get(other, { authorization: `Bearer ${secret}` })).statusCode).toBe(200);
    expect((await get(other, wrong(1))).statusCode).toBe(401);
  });

  it('valid keys are never counted, however many', async () => {
    const integrator = address();
    for (let i = 0; i < LIMIT * 4; i++) expect((await get(integrator, { authorization: `Bearer ${secret}` })).statusCode).toBe(200);
    // a mistyped key after all those: still a plain 401, with the whole allowance left
    for (let i = 0; i < LIMIT; i++) expect((await get(integrator, wrong(i))).statusCode).toBe(401);
  });

  it('no key at all is a plain 401 and is not counted', async () => {
    const crawler = address();
    for (let i = 0; i < LIMIT * 2; i++) expect((await get(crawler, {})).statusCode).toBe(401);
    expect((await get(crawler, wrong(1))).statusCode).toBe(401);
  });

  it('Redis keeps no client address in clear', async () => {
    const attacker = address();
    await get(attacker, wrong(1));
    const keys = await h.redis.keys('chorus:apikey:fail:*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toContain(attacker);
    expect(keys.join(' ')).not.toContain(`198.${run}`);
  });
});
