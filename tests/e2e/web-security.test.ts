// Web security across the real processes: the same security headers on pages and API (HSTS
// when PUBLIC_BASE_URL is https), the client address as the pages forward it to the API (a
// forged X-Forwarded-For or internal header changes nothing; TRUSTED_PROXIES decides), a
// cross-site form post to a page refused, a huge form post refused, and the staff alerts page
// (no JavaScript, axe).
import { randomUUID } from 'node:crypto';
import { AxeBuilder } from '@axe-core/playwright';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../prisma/seed.ts';
import { createSession } from '../../server/src/staff/session.ts';
import { insertUser } from '../../server/src/staff/staff.repository.ts';
import { newSealedReceipt, newSealedSupporter } from '../../server/src/privacy/sealed-rows.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';

const SLUG = 'uzbekistan-let-the-rapporteur-in';
let platform: Platform;
let secure: Platform;
let pool: pg.Pool;
let browser: Browser;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  // loopback is the trusted proxy here, so X-Forwarded-For names the client; the limit is low to see it bite
  platform = await startPlatform({ TRUSTED_PROXIES: '127.0.0.1', SIGN_LIMIT_PER_IP: '2' });
  secure = await startPlatform({ PUBLIC_BASE_URL: 'https://chorus.example' });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await secure?.stop();
  await pool?.end();
});

const COMMON = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

describe('security headers on pages and API alike', () => {
  it('over http: nosniff, no framing, a referrer policy, no HSTS', async () => {
    for (const path of ['/', `/en/actions/${SLUG}`, '/en/my-data', '/api/actions', '/healthz', '/api/nope', '/en/nope']) {
      const res = await fetch(`${platform.baseUrl}${path}`);
      for (const [k, v] of Object.entries(COMMON)) expect(res.headers.get(k), `${path} ${k}`).toBe(v);
      expect(res.headers.get('content-security-policy'), path).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get('referrer-policy'), path).toMatch(/^(same-origin|no-referrer|strict-origin)$/);
      expect(res.headers.get('strict-transport-security'), path).toBeNull();
      await res.body?.cancel();
    }
  });

  it('with an https PUBLIC_BASE_URL: HSTS on pages and API', async () => {
    for (const path of ['/', `/en/actions/${SLUG}`, '/api/actions', '/healthz']) {
      const res = await fetch(`${secure.baseUrl}${path}`);
      expect(res.headers.get('strict-transport-security'), path).toBe('max-age=63072000; includeSubDomains');
      await res.body?.cancel();
    }
  });
});

describe('the client address the pages forward', () => {
  const signViaPage = (email: string, headers: Record<string, string>) =>
    fetch(`${platform.baseUrl}/en/actions/${SLUG}?/sign`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.baseUrl, accept: 'text/html', ...headers },
      body: new URLSearchParams({ firstName: 'Via', lastName: 'Page', email, country: 'FR', consentCount: 'on', website: '' }).toString(),
    });

  it('is the one the trusted proxy saw: forged left parts of X-Forwarded-For and forged internal headers change nothing', async () => {
    const client = `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    const emails = Array.from({ length: 4 }, (_, i) => `viapage.${i}.${randomUUID().slice(0, 8)}@example.org`);
    for (const [i, email] of emails.entries()) {
      const res = await signViaPage(email, {
        // the client forged everything it could; the proxy (loopback, trusted) appended the real address
        'x-forwarded-for': `203.0.113.${i + 1}, ${client}`,
        'x-chorus-peer': `203.0.113.${i + 50}`,
        'x-chorus-client-ip': `203.0.113.${i + 100}`,
        'x-chorus-internal': 'not-the-secret',
      });
      // everybody sees the same "check your email"
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toMatch(/\/check-email$/);
    }
    // found by the blind indexes of the addresses; each address opened from its sealed value
    const rows = await openedSignatures(pool, `p.email_index = ANY($1::text[])`, [emails.map(indexOfEmail)]);
    for (const r of rows) expectSignatureSealed(r);
    const byEmail = new Map(rows.map((r) => [r.email as string, r]));
    expect(emails.map((e) => byEmail.get(e)?.status)).toEqual(['PENDING', 'PENDING', 'INVALIDATED', 'INVALIDATED']);
    expect(byEmail.get(emails[3]!)?.invalid_reason).toBe('rate_limit_ip');
  });
});

describe('requests refused', () => {
  it('a form posted to a page from another site (SvelteKit checks the origin) and to the API (our CSRF check)', async () => {
    const email = `crosssite.${randomUUID().slice(0, 8)}@example.org`;
    const body = new URLSearchParams({ firstName: 'Cross', lastName: 'Site', email, country: 'FR', consentCount: 'on' }).toString();
    const page = await fetch(`${platform.baseUrl}/en/actions/${SLUG}?/sign`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body,
    });
    expect(page.status).toBe(403);
    const api = await fetch(`${platform.baseUrl}/api/actions/${SLUG}/signatures`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      body,
    });
    expect(api.status).toBe(403);
    const { rows } = await pool.query('SELECT 1 FROM supporters WHERE email_index = $1', [indexOfEmail(email)]);
    expect(rows).toHaveLength(0);
  });

  it('a form body over the limits: 413 from the API, and a clear 4xx from the page', async () => {
    const huge = 'x'.repeat(1024 * 1024);
    const api = await fetch(`${platform.baseUrl}/api/actions/${SLUG}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: huge }),
    });
    expect(api.status).toBe(413);
    expect(await api.json()).toMatchObject({ statusCode: 413, code: 'body_too_large' });
    const page = await fetch(`${platform.baseUrl}/en/actions/${SLUG}?/sign`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.baseUrl, accept: 'text/html' },
      body: `firstName=${huge}`,
    }).catch((err: Error) => ({ status: 0, err }));
    // past the pages' limit (512 kB) the body is refused with 413 before it is read (pages.ts), or
    // the connection closed on the uploader after that answer
    expect([0, 413]).toContain(page.status);
  });
});

describe('staff alerts page', () => {
  it('lists a trending source, works without JavaScript, passes axe', async () => {
    const { rows: a } = await pool.query<{ id: string }>(`SELECT id FROM actions WHERE slug = $1`, [SLUG]);
    const source = `trend-${randomUUID().slice(0, 6)}`;
    // signers as the writer stores them: each address sealed under a data key of their own, with a receipt
    const signers = Array.from({ length: 60 }, (_, i) => newSealedSupporter(`trend.${source}.${i}@example.org`, null, null));
    const receipts = signers.map((p) => newSealedReceipt(p.key, p.id));
    await pool.query(
      `WITH s AS (INSERT INTO supporters (id, email_index, email_domain_index, data_key, email, country)
                  SELECT id, ix, dx, k, e, 'FR' FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::bytea[], $5::bytea[]) AS t(id, ix, dx, k, e) RETURNING id),
            r AS (SELECT * FROM unnest($1::uuid[], $6::bytea[], $7::bytea[]) AS t(id, leaf, sealed))
       INSERT INTO signatures (action_id, supporter_id, country, source, created_at, receipt_leaf, receipt_sealed)
       SELECT $8, s.id, 'FR', $9, now() - interval '5 minutes', r.leaf, r.sealed FROM s JOIN r ON r.id = s.id`,
      [
        signers.map((p) => p.id),
        signers.map((p) => p.email_index),
        signers.map((p) => p.email_domain_index),
        signers.map((p) => p.data_key),
        signers.map((p) => p.email),
        receipts.map((r) => r.receipt_leaf),
        receipts.map((r) => r.receipt_sealed),
        a[0]!.id,
        source,
      ],
    );
    const user = await insertUser(pool, { email: `alerts.${randomUUID().slice(0, 8)}@chorus.example.org`, name: 'Alert Viewer', role: 'VIEWER', passwordHash: 'x', createdAt: new Date() });
    const token = await createSession({ pool, clock: () => new Date() }, user!.id);
    const url = new URL(platform.baseUrl);
    for (const javaScriptEnabled of [false, true]) {
      const context = await browser.newContext({ javaScriptEnabled });
      await context.addCookies([{ name: 'chorus_staff', value: token, domain: url.hostname, path: '/', httpOnly: true, sameSite: 'Strict' }]);
      const page = await context.newPage();
      const res = await page.goto(`${platform.baseUrl}/admin/alerts`);
      expect(res?.status()).toBe(200);
      expect(await page.locator('h1').textContent()).toBe('Trending sources');
      const row = page.locator('tr', { hasText: source });
      expect(await row.count()).toBe(1);
      expect(await row.locator('td.num').first().textContent()).toBe('60');
      if (javaScriptEnabled) {
        const axe = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
        expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);
      }
      await context.close();
    }
    // without a session: the sign-in page, not the alerts
    const anon = await fetch(`${platform.baseUrl}/admin/alerts`, { redirect: 'manual' });
    expect(anon.status).toBeGreaterThanOrEqual(300);
    expect(anon.status).toBeLessThan(400);
  });
});
