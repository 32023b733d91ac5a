// API keys and the integrator API (/api/v1) against the real database and Redis: keys made and
// revoked by admins, authentication, scopes, the per-key rate limit, incremental sync by cursor
// and `since`, and recording a signature through the same double opt-in. Every answer is
// checked against the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, asStaff, signBody, staffSession, uniqueEmail, type Harness } from '../testing/harness.ts';
import { documented } from '../testing/openapi.ts';
import { confirmationToken } from '../signature/signature.service.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
let inject: ReturnType<typeof documented>;
let admin: { id: string; cookie: string };

beforeAll(async () => {
  h = await createHarness();
  inject = documented(h.app);
  admin = await staffSession(h.db, 'ADMIN');
});
afterAll(async () => h?.close());

async function makeKey(scopes: string[], rateLimitPerMinute = 600) {
  const res = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/api-keys', payload: { name: 'Test key', scopes, rateLimitPerMinute } });
  expect(res.statusCode).toBe(201);
  return res.json() as { key: { id: string; prefix: string; scopes: string[] }; secret: string };
}

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** Signs through the v1 API and confirms in the database, as the confirmation button would. */
async function signedAndConfirmed(slug: string, secret: string, overrides: Record<string, unknown> = {}) {
  const email = uniqueEmail('sync');
  const res = await inject({ method: 'POST', url: `/api/v1/actions/${slug}/signatures`, headers: bearer(secret), payload: signBody({ email, ...overrides }) });
  expect(res.statusCode).toBe(202);
  const { rows } = await h.db.pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
    [indexOfEmail(email)],
  );
  // confirmed by the link, as its owner would: that is when the consents are recorded
  const token = confirmationToken({ secret: h.secret, clock: () => h.now.value, confirmLinkTtlHours: 24 }, rows[0]!.id);
  expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` })).json().status).toBe('confirmed');
  return { id: rows[0]!.id, email };
}

describe('API keys in the console', () => {
  it('admins create a key, see its secret once, list it without secrets; the change is audited', async () => {
    const created = await makeKey(['read_public']);
    expect(created.secret).toMatch(/^chorus_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.secret.startsWith(created.key.prefix)).toBe(true);
    const list = await asStaff(h.app, admin.cookie, { method: 'GET', url: '/api/admin/api-keys' });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(created.secret.slice(created.key.prefix.length));
    expect(list.body).not.toMatch(/secret_?hash/i);
    expect(list.json().keys.find((k: { id: string }) => k.id === created.key.id)).toMatchObject({ scopes: ['read_public'], revokedAt: null });
    const audit = await h.db.pool.query(`SELECT verb, after FROM audit_log WHERE entity = 'api_key' AND entity_id = $1`, [created.key.id]);
    expect(audit.rows[0]).toMatchObject({ verb: 'created' });
    expect(JSON.stringify(audit.rows[0].after)).not.toContain(created.secret);
  });

  it('only admins: 401 without a session, 403 for a campaigner, 422 for bad scopes', async () => {
    expect((await inject({ method: 'GET', url: '/api/admin/api-keys' })).statusCode).toBe(401);
    const campaigner = await staffSession(h.db, 'CAMPAIGNER');
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: '/api/admin/api-keys' })).statusCode).toBe(403);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/api-keys', payload: { name: 'x', scopes: ['read_public'] } })).statusCode).toBe(403);
    const bad = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/api-keys', payload: { name: 'x', scopes: ['everything'] } });
    expect(bad.statusCode).toBe(422);
    const none = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/api-keys', payload: { name: 'x', scopes: [] } });
    expect(none.statusCode).toBe(422);
    const badId = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/api-keys/not-a-uuid/revoke' });
    expect(badId.statusCode).toBe(422);
    const unknown = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/api-keys/00000000-0000-4000-8000-000000000000/revoke' });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('authenticating with a key', () => {
  it('refuses a missing, malformed, wrong or revoked key with 401, and a missing scope with 403', async () => {
    const { key, secret } = await makeKey(['read_public']);
    const noKey = await inject({ url: '/api/v1/actions' });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.json().code).toBe('invalid_api_key');
    expect(noKey.headers['www-authenticate']).toMatch(/^Bearer/);
    for (const bad of ['nonsense', `${key.prefix}_${'A'.repeat(43)}`, `${secret}x`, 'chorus_000000000000_' + 'x'.repeat(43), "' OR 1=1 --"]) {
      expect((await inject({ url: '/api/v1/actions', headers: bearer(bad) })).statusCode, bad).toBe(401);
    }
    expect((await inject({ url: '/api/v1/actions', headers: { authorization: `Basic ${secret}` } })).statusCode).toBe(401);
    expect((await inject({ url: '/api/v1/actions', headers: bearer(secret) })).statusCode).toBe(200);
    // OSDI clients send the same key in their own header
    expect((await inject({ url: '/api/v1/actions', headers: { 'osdi-api-token': secret } })).statusCode).toBe(200);

    const scoped = await inject({ url: '/api/v1/signatures', headers: bearer(secret) });
    expect(scoped.statusCode).toBe(403);
    expect(scoped.json().code).toBe('insufficient_scope');
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const write = await inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, headers: bearer(secret), payload: signBody() });
    expect(write.statusCode).toBe(403);

    const revoked = await asStaff(h.app, admin.cookie, { method: 'POST', url: `/api/admin/api-keys/${key.id}/revoke` });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().key.revokedAt).not.toBeNull();
    expect((await inject({ url: '/api/v1/actions', headers: bearer(secret) })).statusCode).toBe(401);
  });

  it('limits each key per minute with 429 and Retry-After', async () => {
    const { secret } = await makeKey(['read_public'], 3);
    const other = await makeKey(['read_public'], 3);
    for (let i = 0; i < 3; i++) expect((await inject({ url: '/api/v1/actions', headers: bearer(secret) })).statusCode).toBe(200);
    const limited = await inject({ url: '/api/v1/actions', headers: bearer(secret) });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // another key has its own budget
    expect((await inject({ url: '/api/v1/actions', headers: bearer(other.secret) })).statusCode).toBe(200);
  });

  it('records when a key was last used', async () => {
    const { key, secret } = await makeKey(['read_public']);
    await inject({ url: '/api/v1/actions', headers: bearer(secret) });
    await new Promise((r) => setTimeout(r, 100));
    const { rows } = await h.db.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [key.id]);
    expect(rows[0].last_used_at).toBeInstanceOf(Date);
  });
});

describe('the integrator API', () => {
  it('reads actions and counts', async () => {
    const { secret } = await makeKey(['read_public']);
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const list = await inject({ url: '/api/v1/actions', headers: bearer(secret) });
    expect(list.json().actions.map((a: { slug: string }) => a.slug)).toContain(action.slug);
    const one = await inject({ url: `/api/v1/actions/${action.slug}`, headers: bearer(secret) });
    expect(one.json()).toMatchObject({ slug: action.slug, count: 0, signingOpen: true, countries: [] });
    expect(one.json().url).toMatch(new RegExp(`/actions/${action.slug}$`));
    expect((await inject({ url: '/api/v1/actions/no-such-thing', headers: bearer(secret) })).statusCode).toBe(404);
  });

  it('records a signature through the double opt-in: pending, emailed, source = key prefix', async () => {
    const { key, secret } = await makeKey(['write_signatures']);
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('api');
    const res = await inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, headers: bearer(secret), payload: signBody({ email }) });
    expect(res.statusCode).toBe(202);
    const { rows } = await h.db.pool.query(
      `SELECT s.status, s.source, e.sent_at AS confirmation_sent_at FROM signatures s JOIN supporters p ON p.id = s.supporter_id LEFT JOIN confirmation_emails e ON e.signature_id = s.id WHERE p.email_index = $1`,
      [indexOfEmail(email)],
    );
    expect(rows[0]).toMatchObject({ status: 'PENDING', source: key.prefix });
    const bad = await inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, headers: bearer(secret), payload: signBody({ consentCount: false }) });
    expect(bad.statusCode).toBe(422);
    const unknown = await inject({ method: 'POST', url: '/api/v1/actions/no-such/signatures', headers: bearer(secret), payload: signBody() });
    expect(unknown.statusCode).toBe(404);
  });

  it('syncs confirmed signatures page by page, then only what changed since', async () => {
    const writer = await makeKey(['write_signatures']);
    const { secret } = await makeKey(['read_signatures']);
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const a = await signedAndConfirmed(action.slug, writer.secret, { consentContact: true, firstName: 'Contact' });
    const b = await signedAndConfirmed(action.slug, writer.secret);
    const c = await signedAndConfirmed(action.slug, writer.secret);
    // a pending signature is not synced
    await inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, headers: bearer(writer.secret), payload: signBody() });

    const url = `/api/v1/actions/${action.slug}/signatures`;
    const p1 = await inject({ url: `${url}?limit=2`, headers: bearer(secret) });
    expect(p1.statusCode).toBe(200);
    expect(p1.json().signatures.map((s: { id: string }) => s.id)).toEqual([a.id, b.id]);
    expect(p1.json().nextCursor).toEqual(expect.any(String));
    const p2 = await inject({ url: `${url}?limit=2&cursor=${p1.json().nextCursor}`, headers: bearer(secret) });
    expect(p2.json().signatures.map((s: { id: string }) => s.id)).toEqual([c.id]);
    expect(p2.json().nextCursor).toBeNull();

    // contact data only where the signer agreed to be contacted; never an IP hash
    const [sa, sb] = p1.json().signatures;
    expect(sa.person).toEqual({ email: a.email, firstName: 'Contact', lastName: 'López' });
    expect(sa.consents).toMatchObject({ count: true, contact: true });
    expect(sb.person).toBeNull();
    expect(p1.body).not.toMatch(/ip_?hash|ipHash/i);
    expect(p1.body).not.toContain(b.email);

    // since: only later changes; invalidating one makes it appear again as invalidated
    const since = p2.json().signatures[0].updatedAt;
    await new Promise((r) => setTimeout(r, 20));
    await h.db.pool.query(`UPDATE signatures SET status = 'INVALIDATED', invalidated_at = now() WHERE id = $1`, [b.id]);
    const later = await inject({ url: `${url}?since=${encodeURIComponent(new Date(Date.parse(since) + 1).toISOString())}`, headers: bearer(secret) });
    expect(later.json().signatures).toEqual([expect.objectContaining({ id: b.id, status: 'invalidated' })]);

    // unsubscribing moves the signature too, and takes the contact data out
    await h.db.pool.query(`UPDATE supporters SET unsubscribed_at = now() WHERE email_index = $1`, [indexOfEmail(a.email)]);
    const after = await inject({ url: `${url}?since=${encodeURIComponent(later.json().signatures[0].updatedAt)}`, headers: bearer(secret) });
    const again = after.json().signatures.find((s: { id: string }) => s.id === a.id);
    expect(again).toMatchObject({ person: null, consents: { contact: false } });

    // across all actions
    const all = await inject({ url: `/api/v1/signatures?since=${encodeURIComponent(since)}&limit=500`, headers: bearer(secret) });
    expect(all.statusCode).toBe(200);
  });

  it('manage_actions pauses and resumes signing, audited with the key', async () => {
    const { key, secret } = await makeKey(['manage_actions']);
    const reader = await makeKey(['read_public']);
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const url = `/api/v1/actions/${action.slug}/signing`;
    expect((await inject({ method: 'POST', url, headers: bearer(reader.secret), payload: { open: false } })).statusCode).toBe(403);
    const paused = await inject({ method: 'POST', url, headers: bearer(secret), payload: { open: false } });
    expect(paused.statusCode).toBe(200);
    expect(paused.json().signingOpen).toBe(false);
    const sign = await inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() });
    expect(sign.statusCode).toBe(409);
    expect(sign.json().code).toBe('signing_paused');
    const resumed = await inject({ method: 'POST', url, headers: bearer(secret), payload: { open: true } });
    expect(resumed.json().signingOpen).toBe(true);
    const audit = await h.db.pool.query(`SELECT verb, after FROM audit_log WHERE entity = 'action' AND entity_id = $1 ORDER BY id`, [action.id]);
    expect(audit.rows.map((r) => r.verb)).toEqual(['pause_signing', 'resume_signing']);
    expect(audit.rows[0].after.apiKey).toBe(key.prefix);
    expect((await inject({ method: 'POST', url, headers: bearer(secret), payload: { open: 'no' } })).statusCode).toBe(422);
    expect((await inject({ method: 'POST', url: '/api/v1/actions/no-such/signing', headers: bearer(secret), payload: { open: true } })).statusCode).toBe(404);
  });

  it('answers 4xx to hostile queries', async () => {
    const { secret } = await makeKey(['read_signatures']);
    const { action } = await createAction(h.db);
    const url = `/api/v1/actions/${action.slug}/signatures`;
    for (const q of [
      'cursor=not-a-cursor',
      `cursor=${Buffer.from('2026-01-01T00:00:00.000Z|1; DROP TABLE signatures').toString('base64url')}`,
      'since=yesterday',
      'limit=0',
      'limit=100000',
      'limit=abc',
      `cursor=${'x'.repeat(500)}`,
    ]) {
      const res = await inject({ url: `${url}?${q}`, headers: bearer(secret) });
      expect(res.statusCode, q).toBe(422);
    }
    expect((await inject({ url: '/api/v1/actions/Bad%20Slug/signatures', headers: bearer(secret) })).statusCode).toBe(422);
    expect((await inject({ url: '/api/v1/actions/no-such-action/signatures', headers: bearer(secret) })).statusCode).toBe(404);
  });
});
