// Abuse controls through the real app (inject), the test database and Redis: a per-address
// limit that a forged X-Forwarded-For cannot get around, silent handling of offenders, the
// per-email limit on confirmation emails (repeats kept, their emails waiting), canonical-email
// dedupe under parallel submissions, the other public POSTs' 429, and the trending-source
// alerts for staff.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { sendConfirmation, type ConfirmationMailDeps } from '../signature/confirmation.service.ts';
import { confirmationMailDeps, asStaff, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness, startTestMail } from '../testing/harness.ts';
import { DEFAULT_WINDOW_MS } from './abuse.service.ts';
import { CONSENT_RECORDS } from '../testing/consent-records.ts';
import { indexOfEmail, insertSupporters, supporterById } from '../testing/sealed.ts';
import { emailIndex } from '../privacy/personal-data.ts';

let h: Harness;
let proxied: Harness;
let mailbox: Mailbox;
let mailer: Mailer;

beforeAll(async () => {
  h = await createHarness({ env: { SIGN_LIMIT_PER_IP: '3', SIGN_LIMIT_PER_EMAIL: '2', PUBLIC_POST_LIMIT_PER_IP: '3', TRUSTED_PROXIES: '' } });
  proxied = await createHarness({ env: { SIGN_LIMIT_PER_IP: '2', SIGN_LIMIT_PER_EMAIL: '1000', TRUSTED_PROXIES: '10.9.0.1, 10.8.0.0/16' } });
  ({ mailbox, mailer } = await startTestMail());
});

afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
  await proxied?.close();
});

/** what the mail worker is given (it passes the budget: SIGN_LIMIT_PER_EMAIL per window) */
const mailDeps = (): ConfirmationMailDeps => confirmationMailDeps(h, mailer);

/** a documentation-range address no other test uses */
const freshIp = () => `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

async function statusOf(harness: Harness, actionId: string, email: string) {
  const { rows } = await harness.db.pool.query<{ id: string; status: string; invalid_reason: string | null; requested: Date; consents: number }>(
    `SELECT s.id, s.status, s.invalid_reason, e.requested_at AS requested,
            (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.signature_id = s.id) AS consents
     FROM signatures s JOIN supporters su ON su.id = s.supporter_id LEFT JOIN confirmation_emails e ON e.signature_id = s.id WHERE s.action_id = $1 AND su.email_index = $2
     ORDER BY s.created_at, s.id`,
    [actionId, indexOfEmail(email)],
  );
  return rows;
}

async function confirmationJobs(harness: Harness, actionId: string): Promise<number> {
  const { rows } = await harness.db.pool.query<{ id: string }>('SELECT id FROM signatures WHERE action_id = $1', [actionId]);
  let n = 0;
  for (const r of rows) n += (await harness.redis.keys(`bull:chorus-mail:confirmation-${r.id}-*`)).length;
  return n;
}

describe('per-address signing limit', () => {
  it('past the limit, the same 202 comes back, the signature is stored invalidated and never emailed; X-Forwarded-For changes nothing', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const ip = freshIp();
    const emails = Array.from({ length: 6 }, () => uniqueEmail('ratelimited'));
    const answers = [];
    for (const [i, email] of emails.entries()) {
      const res = await h.app.inject({
        method: 'POST',
        url: `/api/actions/${action.slug}/signatures`,
        remoteAddress: ip,
        // a forged client address, different each time, and a forged internal header without the secret
        headers: { 'x-forwarded-for': `203.0.113.${i + 1}`, 'x-real-ip': `203.0.113.${i + 1}`, 'x-chorus-client-ip': `203.0.113.${i + 1}`, 'x-chorus-internal': 'guess' },
        payload: signBody({ email }),
      });
      answers.push({ status: res.statusCode, body: res.body });
    }
    // offenders see exactly what everyone sees
    expect(new Set(answers.map((a) => `${a.status} ${a.body}`)).size).toBe(1);
    expect(answers[0]!.status).toBe(202);
    const rows = await Promise.all(emails.map((e) => statusOf(h, action.id, e)));
    expect(rows.map((r) => r[0]!.status)).toEqual(['PENDING', 'PENDING', 'PENDING', 'INVALIDATED', 'INVALIDATED', 'INVALIDATED']);
    expect(rows.slice(3).map((r) => r[0]!.invalid_reason)).toEqual(['rate_limit_ip', 'rate_limit_ip', 'rate_limit_ip']);
    // stored whole on the row, for staff to review; consent records come only with an owner's confirmation
    for (const r of rows) expect(r[0]!.consents).toBe(0);
    // only the three clean ones were queued for a confirmation email
    await new Promise((r) => setTimeout(r, 100));
    expect(await confirmationJobs(h, action.id)).toBe(3);
    // another address is not affected
    const other = uniqueEmail('neighbour');
    const res = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: freshIp(), payload: signBody({ email: other }) });
    expect(res.statusCode).toBe(202);
    expect((await statusOf(h, action.id, other))[0]!.status).toBe('PENDING');
  });

  it('the HTML form gets the same 303 whether flagged or not', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const ip = freshIp();
    const locations = [];
    for (let i = 0; i < 5; i++) {
      const body = new URLSearchParams({ firstName: 'Form', lastName: 'Poster', email: uniqueEmail('form'), country: 'FR', consentCount: 'on' });
      const res = await h.app.inject({
        method: 'POST',
        url: `/api/actions/${action.slug}/signatures`,
        remoteAddress: ip,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: body.toString(),
      });
      locations.push(`${res.statusCode} ${res.headers.location}`);
    }
    expect(new Set(locations)).toEqual(new Set([`303 /actions/${action.slug}/check-email`]));
  });

  it('behind a trusted proxy, the client is the rightmost address the proxies did not add; a forged left part changes nothing', async () => {
    const { action } = await createAction(proxied.db);
    await proxied.cache.refresh();
    const client = freshIp();
    const results = [];
    for (let i = 0; i < 4; i++) {
      const email = uniqueEmail('proxied');
      const res = await proxied.app.inject({
        method: 'POST',
        url: `/api/actions/${action.slug}/signatures`,
        remoteAddress: '10.9.0.1',
        // the client forged the first entry; the trusted proxies appended the real address and themselves
        headers: { 'x-forwarded-for': `192.0.2.${i + 1}, ${client}, 10.8.3.4` },
        payload: signBody({ email }),
      });
      expect(res.statusCode).toBe(202);
      results.push((await statusOf(proxied, action.id, email))[0]!.status);
    }
    expect(results).toEqual(['PENDING', 'PENDING', 'INVALIDATED', 'INVALIDATED']);
    // different real clients behind the same proxy are counted apart
    for (let i = 0; i < 3; i++) {
      const email = uniqueEmail('proxied-other');
      await proxied.app.inject({
        method: 'POST',
        url: `/api/actions/${action.slug}/signatures`,
        remoteAddress: '10.9.0.1',
        headers: { 'x-forwarded-for': freshIp() },
        payload: signBody({ email }),
      });
      expect((await statusOf(proxied, action.id, email))[0]!.status).toBe('PENDING');
    }
    // X-Forwarded-For from a peer that is not a trusted proxy is ignored: that peer is the client
    const peer = freshIp();
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const email = uniqueEmail('untrusted');
      await proxied.app.inject({
        method: 'POST',
        url: `/api/actions/${action.slug}/signatures`,
        remoteAddress: peer,
        headers: { 'x-forwarded-for': freshIp() },
        payload: signBody({ email }),
      });
      statuses.push((await statusOf(proxied, action.id, email))[0]!.status);
    }
    expect(statuses).toEqual(['PENDING', 'PENDING', 'INVALIDATED']);
  });
});

describe('per-email limit and canonical dedupe', () => {
  it('50 parallel submissions of variants of one address make one signature, PENDING, and no consent records before confirmation', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const base = `dedupe${randomUUID().slice(0, 6)}`;
    const variants = Array.from({ length: 50 }, (_, i) => {
      let name = base;
      const at = 1 + (i % (base.length - 1));
      if (i % 3 === 0) name = `${name.slice(0, at)}.${name.slice(at)}`;
      if (i % 5 === 0) name = name.toUpperCase();
      if (i % 4 === 0) name += `+tag${i}`;
      return `${name}@${i % 2 ? 'GMail.com' : 'gmail.com'}`;
    });
    expect(new Set(variants).size).toBeGreaterThan(20);
    const results = await Promise.all(
      variants.map((email) =>
        h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: freshIp(), payload: signBody({ email }) }),
      ),
    );
    expect(results.map((r) => r.statusCode)).toEqual(variants.map(() => 202));
    const { rows } = await h.db.pool.query<{ supporter_id: string; email_index: string; status: string; consents: number }>(
      `SELECT s.supporter_id, su.email_index, s.status, (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.signature_id = s.id) AS consents
       FROM signatures s JOIN supporters su ON su.id = s.supporter_id WHERE s.action_id = $1`,
      [action.id],
    );
    expect(rows).toHaveLength(1);
    // found by the blind index of the canonical address (the canonical address itself is not stored)
    expect(rows[0]!.email_index).toBe(emailIndex(`${base}@gmail.com`));
    // the address kept (sealed) is one of those given
    expect(variants).toContain((await supporterById(h.db.pool, rows[0]!.supporter_id))!.email);
    // none is flagged for the address's limit (2 here): that limit caps the emails, not the sign-ups
    expect(rows[0]!.status).toBe('PENDING');
    expect(rows[0]!.consents).toBe(0);
  });

  it('sign-ups past the per-email limit stay pending and are emailed in turn, one email waiting per action, at most the limit per window (no mail bombing)', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('bombed');
    const window = { perWindow: 2, windowMs: DEFAULT_WINDOW_MS };
    const clock = { value: new Date(Math.floor(Date.now() / window.windowMs) * window.windowMs + 60_000) };
    const deps = { ...mailDeps(), clock: () => clock.value, budget: window };
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: freshIp(), payload: signBody({ email, firstName: `Repeat${i}` }) });
      const rows = await statusOf(h, action.id, email);
      // every sign-up is kept, pending beside the others
      expect(rows.map((r) => r.status)).toEqual(Array(i + 1).fill('PENDING'));
      outcomes.push(await sendConfirmation(deps, rows.at(-1)!.id));
    }
    // two emails in this window; the others wait
    expect(outcomes).toEqual(['sent', 'sent', 'deferred', 'deferred', 'deferred']);
    expect(mailbox.messages().filter((m) => m.envelope.to.includes(email))).toHaveLength(2);
    clock.value = new Date(clock.value.getTime() + window.windowMs);
    const rows = await statusOf(h, action.id, email);
    // the next window lets one go for the action, the oldest waiting; its page lists the others,
    // which then owe no email of their own
    const next: string[] = [];
    for (const r of rows) next.push(await sendConfirmation(deps, r.id));
    expect(next).toEqual(['nothing-owed', 'nothing-owed', 'sent', 'nothing-owed', 'nothing-owed']);
    const mails = mailbox.messages().filter((m) => m.envelope.to.includes(email));
    expect(mails.map((m) => /Name: (\S+)/.exec(m.text)![1])).toEqual(['Repeat0', 'Repeat1', 'Repeat2']);
    expect(mails[2]!.text).toContain('4 other sign-ups with this email address are waiting for this action too.');
  });
});

describe('a burst in one turn of the event loop', () => {
  it('counts each hit as if it came alone: with a limit of 3, exactly 3 of 10 parallel signatures from one address count, and the counters expire', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const ip = freshIp();
    const emails = Array.from({ length: 10 }, () => uniqueEmail('burst'));
    // all ten reach the guard in the same turn, so they share one Redis round trip
    const answers = await Promise.all(
      emails.map((email) => h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: ip, payload: signBody({ email }) })),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(Array(10).fill(202));
    const states = (await Promise.all(emails.map((e) => statusOf(h, action.id, e)))).map((r) => r[0]);
    expect(states.filter((s) => s?.status === 'PENDING')).toHaveLength(3);
    expect(states.filter((s) => s?.status === 'INVALIDATED' && s.invalid_reason === 'rate_limit_ip')).toHaveLength(7);
    // every counter the burst touched has its expiry (twice the window)
    const keys = await h.redis.keys('chorus:rl:sign-*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(await h.redis.pttl(k)).toBeGreaterThan(0);
  });
});

describe('other public POSTs', () => {
  it('answer 429 with Retry-After past the per-address limit, for that address only', async () => {
    const ip = freshIp();
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.app.inject({ method: 'POST', url: '/api/my-data/requests', remoteAddress: ip, headers: { 'x-forwarded-for': `203.0.113.${i}` }, payload: { email: uniqueEmail('mydata') } });
      codes.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(res.json()).toMatchObject({ statusCode: 429, code: 'rate_limited' });
      }
    }
    expect(codes).toEqual([202, 202, 202, 429, 429]);
    const other = await h.app.inject({ method: 'POST', url: '/api/my-data/requests', remoteAddress: freshIp(), payload: { email: uniqueEmail('mydata') } });
    expect(other.statusCode).toBe(202);
  });

  it('keeps no address or email in clear in Redis', async () => {
    const keys = await h.redis.keys('chorus:rl:*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k).not.toMatch(/198\.18\.|203\.0\.113|10\.9\.0\.1|@/);
      expect(k).toMatch(/^chorus:rl:[a-z-]+:[A-Za-z0-9_-]{22}:\d+$/);
    }
  });
});

describe('trending-source alerts', () => {
  it('name a source whose rate jumped, not a steady one; staff only', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const now = new Date();
    // the route reads the app's clock: the rows below are placed against this same moment
    h.now.value = now;
    const insert = async (source: string, n: number, hoursAgoFrom: number, hoursAgoTo: number, ipHash: string | null = null) => {
      const supporters = await insertSupporters(
        h.db.pool,
        Array.from({ length: n }, () => ({ email: uniqueEmail('trend'), firstName: 'T', lastName: 'S', country: 'FR' })),
      );
      await h.db.pool.query(
        `INSERT INTO signatures (action_id, supporter_id, country, source, ip_hash, created_at)
         SELECT $2, id, 'FR', $3, $4, $5::timestamptz - (random() * ($6::float8 - $7::float8) + $7::float8) * interval '1 hour' FROM unnest($1::uuid[]) AS id`,
        [supporters, action.id, source, ipHash, now, hoursAgoTo, hoursAgoFrom],
      );
    };
    await insert('newsletter', 48, 1.01, 24.9); // two an hour, all day
    await insert('newsletter', 3, 0, 0.99); // and as usual in the last hour
    await insert('forum-post', 24, 1.01, 24.9);
    await insert('forum-post', 80, 0, 0.99, 'abcdef0123456789'); // a jump, from one network
    const viewer = await staffSession(h.db, 'VIEWER');
    const res = await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/alerts?min=20' });
    expect(res.statusCode).toBe(200);
    const mine = (res.json() as { alerts: { kind: string; action: { slug: string }; subject: string; lastHour: number; baselinePerHour: number }[] }).alerts.filter(
      (a) => a.action.slug === action.slug,
    );
    expect(mine).toEqual([
      expect.objectContaining({ kind: 'source', subject: 'forum-post', lastHour: 80, baselinePerHour: 1 }),
      expect.objectContaining({ kind: 'network', subject: 'abcdef01', lastHour: 80 }),
    ]);
    expect((await h.app.inject({ method: 'GET', url: '/api/admin/alerts' })).statusCode).toBe(401);
  });
});
