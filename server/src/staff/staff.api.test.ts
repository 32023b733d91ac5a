// Staff sign-in, sessions, two-step sign-in and the admin's account management, through
// inject() against the real test database and Redis, with a clock the tests control.
import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { buildApp } from '../http/app.ts';
import { SignatureWriter } from '../signature/signature.repository.ts';
import { createHarness, type Harness } from '../testing/harness.ts';
import { ABSOLUTE_TIMEOUT_MS, IDLE_TIMEOUT_MS, sweepExpiredSessions } from './session.ts';
import type { StaffRole } from './staff.schema.ts';
import { createStaff } from './staff.service.ts';
import { createAdmin } from './create-admin.ts';

const BASE = 'http://chorus.test';
const HTTPS_BASE = 'https://staff.chorus.test';
const PASSWORD = 'correct horse battery staple';

let h: Harness;
let app: FastifyInstance;
let httpsApp: FastifyInstance;
const clock = { value: new Date() };

async function appFor(publicBaseUrl: string) {
  const a = await buildApp({
    config: { ...loadConfig(), LOG_LEVEL: 'silent', PUBLIC_BASE_URL: publicBaseUrl },
    pool: h.db.pool,
    redis: h.redis,
    cache: h.cache,
    internalSecret: 'internal-secret-for-tests',
    logger: false,
    signatures: {
      pool: h.db.pool,
      cache: h.cache,
      writer: new SignatureWriter(h.db.pool),
      queues: { enqueueConfirmations: async () => {} },
      secret: h.secret,
      clock: () => new Date(),
      confirmLinkTtlHours: 24,
    },
    staff: { clock: () => clock.value },
  });
  await a.ready();
  return a;
}

beforeAll(async () => {
  h = await createHarness();
  app = await appFor(BASE);
  httpsApp = await appFor(HTTPS_BASE);
});
afterAll(async () => {
  await app?.close();
  await httpsApp?.close();
  await h?.close();
});
beforeEach(() => {
  clock.value = new Date();
});

// ------------------------------------------------------------------ helpers

const randomIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}`;
const staffEmail = (role = 'staff') => `${role.toLowerCase()}.${randomUUID().slice(0, 8)}@chorus.test`;

async function makeStaff(role: StaffRole, password = PASSWORD) {
  const email = staffEmail(role);
  const user = await createStaff({ pool: h.db.pool, clock: () => clock.value }, null, { email, name: `Test ${role}`, role, password });
  return { id: user.id, email, password };
}

function call(opts: InjectOptions & { cookie?: string; csrf?: boolean; target?: FastifyInstance }): Promise<LightMyRequestResponse> {
  const { cookie, csrf = true, target = app, ...rest } = opts;
  const headers: Record<string, string> = { ...(rest.headers as Record<string, string>) };
  if (csrf) headers['x-chorus-csrf'] = '1';
  if (cookie) headers.cookie = `chorus_staff=${cookie}`;
  return target.inject({ remoteAddress: randomIp(), ...rest, headers });
}

async function login(email: string, password: string, extra: { totp?: string; ip?: string; cookie?: string } = {}) {
  return call({
    method: 'POST',
    url: '/api/staff/login',
    payload: { email, password, ...(extra.totp ? { totp: extra.totp } : {}) },
    remoteAddress: extra.ip ?? randomIp(),
    cookie: extra.cookie,
  });
}

function sessionCookie(res: LightMyRequestResponse, name = 'chorus_staff') {
  const c = res.cookies.find((x) => x.name === name);
  if (!c) throw new Error(`no ${name} cookie in ${res.statusCode} ${res.body}`);
  return c;
}

async function signIn(email: string, password = PASSWORD): Promise<string> {
  const res = await login(email, password);
  expect(res.statusCode, res.body).toBe(200);
  return sessionCookie(res).value;
}

const me = (cookie?: string) => call({ method: 'GET', url: '/api/staff/me', cookie });
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const SIGN_IN_VERBS = ['signed_in', 'sign_in_failed'];

/** Audit rows of one account: its changes, or (signIns) its sign-ins. */
async function auditRows(entityId: string, signIns = false) {
  const { rows } = await h.db.pool.query<{ verb: string; staff_id: string | null; before: unknown; after: unknown; text: string }>(
    `SELECT verb, staff_id, before, after, row_to_json(a)::text AS text FROM audit_log a
      WHERE entity = 'staff_user' AND entity_id = $1 AND verb = ANY($2) = $3 ORDER BY id`,
    [entityId, SIGN_IN_VERBS, signIns],
  );
  return rows;
}

// ------------------------------------------------------------------ login

describe('login', () => {
  it('sets an HttpOnly SameSite=Strict cookie and stores only the token hash', async () => {
    const u = await makeStaff('CAMPAIGNER');
    const res = await login(u.email, u.password);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user: { id: u.id, email: u.email, name: 'Test CAMPAIGNER', role: 'CAMPAIGNER', totpEnabled: false } });
    const c = sessionCookie(res);
    expect(c).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(c.secure).toBeFalsy();
    expect(c.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(c.value, 'base64url')).toHaveLength(32);
    expect(res.headers['cache-control']).toBe('no-store');

    const { rows } = await h.db.pool.query('SELECT row_to_json(s)::text AS text, id, expires_at, created_at FROM staff_sessions s WHERE user_id = $1', [u.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].id).toBe(sha256(c.value));
    expect(rows[0].text).not.toContain(c.value);
    expect(new Date(rows[0].expires_at).getTime() - new Date(rows[0].created_at).getTime()).toBe(ABSOLUTE_TIMEOUT_MS);

    const m = await me(c.value);
    expect(m.statusCode).toBe(200);
    expect(m.json().user.email).toBe(u.email);
  });

  it('uses a Secure __Host- cookie when PUBLIC_BASE_URL is https', async () => {
    const u = await makeStaff('VIEWER');
    const res = await call({ target: httpsApp, method: 'POST', url: '/api/staff/login', payload: { email: u.email, password: u.password } });
    expect(res.statusCode).toBe(200);
    const c = sessionCookie(res, '__Host-chorus_staff');
    expect(c).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    expect(c.domain).toBeUndefined();
    const m = await httpsApp.inject({ method: 'GET', url: '/api/staff/me', headers: { cookie: `__Host-chorus_staff=${c.value}` } });
    expect(m.statusCode).toBe(200);
  });

  it('answers wrong password, unknown email and disabled account identically', async () => {
    const u = await makeStaff('CAMPAIGNER');
    const d = await makeStaff('VIEWER');
    await h.db.pool.query('UPDATE staff_users SET disabled_at = now() WHERE id = $1', [d.id]);
    const wrong = await login(u.email, 'not the password at all');
    const unknown = await login(staffEmail('nobody'), PASSWORD);
    const disabled = await login(d.email, d.password);
    for (const r of [wrong, unknown, disabled]) {
      expect(r.statusCode).toBe(401);
      expect(r.cookies).toHaveLength(0);
    }
    expect(wrong.json()).toMatchObject({ statusCode: 401, code: 'invalid_credentials' });
    expect(unknown.body).toBe(wrong.body);
    expect(disabled.body).toBe(wrong.body);
  });

  it('takes similar time for an unknown email (a dummy hash is verified)', async () => {
    const u = await makeStaff('VIEWER');
    await login(staffEmail('warm'), 'x'); // the dummy hash is made once
    // CPU time of this process (argon2 runs on libuv's threads, which it counts), not wall time:
    // the work done does not depend on what else the machine is running at the same moment
    const cpu = async (email: string) => {
      const t = process.cpuUsage();
      await login(email, 'wrong password here');
      const d = process.cpuUsage(t);
      return (d.user + d.system) / 1000;
    };
    const known = Math.min(await cpu(u.email), await cpu(u.email), await cpu(u.email));
    const unknown = Math.min(await cpu(staffEmail('nobody')), await cpu(staffEmail('nobody')), await cpu(staffEmail('nobody')));
    // argon2 dominates both; without the dummy hash the unknown case would be ~100x cheaper
    expect(unknown).toBeGreaterThan(known / 3);
  });

  it('throttles: 5 failures per email from one address in 15 minutes, then 429 with Retry-After, even for the right password', async () => {
    const u = await makeStaff('CAMPAIGNER');
    const ip = randomIp();
    for (let i = 0; i < 5; i++) expect((await login(u.email, 'wrong password!!', { ip })).statusCode).toBe(401);
    const res = await login(u.email, u.password, { ip });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ code: 'too_many_attempts' });
    const retry = Number(res.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(900);
    // the keys hold hashes only
    const keys = await h.redis.keys('staff:login:*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k).not.toContain('@');
      expect(k).toMatch(/^staff:login:(email|ip):[0-9a-f]{64}$/);
    }
  });

  it('lets nobody lock an account out from another address: the owner still signs in', async () => {
    const u = await makeStaff('ADMIN');
    // an attacker tries wrong passwords from several addresses, up to each one's limit and past it
    for (const ip of [randomIp(), randomIp()]) {
      for (let i = 0; i < 6; i++) expect([401, 429]).toContain((await login(u.email, 'wrong password!!', { ip })).statusCode);
      expect((await login(u.email, u.password, { ip })).statusCode).toBe(429);
    }
    expect((await login(u.email, u.password, { ip: randomIp() })).statusCode).toBe(200);
  });

  it('throttles 20 failures per client address across emails', async () => {
    const ip = randomIp();
    for (let i = 0; i < 20; i++) expect((await login(staffEmail('x'), 'wrong password!!', { ip })).statusCode).toBe(401);
    const u = await makeStaff('VIEWER');
    const res = await login(u.email, u.password, { ip });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect((await login(u.email, u.password)).statusCode).toBe(200); // another address
  });

  it('a success clears the email counter', async () => {
    const u = await makeStaff('VIEWER');
    const ip = randomIp();
    for (let i = 0; i < 4; i++) expect((await login(u.email, 'wrong password!!', { ip })).statusCode).toBe(401);
    expect((await login(u.email, u.password, { ip })).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await login(u.email, 'wrong password!!', { ip })).statusCode).toBe(401);
    expect((await login(u.email, u.password, { ip })).statusCode).toBe(429);
  });

  it('rotates: a new login from the same browser ends its old session', async () => {
    const u = await makeStaff('CAMPAIGNER');
    const first = await signIn(u.email);
    const res = await login(u.email, u.password, { cookie: first });
    expect(res.statusCode).toBe(200);
    const second = sessionCookie(res).value;
    expect(second).not.toBe(first);
    expect((await me(first)).statusCode).toBe(401);
    expect((await me(second)).statusCode).toBe(200);
  });
});

// ------------------------------------------------------------------ sessions

describe('sessions', () => {
  it('that expired and were never presented again are swept', async () => {
    const u = await makeStaff('VIEWER');
    const fresh = await signIn(u.email);
    const idle = await signIn(u.email);
    const old = await signIn(u.email);
    const now = clock.value.getTime();
    await h.db.pool.query('UPDATE staff_sessions SET last_seen_at = $2 WHERE id = $1', [sha256(idle), new Date(now - IDLE_TIMEOUT_MS - 1000)]);
    await h.db.pool.query('UPDATE staff_sessions SET expires_at = $2 WHERE id = $1', [sha256(old), new Date(now - 1000)]);
    expect(await sweepExpiredSessions(h.db.pool, clock.value)).toBeGreaterThanOrEqual(2);
    const left = (await h.db.pool.query('SELECT id FROM staff_sessions WHERE user_id = $1', [u.id])).rows.map((r) => r.id);
    expect(left).toEqual([sha256(fresh)]);
    expect((await me(fresh)).statusCode).toBe(200);
  });

  it('expire after 30 idle minutes, and are deleted', async () => {
    const u = await makeStaff('VIEWER');
    const start = clock.value.getTime();
    const cookie = await signIn(u.email);
    clock.value = new Date(start + IDLE_TIMEOUT_MS - 60_000);
    expect((await me(cookie)).statusCode).toBe(200); // refreshes last_seen_at
    clock.value = new Date(start + 2 * IDLE_TIMEOUT_MS - 90_000);
    expect((await me(cookie)).statusCode).toBe(200);
    clock.value = new Date(clock.value.getTime() + IDLE_TIMEOUT_MS);
    const res = await me(cookie);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'unauthenticated' });
    const { rowCount } = await h.db.pool.query('SELECT 1 FROM staff_sessions WHERE id = $1', [sha256(cookie)]);
    expect(rowCount).toBe(0);
  });

  it('refresh last_seen_at at most once a minute', async () => {
    const u = await makeStaff('VIEWER');
    const start = clock.value.getTime();
    const cookie = await signIn(u.email);
    const seen = async () =>
      new Date((await h.db.pool.query('SELECT last_seen_at FROM staff_sessions WHERE id = $1', [sha256(cookie)])).rows[0].last_seen_at).getTime();
    clock.value = new Date(start + 30_000);
    await me(cookie);
    expect(await seen()).toBe(start);
    clock.value = new Date(start + 61_000);
    await me(cookie);
    expect(await seen()).toBe(start + 61_000);
  });

  it('expire 12 hours after login however active', async () => {
    const u = await makeStaff('VIEWER');
    const start = clock.value.getTime();
    const cookie = await signIn(u.email);
    for (let t = 20 * 60_000; t < ABSOLUTE_TIMEOUT_MS; t += 20 * 60_000) {
      clock.value = new Date(start + t);
      expect((await me(cookie)).statusCode).toBe(200);
    }
    clock.value = new Date(start + ABSOLUTE_TIMEOUT_MS);
    expect((await me(cookie)).statusCode).toBe(401);
  });

  it('logout ends the session and clears the cookie', async () => {
    const u = await makeStaff('CAMPAIGNER');
    const cookie = await signIn(u.email);
    const res = await call({ method: 'POST', url: '/api/staff/logout', cookie });
    expect(res.statusCode).toBe(204);
    const cleared = sessionCookie(res);
    expect(cleared.value).toBe('');
    expect(cleared.expires!.getTime()).toBeLessThan(Date.now());
    expect((await me(cookie)).statusCode).toBe(401);
    const { rowCount } = await h.db.pool.query('SELECT 1 FROM staff_sessions WHERE user_id = $1', [u.id]);
    expect(rowCount).toBe(0);
  });

  it('me without a session, or with a forged one, is 401', async () => {
    expect((await me()).json()).toMatchObject({ statusCode: 401, code: 'unauthenticated' });
    expect((await me('A'.repeat(43))).statusCode).toBe(401);
    expect((await me('not-a-token')).statusCode).toBe(401);
  });
});

// ------------------------------------------------------------------ TOTP

describe('two-step sign-in', () => {
  const codeAt = (secret: string, at: Date) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: at.getTime() });

  it('setup + confirm, then the admin must give a code', async () => {
    const u = await makeStaff('ADMIN');
    const cookie = await signIn(u.email);
    const setup = await call({ method: 'POST', url: '/api/staff/me/totp/setup', cookie });
    expect(setup.statusCode, setup.body).toBe(200);
    const { secret, otpauthUrl } = setup.json();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauthUrl).toMatch(/^otpauth:\/\/totp\/Chorus:/);
    expect(otpauthUrl).toContain(`secret=${secret}`);
    const stored = (await h.db.pool.query('SELECT totp_secret FROM staff_users WHERE id = $1', [u.id])).rows[0].totp_secret;
    // sealed at rest: the database alone cannot make codes
    expect(stored).toMatch(/^pending:v1\.[A-Za-z0-9_-]{70,}$/);
    expect(stored).not.toContain(secret);
    // pending is not enabled: the password alone still works
    expect((await login(u.email, u.password)).statusCode).toBe(200);

    const bad = await call({ method: 'POST', url: '/api/staff/me/totp/confirm', cookie, payload: { totp: codeAt(secret, new Date(clock.value.getTime() + 600_000)) } });
    expect(bad.statusCode).toBe(422);
    const ok = await call({ method: 'POST', url: '/api/staff/me/totp/confirm', cookie, payload: { totp: codeAt(secret, clock.value) } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().user.totpEnabled).toBe(true);
    expect((await me(cookie)).json().user.totpEnabled).toBe(true);
    // a second setup would let a stolen session replace the factor
    expect((await call({ method: 'POST', url: '/api/staff/me/totp/setup', cookie })).statusCode).toBe(409);

    clock.value = new Date(clock.value.getTime() + 60_000);
    const missing = await login(u.email, u.password);
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({ code: 'totp_required' });
    expect(missing.cookies).toHaveLength(0);
    const wrong = await login(u.email, u.password, { totp: codeAt(secret, new Date(clock.value.getTime() + 600_000)) });
    expect(wrong.json()).toMatchObject({ code: 'invalid_credentials' });
    // a wrong password with a right code says nothing about the code
    expect((await login(u.email, 'wrong password!!', { totp: codeAt(secret, clock.value) })).json()).toMatchObject({ code: 'invalid_credentials' });
    clock.value = new Date(clock.value.getTime() + 60_000);
    const code = codeAt(secret, clock.value);
    const good = await login(u.email, u.password, { totp: code });
    expect(good.statusCode, good.body).toBe(200);
    expect(good.json().user.totpEnabled).toBe(true);
    // each code works once
    expect((await login(u.email, u.password, { totp: code })).json()).toMatchObject({ code: 'invalid_credentials' });

    const enabled = (await h.db.pool.query('SELECT totp_secret FROM staff_users WHERE id = $1', [u.id])).rows[0].totp_secret;
    expect(enabled).toMatch(/^v1\./);
    expect(enabled).not.toContain(secret);

    const audit = await auditRows(u.id);
    expect(audit.map((a) => a.verb)).toEqual(['create', 'totp_enabled']);
    for (const a of audit) expect(a.text).not.toContain(secret);
    // every sign-in and every failed one is on record; the missing code alone is not a failure
    const signIns = await auditRows(u.id, true);
    expect(signIns.map((a) => [a.verb, (a.after as { reason?: string }).reason ?? null])).toEqual([
      ['signed_in', null],
      ['signed_in', null],
      ['sign_in_failed', 'code'],
      ['sign_in_failed', 'password'],
      ['signed_in', null],
      ['sign_in_failed', 'code'],
    ]);
    expect(signIns.filter((a) => a.verb === 'signed_in').map((a) => a.staff_id)).toEqual([u.id, u.id, u.id]);
    expect(signIns.filter((a) => a.verb === 'sign_in_failed').every((a) => a.staff_id === null)).toBe(true);
  });

  it('a key sealed under another SECRET_KEY is refused with 503, not accepted or crashed on', async () => {
    const u = await makeStaff('ADMIN');
    await h.db.pool.query(`UPDATE staff_users SET totp_secret = 'v1.' || repeat('A', 80) WHERE id = $1`, [u.id]);
    const res = await login(u.email, u.password, { totp: '123456' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'totp_unreadable' });
  });

  it('confirm without a pending secret is 409', async () => {
    const u = await makeStaff('VIEWER');
    const cookie = await signIn(u.email);
    expect((await call({ method: 'POST', url: '/api/staff/me/totp/confirm', cookie, payload: { totp: '123456' } })).statusCode).toBe(409);
  });
});

// ------------------------------------------------------------------ admin

const adminRoutes = (id: string) => [
  { method: 'GET' as const, url: '/api/staff/users' },
  { method: 'POST' as const, url: '/api/staff/users', payload: { email: staffEmail('new'), name: 'New', role: 'VIEWER', password: PASSWORD } },
  { method: 'POST' as const, url: `/api/staff/users/${id}/disable` },
  { method: 'POST' as const, url: `/api/staff/users/${id}/enable` },
  { method: 'POST' as const, url: `/api/staff/users/${id}/reset-password`, payload: { password: 'another long password' } },
];

describe('admin routes', () => {
  it('refuse strangers (401), campaigners and viewers (403), and expired sessions (401)', async () => {
    const victim = await makeStaff('VIEWER');
    const campaigner = await signIn((await makeStaff('CAMPAIGNER')).email);
    const viewer = await signIn((await makeStaff('VIEWER')).email);
    const admin = await makeStaff('ADMIN');
    const start = clock.value.getTime();
    const expired = await signIn(admin.email);
    for (const r of adminRoutes(victim.id)) {
      const none = await call(r);
      expect(none.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(none.json()).toMatchObject({ code: 'unauthenticated' });
      for (const cookie of [campaigner, viewer]) {
        const res = await call({ ...r, cookie });
        expect(res.statusCode, `${r.method} ${r.url}`).toBe(403);
        expect(res.json()).toMatchObject({ code: 'forbidden' });
      }
    }
    clock.value = new Date(start + IDLE_TIMEOUT_MS + 1);
    for (const r of adminRoutes(victim.id)) expect((await call({ ...r, cookie: expired })).statusCode).toBe(401);
    // nothing happened to the victim
    expect((await auditRows(victim.id)).map((a) => a.verb)).toEqual(['create']);
  });

  it('create, list, disable, enable, reset password, each audited without secrets', async () => {
    const admin = await makeStaff('ADMIN');
    const cookie = await signIn(admin.email);
    const email = staffEmail('made');
    const created = await call({ method: 'POST', url: '/api/staff/users', cookie, payload: { email: email.toUpperCase(), name: '  Made  ', role: 'CAMPAIGNER', password: PASSWORD } });
    expect(created.statusCode, created.body).toBe(201);
    const user = created.json().user;
    expect(user).toMatchObject({ email, name: 'Made', role: 'CAMPAIGNER', totpEnabled: false, disabled: false, lastLoginAt: null });
    expect(JSON.stringify(created.json())).not.toContain('argon2');
    const hash = (await h.db.pool.query('SELECT password_hash FROM staff_users WHERE id = $1', [user.id])).rows[0].password_hash;
    expect(hash).toMatch(/^\$argon2id\$/);

    const dup = await call({ method: 'POST', url: '/api/staff/users', cookie, payload: { email, name: 'Again', role: 'VIEWER', password: PASSWORD } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ code: 'email_taken' });

    const list = await call({ method: 'GET', url: '/api/staff/users', cookie });
    expect(list.statusCode).toBe(200);
    expect(list.json().users.find((x: { id: string }) => x.id === user.id)).toMatchObject({ email, role: 'CAMPAIGNER' });
    expect(list.body).not.toContain('argon2');

    // the new user signs in, then is disabled: session gone, login refused like a wrong password
    const theirs = await signIn(email);
    const disabled = await call({ method: 'POST', url: `/api/staff/users/${user.id}/disable`, cookie });
    expect(disabled.statusCode, disabled.body).toBe(200);
    expect(disabled.json().user.disabled).toBe(true);
    expect((await me(theirs)).statusCode).toBe(401);
    expect((await login(email, PASSWORD)).json()).toMatchObject({ code: 'invalid_credentials' });

    const enabled = await call({ method: 'POST', url: `/api/staff/users/${user.id}/enable`, cookie });
    expect(enabled.json().user.disabled).toBe(false);
    const again = await signIn(email);

    // TOTP on, then reset: password changed, sessions ended, TOTP off
    await h.db.pool.query(`UPDATE staff_users SET totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' WHERE id = $1`, [user.id]);
    const reset = await call({ method: 'POST', url: `/api/staff/users/${user.id}/reset-password`, cookie, payload: { password: 'a brand new passphrase' } });
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json().user.totpEnabled).toBe(false);
    expect((await me(again)).statusCode).toBe(401);
    expect((await login(email, PASSWORD)).statusCode).toBe(401);
    expect((await login(email, 'a brand new passphrase')).statusCode).toBe(200);

    const audit = await auditRows(user.id);
    expect(audit.map((a) => a.verb)).toEqual(['create', 'disable', 'enable', 'reset_password']);
    for (const a of audit) {
      expect(a.staff_id).toBe(admin.id);
      expect(a.text).not.toMatch(/argon2|password_?hash|JBSWY3DP|totp_?secret|passphrase|battery/i);
    }
    expect(audit[1]).toMatchObject({ before: { disabled: false, email }, after: { disabled: true } });
    expect(audit[3]).toMatchObject({ before: { totpEnabled: true }, after: { totpEnabled: false } });
  });

  it('an admin cannot disable themself; unknown ids are 404; weak passwords are refused', async () => {
    const admin = await makeStaff('ADMIN');
    const cookie = await signIn(admin.email);
    const self = await call({ method: 'POST', url: `/api/staff/users/${admin.id}/disable`, cookie });
    expect(self.statusCode).toBe(409);
    expect(self.json()).toMatchObject({ code: 'cannot_disable_self' });
    expect((await call({ method: 'POST', url: `/api/staff/users/${randomUUID()}/enable`, cookie })).statusCode).toBe(404);
    const email = staffEmail('weak');
    const same = await call({ method: 'POST', url: '/api/staff/users', cookie, payload: { email, name: 'Weak', role: 'VIEWER', password: email.toUpperCase() } });
    expect(same.statusCode).toBe(422);
    expect(same.json()).toMatchObject({ code: 'weak_password' });
    const short = await call({ method: 'POST', url: '/api/staff/users', cookie, payload: { email, name: 'Weak', role: 'VIEWER', password: 'short pass' } });
    expect(short.statusCode).toBe(422);
    const long = await call({ method: 'POST', url: '/api/staff/users', cookie, payload: { email, name: 'Weak', role: 'VIEWER', password: 'x'.repeat(201) } });
    expect(long.statusCode).toBe(422);
  });
});

// ------------------------------------------------------------------ hostile input and CSRF

describe('hostile input', () => {
  it('login: wrong types, unknown fields, huge strings, CR/LF are 4xx', async () => {
    const big = 'a'.repeat(100 * 1024);
    const bodies: unknown[] = [
      { email: 42, password: PASSWORD },
      { email: ['a@chorus.test'], password: PASSWORD },
      { email: 'a@chorus.test', password: { $ne: null } },
      { email: 'a@chorus.test', password: PASSWORD, role: 'ADMIN' },
      { email: `${big}@chorus.test`, password: PASSWORD },
      { email: 'a@chorus.test', password: big },
      { email: 'a@chorus.test\r\nBcc: x@evil.example', password: PASSWORD },
      { email: 'a@chorus.test', password: PASSWORD, totp: '12345a' },
      { email: 'a@chorus.test', password: PASSWORD, totp: 123456 },
      [],
      null,
    ];
    for (const payload of bodies) {
      const res = await call({ method: 'POST', url: '/api/staff/login', payload: payload as object, headers: { 'content-type': 'application/json' } });
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(res.cookies).toHaveLength(0);
    }
    const text = await call({ method: 'POST', url: '/api/staff/login', payload: 'email=a', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
  });

  it('admin: bad ids, roles, names and fields are 4xx', async () => {
    const admin = await makeStaff('ADMIN');
    const cookie = await signIn(admin.email);
    const cases: (InjectOptions & { url: string })[] = [
      { method: 'POST', url: '/api/staff/users/not-a-uuid/disable' },
      { method: 'POST', url: `/api/staff/users/${'1'.repeat(1000)}/enable` },
      { method: 'POST', url: '/api/staff/users', payload: { email: staffEmail(), name: 'X', role: 'ROOT', password: PASSWORD } },
      { method: 'POST', url: '/api/staff/users', payload: { email: staffEmail(), name: 'x'.repeat(100 * 1024), role: 'VIEWER', password: PASSWORD } },
      { method: 'POST', url: '/api/staff/users', payload: { email: staffEmail(), name: 'X\r\nY', role: 'VIEWER', password: PASSWORD } },
      { method: 'POST', url: '/api/staff/users', payload: { email: staffEmail(), name: 'X', role: 'VIEWER', password: PASSWORD, totpSecret: 'x' } },
      { method: 'POST', url: '/api/staff/users', payload: { email: 'x\n@chorus.test', name: 'X', role: 'VIEWER', password: PASSWORD } },
      { method: 'POST', url: `/api/staff/users/${admin.id}/reset-password`, payload: { password: 12345678901234 } },
    ];
    for (const c of cases) {
      const res = await call({ ...c, cookie });
      expect(res.statusCode, `${c.method} ${c.url.slice(0, 60)}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
    }
    expect((await auditRows(admin.id)).map((a) => a.verb)).toEqual(['create']);
  });

  it('CSRF: state changes need x-chorus-csrf: 1 or a same-origin Origin', async () => {
    const admin = await makeStaff('ADMIN');
    const victim = await makeStaff('VIEWER');
    const cookie = await signIn(admin.email);
    const url = `/api/staff/users/${victim.id}/disable`;
    const bare = await call({ method: 'POST', url, cookie, csrf: false });
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ code: 'csrf' });
    const evil = await call({ method: 'POST', url, cookie, csrf: false, headers: { origin: 'https://evil.example' } });
    expect(evil.json()).toMatchObject({ code: 'csrf' });
    const wrongValue = await call({ method: 'POST', url, cookie, csrf: false, headers: { 'x-chorus-csrf': '0' } });
    expect(wrongValue.statusCode).toBe(403);
    expect((await auditRows(victim.id)).map((a) => a.verb)).toEqual(['create']);
    const loginCsrf = await call({ method: 'POST', url: '/api/staff/login', csrf: false, payload: { email: admin.email, password: admin.password } });
    expect(loginCsrf.json()).toMatchObject({ code: 'csrf' });
    // reads need no header; same-origin Origin is enough for writes
    expect((await call({ method: 'GET', url: '/api/staff/users', cookie, csrf: false })).statusCode).toBe(200);
    const same = await call({ method: 'POST', url, cookie, csrf: false, headers: { origin: BASE } });
    expect(same.statusCode, same.body).toBe(200);
  });
});

// ------------------------------------------------------------------ CLI

describe('create-admin CLI', () => {
  it('creates an ADMIN from CHORUS_ADMIN_PASSWORD, and refuses an existing email or a missing password', async () => {
    const email = staffEmail('cli');
    const env = { DATABASE_URL: process.env.DATABASE_URL, CHORUS_ADMIN_PASSWORD: 'cli admin passphrase' };
    await expect(createAdmin(['--email', email, '--name', 'CLI Admin'], { DATABASE_URL: env.DATABASE_URL })).rejects.toThrow(/CHORUS_ADMIN_PASSWORD must be set/);
    await expect(createAdmin(['--email', email, '--name', 'CLI Admin', '--password', 'x'], env)).rejects.toThrow(/Unknown option/);
    await expect(createAdmin(['--email', email, '--name', 'CLI Admin'], env)).resolves.toMatch(/^created ADMIN/);
    await expect(createAdmin(['--email', email, '--name', 'CLI Admin'], env)).rejects.toThrow(/already exists/);
    const res = await login(email, 'cli admin passphrase');
    expect(res.statusCode).toBe(200);
    expect(res.json().user.role).toBe('ADMIN');
  });
});

describe('OpenAPI', () => {
  it('documents the staff routes', async () => {
    const res = await app.inject({ url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    for (const p of ['/api/staff/login', '/api/staff/logout', '/api/staff/me', '/api/staff/me/totp/setup', '/api/staff/me/totp/confirm', '/api/staff/users', '/api/staff/users/{id}/disable', '/api/staff/users/{id}/enable', '/api/staff/users/{id}/reset-password']) {
      expect(paths).toContain(p);
    }
  });
});
