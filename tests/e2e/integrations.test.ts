// Integrations across real processes (server, workers, mailbox) and real Chromium:
// - the widget on a page served by another origin (a node:http server on localhost, another
//   port): the form in its iframe signs, the confirmation email arrives in the mailbox, and no
//   cookie of ours reaches the browser; the plain iframe snippet works too; only the embed page
//   may be framed;
// - a webhook endpoint registered through the console API receives the signed
//   signature.confirmed event, delivered by the workers process;
// - the Integrations console page: an admin creates an API key (the secret is shown once) and
//   the key works on /api/v1. Pages are audited with axe.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AxeBuilder } from '@axe-core/playwright';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { createSession } from '../../server/src/staff/session.ts';
import { insertUser } from '../../server/src/staff/staff.repository.ts';
import { verifySignature } from '../../server/src/webhook/webhook.service.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { seed } from '../../prisma/seed.ts';
import { actions } from '../../prisma/seed-data.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';

const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const PETITION = actions.find((a) => a.slug === 'lawyers-and-doctors-in-detention')!;

let platform: Platform;
let browser: Browser;
let pool: pg.Pool;
let host: Server;
let hostUrl: string;
let staffCookie: string;
const hooks: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];

const unique = (name: string) => `${name}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  // the other site listens on this machine: WEBHOOK_ALLOW_PRIVATE lets exactly loopback through,
  // as it would an internal CRM (without it the endpoint is refused: tests/promises/18-*)
  platform = await startPlatform({ WEBHOOK_ALLOW_PRIVATE: '127.0.0.1/32,::1/128' });
  browser = await launchChromium();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  // another site: its pages embed the widget; it also receives our webhooks
  host = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/hooks') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
      return;
    }
    const embed =
      req.url === '/hostile'
        ? `<script src="${platform.baseUrl}/widget.js" data-action="../admin/integrations" async></script>`
        : req.url === '/snippet'
        ? `<iframe src="${platform.baseUrl}/embed/${PETITION.slug}" title="Sign the petition" width="100%" height="760"></iframe>`
        : `<script src="${platform.baseUrl}/widget.js" data-action="${PETITION.slug}" data-title="Sign the petition" async></script>`;
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': 'host_session=theirs; Path=/' })
      .end(`<!doctype html><html lang="en"><head><title>Friends of the campaign</title></head><body><main><h1>Friends of the campaign</h1>${embed}</main></body></html>`);
  });
  await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
  // localhost, not 127.0.0.1: another site, not only another origin
  hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;

  const user = await insertUser(pool, { email: unique('admin'), name: 'Integrations admin', role: 'ADMIN', passwordHash: 'not-a-login-hash', createdAt: new Date() });
  staffCookie = `chorus_staff=${await createSession({ pool, clock: () => new Date() }, user!.id)}`;
});

afterAll(async () => {
  await pool?.query(`UPDATE webhook_endpoints SET disabled_at = now() WHERE url LIKE $1`, [`${hostUrl}%`]).catch(() => {});
  await browser?.close();
  await platform?.stop();
  host?.close();
  await pool?.end();
});

async function axe(label: string, page: Page) {
  const result = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect.soft(violations, `axe on ${label}`).toEqual([]);
}

const staffFetch = (path: string, init: RequestInit = {}) =>
  fetch(`${platform.baseUrl}${path}`, { ...init, headers: { ...(init.headers ?? {}), cookie: staffCookie, 'x-chorus-csrf': '1', 'content-type': 'application/json' } });

describe('the widget on another site', () => {
  it('signs through the iframe; the email arrives; the webhook is delivered signed; no cookie of ours', async () => {
    const hook = await staffFetch('/api/admin/webhooks', { method: 'POST', body: JSON.stringify({ url: `${hostUrl}/hooks`, events: ['signature.confirmed'] }) });
    expect(hook.status).toBe(201);
    const { secret } = (await hook.json()) as { secret: string };

    const context = await browser.newContext();
    const offsite: string[] = [];
    context.on('request', (r) => {
      const origin = new URL(r.url()).origin;
      if (origin !== new URL(platform.baseUrl).origin && origin !== hostUrl) offsite.push(r.url());
    });
    const page = await context.newPage();
    await page.goto(hostUrl);
    const frame = page.frameLocator('iframe[title="Sign the petition"]');
    await expect.poll(async () => (await frame.locator('h1').textContent({ timeout: 15_000 }))?.trim()).toBeTruthy();
    expect(await page.locator('iframe').getAttribute('src')).toBe(`${platform.baseUrl}/embed/${PETITION.slug}`);

    const email = unique('widget');
    await frame.locator('#e-firstName').fill('Widget');
    await frame.locator('#e-lastName').fill('Signer');
    await frame.locator('#e-email').fill(email);
    await frame.locator('#e-country').selectOption('NO');
    await frame.locator('#e-consentCount').check();
    await frame.locator('button[type="submit"]').click();
    await expect.poll(() => page.frames().find((f) => f.url().includes('/check-email'))?.url() ?? '', { timeout: 15_000 }).toContain(`/embed/${PETITION.slug}/check-email`);
    expect(((await frame.locator('h1').textContent()) ?? '').trim().length).toBeGreaterThan(0);

    // the double opt-in, as on our own page
    const mail = await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes(email), { timeoutMs: 20_000 });
    const link = new RegExp(`${platform.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/confirm/([A-Za-z0-9._~-]+)`).exec(mail.text);
    expect(link).not.toBeNull();
    const rows = await openedSignatures(pool, `p.email_index = $1 AND s.action_id = (SELECT id FROM actions WHERE slug = $2)`, [indexOfEmail(email), PETITION.slug]);
    expect(rows[0]).toMatchObject({ status: 'PENDING', source: 'embed', email, pending_first_name: 'Widget', pending_last_name: 'Signer' });
    expectSignatureSealed(rows[0]!);
    const confirmed = await fetch(`${platform.baseUrl}/api/confirmations/${link![1]}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(confirmed.status).toBe(200);

    // no cookie of ours: not in the browser at all, not readable by the host page
    const ours = (await context.cookies()).filter((c) => c.name !== 'host_session');
    expect(ours).toEqual([]);
    expect(await page.evaluate('document.cookie')).toBe('host_session=theirs');
    expect(offsite).toEqual([]);

    // the workers deliver the signed webhook to the other site
    await expect.poll(() => hooks.length, { timeout: 20_000 }).toBeGreaterThan(0);
    const delivered = hooks.find((h) => h.body.includes('signature.confirmed'))!;
    expect(verifySignature(secret, String(delivered.headers['chorus-signature']), delivered.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(delivered.body).not.toContain(email);
    expect(JSON.parse(delivered.body).data.action).toBe(PETITION.slug);
    await context.close();
  });

  it('the iframe snippet alone works; only the embed page may be framed', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${hostUrl}/snippet`);
    const frame = page.frameLocator('iframe');
    await expect.poll(async () => frame.locator('#e-email').count(), { timeout: 15_000 }).toBe(1);
    await context.close();

    // a widget told to frame anything but an action slug frames nothing
    const hostile = await browser.newContext();
    const hp = await hostile.newPage();
    await hp.goto(`${hostUrl}/hostile`);
    await hp.waitForLoadState('networkidle');
    expect(await hp.locator('iframe').count()).toBe(0);
    await hostile.close();

    // hostile input to the embed page: an unknown action, a form post without the count consent
    expect((await fetch(`${platform.baseUrl}/embed/no-such-action`)).status).toBe(404);
    const bad = await fetch(`${platform.baseUrl}/embed/${PETITION.slug}?/sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: platform.baseUrl },
      body: new URLSearchParams({ firstName: 'A', lastName: 'B', email: unique('bad'), country: 'FR' }).toString(),
    });
    expect(bad.status).toBe(422);
    expect(await bad.text()).toContain('e-consentCount-error');

    const embed = await fetch(`${platform.baseUrl}/embed/${PETITION.slug}`);
    expect(embed.headers.get('content-security-policy')).toContain('frame-ancestors *');
    expect(embed.headers.get('x-frame-options')).toBeNull();
    expect(embed.headers.get('set-cookie')).toBeNull();
    const page2 = await fetch(`${platform.baseUrl}/actions/${PETITION.slug}`);
    expect(page2.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page2.headers.get('x-frame-options')).toBe('DENY');

    const a11y = await browser.newContext();
    const p = await a11y.newPage();
    await p.goto(`${platform.baseUrl}/es/embed/${PETITION.slug}`);
    await axe('embed page (es)', p);
    await a11y.close();
  });
});

describe('the Integrations console page', () => {
  it('creates a key whose secret is shown once and works, and lists it', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const { hostname } = new URL(platform.baseUrl);
    await context.addCookies([{ name: 'chorus_staff', value: staffCookie.split('=')[1]!, domain: hostname, path: '/' }]);
    const page = await context.newPage();
    const res = await page.goto(`${platform.baseUrl}/admin/integrations`);
    expect(res?.status()).toBe(200);
    const keyName = `Browser test key ${Date.now()}`;
    await page.locator('#k-name').fill(keyName);
    await page.locator('#k-scope-read_signatures').check();
    await Promise.all([page.waitForEvent('load'), page.locator('button', { hasText: 'Create key' }).click()]);
    const secret = ((await page.getByTestId('new-secret').textContent()) ?? '').trim();
    expect(secret).toMatch(/^chorus_[0-9a-f]{12}_/);
    const v1 = await fetch(`${platform.baseUrl}/api/v1/actions`, { headers: { authorization: `Bearer ${secret}` } });
    expect(v1.status).toBe(200);
    await page.goto(`${platform.baseUrl}/admin/integrations`);
    expect(await page.content()).not.toContain(secret);
    expect(await page.locator('td', { hasText: keyName }).count()).toBe(1);
    await context.close();

    const withJs = await browser.newContext();
    await withJs.addCookies([{ name: 'chorus_staff', value: staffCookie.split('=')[1]!, domain: hostname, path: '/' }]);
    const p = await withJs.newPage();
    await p.goto(`${platform.baseUrl}/admin/integrations`);
    await axe('console integrations', p);
    await withJs.close();
  });
});
