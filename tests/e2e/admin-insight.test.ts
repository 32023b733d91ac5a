// The staff console's dashboard, fraud and exports across real processes, in Chromium with
// JavaScript off: a campaigner signs in, watches an action's dashboard (chart and map drawn
// on the server), finds a burst of signatures from one email domain, sees the preview count,
// invalidates them, sees the public count corrected, and downloads a CSV export whose
// formula-like names are neutralised. Every page passes axe.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { createStaff } from '../../server/src/staff/staff.service.ts';
import { createAction } from '../../server/src/testing/harness.ts';
import { parseCsv } from '../../server/src/testing/csv.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

let platform: Platform;
let browser: Browser;
let db: Db;

beforeAll(async () => {
  platform = await startPlatform();
  browser = await launchChromium();
  db = createDb(process.env.DATABASE_URL!, { max: 2 });
});

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await db?.close();
});

const word = () => [...randomBytes(8)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

async function signAndConfirm(slug: string, who: { first: string; last: string; email: string; country: string; contact?: boolean }) {
  const res = await fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ firstName: who.first, lastName: who.last, email: who.email, country: who.country, consentCount: true, consentContact: who.contact ?? false, locale: 'en', source: 'e2e' }),
  });
  expect(res.status).toBe(202);
  const { rows } = await db.pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
      WHERE a.slug = $1 AND p.email_index = $2`,
    [slug, indexOfEmail(who.email)],
  );
  const token = confirmationToken({ secret: process.env.SECRET_KEY!, clock: () => new Date(), confirmLinkTtlHours: 1 }, rows[0]!.id);
  expect((await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST' })).status).toBe(200);
}

async function publicCount(slug: string): Promise<number> {
  const res = await fetch(`${platform.baseUrl}/api/actions/${slug}`);
  return ((await res.json()) as { count: number }).count;
}

/** axe on the page at `url`, in a JavaScript-enabled context carrying the same session. */
async function axe(context: BrowserContext, url: string) {
  const audit = await browser.newContext({ storageState: await context.storageState() });
  try {
    const page = await audit.newPage();
    await page.goto(url);
    const result = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
    expect(result.violations.map((v) => `${url} ${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);
  } finally {
    await audit.close();
  }
}

async function noThirdParty(page: Page): Promise<string[]> {
  const seen: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(platform.baseUrl)) seen.push(r.url());
  });
  return seen;
}

describe('staff console: dashboard, fraud, exports, in a real browser without JavaScript', () => {
  it('watches, cleans out a burst by email domain with a preview, and exports the CSV', async () => {
    const stamp = word();
    const { action } = await createAction(db, { targets: [{ country: 'UZ', language: 'en' }] });
    const title = `Title en ${action.slug}`;
    await expect.poll(async () => (await fetch(`${platform.baseUrl}/api/actions/${action.slug}`)).status, { timeout: 15_000 }).toBe(200);

    const password = `insight-${stamp}-passphrase`;
    const email = `campaigner.${stamp}@chorus.example.org`;
    await createStaff({ pool: db.pool, clock: () => new Date() }, null, { email, name: 'Camila Campaigner', role: 'CAMPAIGNER', password });

    const bad = `spam-${stamp}.example`;
    const real = [
      { first: '=HYPERLINK("http://x","y")', last: 'Real', email: `a.${stamp}@example.org`, country: 'MX', contact: true },
      { first: 'Luz', last: 'Real', email: `b.${stamp}@example.org`, country: 'MX', contact: true },
      { first: 'Ana', last: 'Real', email: `c.${stamp}@example.org`, country: 'PH' },
    ];
    // the burst ticked "contact me", as did two of the real signers
    const burst = Array.from({ length: 5 }, (_, i) => ({ first: 'Bot', last: `Number${i}`, email: `bot${i}.${stamp}@${bad}`, country: 'KZ', contact: true }));
    for (const who of [...real, ...burst]) await signAndConfirm(action.slug, who);
    await expect.poll(() => publicCount(action.slug), { timeout: 15_000 }).toBe(8);

    // sign in
    const context = await browser.newContext({ javaScriptEnabled: false, acceptDownloads: true });
    const page = await context.newPage();
    const thirdParty = await noThirdParty(page);
    await page.goto(`${platform.baseUrl}/admin/login`);
    await page.locator('#f-email').fill(email);
    await page.locator('#f-password').fill(password);
    await Promise.all([page.waitForURL(`${platform.baseUrl}/admin`), page.getByRole('button', { name: 'Sign in' }).click()]);

    // the overview lists the action with its counts; it refreshes itself once asked to
    expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(0);
    await Promise.all([page.waitForURL(/live=1/), page.getByTestId('live').click()]);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('10');
    const row = page.getByTestId('actions').getByRole('row').filter({ hasText: title });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.getByRole('cell').nth(3).textContent()).toBe('8');
    await axe(context, `${platform.baseUrl}/admin`);

    // the action's dashboard: chart, map and the country table
    await Promise.all([page.waitForURL(/\/admin\/dashboard\//), row.getByRole('link', { name: title }).click()]);
    expect(await page.locator('h1').textContent()).toContain(title);
    const chart = page.locator('figure.console-chart svg[role="img"]');
    expect(await chart.count()).toBe(1);
    expect(await chart.locator('rect').count()).toBeGreaterThan(0);
    // the axis counts signatures: whole numbers only
    const ticks = await chart.locator('text[text-anchor="end"]').allTextContents();
    expect(ticks.length).toBeGreaterThan(1);
    for (const tick of ticks) expect(tick).toMatch(/^\d+$/);
    const map = page.locator('figure.console-map svg[role="img"]');
    expect(await map.locator('path').count()).toBeGreaterThan(150);
    expect(await map.locator('path:has(title)').count()).toBe(3); // MX, PH, KZ are shaded and titled
    const countries = page.getByTestId('countries');
    expect(await countries.getByRole('row').filter({ hasText: 'Kazakhstan' }).getByRole('cell').nth(1).textContent()).toBe('5');
    expect(await page.getByTestId('public-count').textContent()).toBe('8');
    const dashboardUrl = page.url();
    await axe(context, dashboardUrl);

    // a viewer sees no country the public would not (each has fewer than PUBLIC_COUNTRY_MIN, 10,
    // signers here): the eight are counted together, and the map shades nothing
    const viewer = { email: `viewer.${stamp}@chorus.example.org`, password: `viewer-${stamp}-passphrase` };
    await createStaff({ pool: db.pool, clock: () => new Date() }, null, { ...viewer, name: 'Vera Viewer', role: 'VIEWER' });
    const viewerContext = await browser.newContext({ javaScriptEnabled: false });
    const viewerPage = await viewerContext.newPage();
    await viewerPage.goto(`${platform.baseUrl}/admin/login`);
    await viewerPage.locator('#f-email').fill(viewer.email);
    await viewerPage.locator('#f-password').fill(viewer.password);
    await Promise.all([viewerPage.waitForURL(`${platform.baseUrl}/admin`), viewerPage.getByRole('button', { name: 'Sign in' }).click()]);
    await viewerPage.goto(dashboardUrl);
    const seen = viewerPage.getByTestId('countries');
    for (const name of ['Kazakhstan', 'Mexico', 'Philippines']) expect(await seen.getByRole('row').filter({ hasText: name }).count()).toBe(0);
    expect(await viewerPage.getByTestId('below-minimum').textContent()).toMatch(/^Countries with fewer than 10 signers, together\s*8$/);
    expect(await viewerPage.locator('figure.console-map svg[role="img"] path:has(title)').count()).toBe(0);
    await axe(viewerContext, dashboardUrl);
    await viewerContext.close();
    await Promise.all([page.waitForURL(/live=1/), page.getByTestId('live').click()]);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('10');

    // fraud: find the burst by its email domain, see the count, invalidate
    await page.goto(`${platform.baseUrl}/admin/fraud?actionId=${action.id}`);
    await page.getByLabel('Email domain').fill(bad);
    await Promise.all([page.waitForURL(/emailDomain=/), page.getByRole('button', { name: 'Preview' }).click()]);
    expect(await page.getByTestId('preview-count').textContent()).toBe('5 signatures match');
    const sample = await page.getByTestId('sample').textContent();
    expect(sample).toContain(bad);
    expect(sample).not.toContain(`@${bad}`);
    expect(sample).not.toContain('Number0');
    await axe(context, page.url());
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Invalidate 5 signatures' }).click()]);
    expect(await page.getByTestId('invalidated').textContent()).toContain('5 signatures invalidated. 5 of them had been counted');
    expect(await page.getByTestId('preview-count').textContent()).toBe('0 signatures match');

    // the counts are corrected: public count and dashboard
    await expect.poll(() => publicCount(action.slug), { timeout: 5_000 }).toBe(3);
    await page.goto(dashboardUrl);
    expect(await page.getByTestId('public-count').textContent()).toBe('3');
    expect(await page.getByTestId('countries').getByRole('row').filter({ hasText: 'Kazakhstan' }).count()).toBe(0);

    // export: the count first, then the job, then the file
    await page.goto(`${platform.baseUrl}/admin/exports?kind=SIGNATURES&actionId=${action.id}`);
    await page.getByLabel('Include names and email addresses (signatures)').check();
    // every address, consent or not, is not a campaigner's choice
    expect(await page.getByLabel(/did not agree to be contacted/).count()).toBe(0);
    await Promise.all([page.waitForURL(/includePersonal=on/), page.getByRole('button', { name: 'Count rows' }).click()]);
    expect(await page.getByTestId('export-count').textContent()).toBe('8 rows will be exported');
    await axe(context, page.url());
    await Promise.all([page.waitForURL(/\/admin\/exports\/[0-9a-f-]{36}\?live=1$/), page.getByRole('button', { name: 'Start the export of 8 rows' }).click()]);
    await expect.poll(async () => {
      await page.reload();
      return page.getByTestId('export-status').textContent();
    }, { timeout: 20_000 }).toBe('ready');
    expect(await page.locator('progress').getAttribute('value')).toBe('8');
    // the filter in words, not JSON
    expect(await page.getByTestId('export-filter').textContent()).toBe(`Signatures · Action: ${title} · with names and email addresses (of those who agreed to be contacted)`);
    await axe(context, page.url());
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').click()]);
    expect(download.suggestedFilename()).toMatch(/^chorus-signatures-\d{4}-\d\d-\d\d-[0-9a-f]{8}\.csv$/);
    const csv = await readFile((await download.path())!, 'utf8');
    const rows = parseCsv(csv);
    expect(rows).toHaveLength(8);
    // an address leaves only with a contact consent (promise 10); one given with a signature found
    // to be fraud does not count
    expect(rows.filter((r) => r.status === 'INVALIDATED').map((r) => `${r.email}|${r.contact_consent}`)).toEqual(Array(5).fill('|no'));
    const consenting = rows.filter((r) => r.status !== 'INVALIDATED' && r.contact_consent === 'yes').map((r) => r.email);
    expect(consenting.sort()).toEqual([real[0]!.email, real[1]!.email].sort());
    for (const who of [real[2]!, ...burst]) expect(csv).not.toContain(who.email);
    expect(rows.filter((r) => r.status === 'INVALIDATED').every((r) => r.invalid_reason === 'fraud')).toBe(true);
    expect(rows.map((r) => r.first_name)).toContain(`'=HYPERLINK("http://x","y")`);
    for (const r of rows) for (const v of Object.values(r)) expect(v).not.toMatch(/^[=+\-@\t\r]/);

    expect(thirdParty).toEqual([]);
    await context.close();

    // the audit log (admins only) says it in words: who, what, which record, the details folded
    const adminEmail = `admin.${stamp}@example.org`;
    await createStaff({ pool: db.pool, clock: () => new Date() }, null, { email: adminEmail, name: 'Ada Admin', role: 'ADMIN', password });
    const adminContext = await browser.newContext({ javaScriptEnabled: false });
    const adminPage = await adminContext.newPage();
    await adminPage.goto(`${platform.baseUrl}/admin/login`);
    await adminPage.locator('#f-email').fill(adminEmail);
    await adminPage.locator('#f-password').fill(password);
    await Promise.all([adminPage.waitForURL(`${platform.baseUrl}/admin`), adminPage.getByRole('button', { name: 'Sign in' }).click()]);
    await adminPage.goto(`${platform.baseUrl}/admin/audit?entity=export`);
    const started = adminPage.getByRole('row').filter({ hasText: 'Camila Campaigner' }).filter({ hasText: 'started' }).first();
    expect(await started.textContent()).toContain('Export');
    expect(await started.locator('details pre').count()).toBeGreaterThan(0);
    expect(await started.locator('details').getAttribute('open')).toBeNull();
    await axe(adminContext, adminPage.url());
    await adminContext.close();
  }, 300_000);
});
