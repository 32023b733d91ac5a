// The per-recipient-domain limit against the real test Redis (db 15) and database, with a
// clock the test moves by hand.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { deliverLetter } from '../letter/letter.service.ts';
import { createAction, createHarness, letterConfig, signBody, uniqueEmail, type Harness, confirmSignatures, startTestMail } from '../testing/harness.ts';
import { buildBatch } from './batch.service.ts';
import { WINDOW_MS, createDomainLimiter, domainKey, recipientDomain } from './domain-limit.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
let redis: Redis;
let mailbox: Mailbox;
let mailer: Mailer;

beforeAll(async () => {
  h = await createHarness();
  redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  redis?.disconnect();
  await h?.close();
});

const uniqueDomain = () => `limit-${randomUUID().slice(0, 8)}.example`;
/** a moment 10 s into a minute window, in the future so test letters are already due */
const windowStart = (Math.floor(Date.now() / WINDOW_MS) + 2) * WINDOW_MS;

describe('domain limit', () => {
  it('allows N letters per domain per window, then defers to the next window plus jitter', async () => {
    const now = { value: new Date(windowStart + 10_000) };
    const limiter = createDomainLimiter({ redis, perMinute: 3, clock: () => now.value, random: () => 0.5, maxJitterMs: 4_000 });
    const domain = uniqueDomain();
    for (let i = 0; i < 3; i++) expect(await limiter.take(`official${i}@${domain}`)).toEqual({ allowed: true });
    // the domain counts, not the address, and case does not matter
    expect(await limiter.take(`someone.else@${domain.toUpperCase()}`)).toEqual({ allowed: false, retryAt: new Date(windowStart + WINDOW_MS + 2_000) });
    // another domain has its own count
    expect(await limiter.take(`x@${uniqueDomain()}`)).toEqual({ allowed: true });
    // the last millisecond of the window is still this window
    now.value = new Date(windowStart + WINDOW_MS - 1);
    expect((await limiter.take(`a@${domain}`)).allowed).toBe(false);
    // the next window starts from zero
    now.value = new Date(windowStart + WINDOW_MS);
    for (let i = 0; i < 3; i++) expect((await limiter.take(`a@${domain}`)).allowed).toBe(true);
    expect((await limiter.take(`a@${domain}`)).allowed).toBe(false);
  });

  it('shares the count across limiters (worker processes), and keys Redis by a hash with a TTL, never the domain', async () => {
    const now = () => new Date(windowStart + 20_000);
    const other = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
    try {
      const a = createDomainLimiter({ redis, perMinute: 2, clock: now });
      const b = createDomainLimiter({ redis: other, perMinute: 2, clock: now });
      const domain = uniqueDomain();
      expect((await a.take(`one@${domain}`)).allowed).toBe(true);
      expect((await b.take(`two@${domain}`)).allowed).toBe(true);
      expect((await a.take(`three@${domain}`)).allowed).toBe(false);
      expect((await b.take(`four@${domain}`)).allowed).toBe(false);

      const key = domainKey(domain, Math.floor(now().getTime() / WINDOW_MS));
      expect(key).toMatch(/^chorus:domain-limit:[0-9a-f]{16}:\d+$/);
      expect(await redis.get(key)).toBe('4');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(60_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
      const keys = await redis.keys('chorus:domain-limit:*');
      expect(keys.some((k) => k.includes(domain) || k.includes(domain.split('.')[0]!))).toBe(false);
    } finally {
      other.disconnect();
    }
  });

  it('reads the domain from an address', () => {
    expect(recipientDomain('Minister@Gov.Example.')).toBe('gov.example');
    expect(recipientDomain('a"@"b@c.example')).toBe('c.example');
  });

  it('fails open and logs when Redis cannot be reached', async () => {
    const dead = new Redis('redis://127.0.0.1:1/15', { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => {});
    const warnings: object[] = [];
    const limiter = createDomainLimiter({ redis: dead, perMinute: 1, log: { warn: (obj) => void warnings.push(obj) } });
    const started = Date.now();
    expect(await limiter.take(`a@${uniqueDomain()}`)).toEqual({ allowed: true });
    expect(await limiter.take(`b@${uniqueDomain()}`)).toEqual({ allowed: true });
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(warnings).toHaveLength(2);
    dead.disconnect();
  });
});

describe('deliverLetter under the domain limit', () => {
  it('sends up to the limit, then holds the rest PENDING for the next window without counting an attempt', async () => {
    const domain = uniqueDomain();
    const fx = await createAction(h.db, {
      targets: [0, 1, 2].map((i) => ({ country: 'UZ', language: 'en', email: `office${i}@${domain}` })),
    });
    await h.cache.refresh();
    const email = uniqueEmail('lim');
    const res = await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email }) });
    expect(res.statusCode).toBe(202);
    await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    const enqueued: { id: string; attempts: number; delayMs?: number }[] = [];
    const queues = { enqueueLetters: async (l: typeof enqueued) => void enqueued.push(...l) };
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    expect(built!.letterIds).toHaveLength(3);
    enqueued.length = 0;

    const now = { value: new Date(windowStart + 30_000) };
    const clock = () => now.value;
    const domainLimiter = createDomainLimiter({ redis, perMinute: 2, clock, random: () => 0.25, maxJitterMs: 4_000 });
    const deps = {
      pool: h.db.pool,
      mailer,
      mailFrom: 'Chorus <actions@chorus.example.org>',
      organisation: 'Chorus Test',
      staleSubmittingMs: 60_000,
      clock,
      queues,
      domainLimiter,
      ...letterConfig(h),
    };
    const outcomes = [];
    for (const id of built!.letterIds) outcomes.push(await deliverLetter(deps, id));
    expect(outcomes).toEqual(['sent', 'sent', 'deferred']);
    const held = built!.letterIds[2]!;
    const row = (await h.db.pool.query(`SELECT status, attempts, next_attempt_at, last_error FROM letters WHERE id = $1`, [held])).rows[0];
    const retryAt = windowStart + WINDOW_MS + 1_000;
    expect(row).toMatchObject({ status: 'PENDING', attempts: 0, last_error: null });
    expect(row.next_attempt_at.getTime()).toBe(retryAt);
    expect(enqueued).toEqual([{ id: held, attempts: Math.floor(retryAt / WINDOW_MS), delayMs: retryAt - now.value.getTime() }]);
    expect(mailbox.messages().filter((m) => m.envelope.to[0]!.endsWith(`@${domain}`))).toHaveLength(2);

    // not owed before its time, and a letter that is not owed takes no slot
    now.value = new Date(retryAt - 1);
    expect(await deliverLetter(deps, held)).toBe('not-owed');
    // in the next window it goes, as its first attempt
    now.value = new Date(retryAt);
    expect(await deliverLetter(deps, held)).toBe('sent');
    const sent = (await h.db.pool.query(`SELECT status, attempts FROM letters WHERE id = $1`, [held])).rows[0];
    expect(sent).toEqual({ status: 'SENT', attempts: 1 });
    expect(await redis.get(domainKey(domain, Math.floor(retryAt / WINDOW_MS)))).toBe('1');
  });

  it('re-takes a letter left SUBMITTING by a dead worker back to PENDING when its domain is over the limit', async () => {
    const domain = uniqueDomain();
    const fx = await createAction(h.db, { targets: [{ country: 'UZ', language: 'en', email: `desk@${domain}` }] });
    await h.cache.refresh();
    const email = uniqueEmail('lim2');
    const res = await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email }) });
    expect(res.statusCode).toBe(202);
    await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    const queues = { enqueueLetters: async () => {} };
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const id = built!.letterIds[0]!;
    const now = new Date(windowStart + 40_000);
    await h.db.pool.query(`UPDATE letters SET status = 'SUBMITTING', attempts = 1, submitting_at = $2 WHERE id = $1`, [
      id,
      new Date(now.getTime() - 120_000),
    ]);
    const domainLimiter = createDomainLimiter({ redis, perMinute: 1, clock: () => now, random: () => 0 });
    await domainLimiter.take(`someone@${domain}`); // the window's one slot is gone
    const deps = {
      pool: h.db.pool,
      mailer,
      mailFrom: 'Chorus <actions@chorus.example.org>',
      organisation: 'Chorus Test',
      staleSubmittingMs: 60_000,
      clock: () => now,
      queues,
      domainLimiter,
      ...letterConfig(h),
    };
    expect(await deliverLetter(deps, id)).toBe('deferred');
    const row = (await h.db.pool.query(`SELECT status, attempts, next_attempt_at FROM letters WHERE id = $1`, [id])).rows[0];
    expect(row).toEqual({ status: 'PENDING', attempts: 1, next_attempt_at: new Date(windowStart + WINDOW_MS) });
  });
});
