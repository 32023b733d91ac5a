// Counts anyone can verify, across real processes: three people sign and confirm (one through the
// confirmation email and its page, which give the receipt), the batcher delivers them in one delivery, and the letter in the mailbox, the packet page, the action's
// public proof of delivery and the API all show the same root. A signer checks their receipt on
// /verify in Chromium without JavaScript (a plain POST form, the code never in the address): counted, delivered on that day, and
// a proof the page recomputed itself. The page is axe-clean in all eight languages, empty, with
// an answer and with a refusal, loads nothing from elsewhere, and is never cached or indexed.
import { AxeBuilder } from '@axe-core/playwright';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { LOCALES } from '../../server/src/shared/locales.ts';
import { verifyInclusion } from '../../server/src/shared/merkle.ts';
import { receiptLeaf } from '../../server/src/signature/receipt.ts';
import { createAction, uniqueEmail } from '../../server/src/testing/harness.ts';
import { receiptOf } from '../../server/src/testing/receipts.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { launchChromium, submitWithoutJs, watchOffsite } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const PHONE = { width: 390, height: 844 };
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

let platform: Platform;
let browser: Browser;
let db: Db;
let pool: pg.Pool;
const offsite: string[] = [];
/** the action and a counted receipt of the first test, for the language tests after it */
let checked: { slug: string; code: string } | undefined;

beforeAll(async () => {
  db = createDb(process.env.DATABASE_URL!, { max: 2 });
  pool = db.pool;
  platform = await startPlatform();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await db?.close();
});

const watch = (context: BrowserContext) => watchOffsite(context, platform.baseUrl, offsite);

async function axe(label: string, url: string, status = 200): Promise<Page> {
  // axe runs inside the page, so it needs JavaScript: the same address, in a context that has it
  const context = watch(await browser.newContext({ viewport: PHONE }));
  const page = await context.newPage();
  const response = await page.goto(url);
  expect(response?.status(), `status of ${label}`).toBe(status);
  const result = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect.soft(violations, `axe on ${label}`).toEqual([]);
  return page;
}

async function signUp(slug: string, locale: string): Promise<{ id: string; email: string }> {
  const email = uniqueEmail('receipt');
  const res = await fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ firstName: 'Rosa', lastName: 'Receipt', email, country: 'CA', consentCount: true, locale }),
  });
  expect(res.status).toBe(202);
  const { rows } = await pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id WHERE a.slug = $1 AND p.email_index = $2`,
    [slug, indexOfEmail(email)],
  );
  return { id: rows[0]!.id, email };
}

/** Signs and confirms through the API (the emailed link's token, its button); answers the receipt code the signer was given. */
async function signAndConfirm(slug: string, locale: string): Promise<string> {
  const { id } = await signUp(slug, locale);
  const token = confirmationToken({ secret: process.env.SECRET_KEY!, clock: () => new Date(), confirmLinkTtlHours: 1 }, id);
  expect((await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST' })).status).toBe(200);
  return receiptOf(pool, id);
}

/**
 * Signs, then confirms as the signer does: the confirmation email (its link and the receipt it
 * gives), the page behind the link without JavaScript, its button, and the thanks page that shows
 * the receipt again. Answers the code, as the email and the page gave it.
 */
async function signAndConfirmInBrowser(slug: string): Promise<string> {
  const { email } = await signUp(slug, 'en');
  const mail = await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes(email), { timeoutMs: 40_000 });
  const code = /Your receipt, once you confirm: ([0-9A-Z]{5}(?:-[0-9A-Z]{5}){3})/.exec(mail.text)?.[1];
  expect(code, 'the confirmation email gives the receipt').toBeTruthy();
  const link = new RegExp(`${platform.baseUrl.replace(/[.]/g, '\\.')}/confirm/[A-Za-z0-9_.-]+`).exec(mail.text)?.[0];
  expect(link, 'the confirmation email links to the confirm page').toBeTruthy();
  const context = watch(await browser.newContext({ javaScriptEnabled: false }));
  try {
    const page = await context.newPage();
    await page.goto(link!);
    expect(await submitWithoutJs(page, page.getByRole('button', { name: 'Confirm my signature' }))).toBe(200);
    expect(await page.locator('[data-receipt]').first().getAttribute('data-receipt'), 'the confirmed page shows the same receipt').toBe(code);
  } finally {
    await context.close();
  }
  return code!;
}

describe('checking a receipt, in a real browser across processes', () => {
  it('shows the same root in the letter, the packet, the public ledger and the proof a signer checks on /verify without JavaScript', async () => {
    const fx = await createAction(db, { locales: [...LOCALES] });
    const target = fx.targets[0]!;
    // the three in one delivery: the batcher runs every 500 ms and could take one confirmation alone
    await pool.query(`UPDATE actions SET delivery_paused = true WHERE id = $1`, [fx.action.id]);
    const codes: string[] = [];
    try {
      codes.push(await signAndConfirm(fx.action.slug, 'es'));
      codes.push(await signAndConfirmInBrowser(fx.action.slug));
      codes.push(await signAndConfirm(fx.action.slug, 'ru'));
    } finally {
      await pool.query(`UPDATE actions SET delivery_paused = false WHERE id = $1`, [fx.action.id]);
    }

    const letter = await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes(target.email), { timeoutMs: 40_000 });
    const { rows } = await pool.query<{ root: string; leaf_count: number; signature_count: number }>(
      `SELECT encode(tree_root, 'hex') AS root, leaf_count, signature_count FROM delivery_batches WHERE action_id = $1`,
      [fx.action.id],
    );
    expect(rows).toHaveLength(1);
    const { root } = rows[0]!;
    expect(rows[0]).toMatchObject({ leaf_count: 3, signature_count: 3 });
    // the letter: how many, the root whole, where to check
    expect(letter.text).toContain('This letter belongs to a delivery whose 3 signatures with a receipt are sealed by the following fingerprint');
    expect(letter.text).toContain(`\n${root}\n`);
    expect(letter.text).toContain(`${platform.baseUrl}/verify`);

    // the packet page the letter links to, and its PDF's words
    const packetLink = new RegExp(`${platform.baseUrl.replace(/[.]/g, '\\.')}/packet/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{32}`).exec(letter.text)![0];
    const packet = (await (await fetch(packetLink.replace('/packet/', '/api/packets/'))).json()) as { receipts: unknown };
    expect(packet.receipts).toEqual({ root, count: 3, chain: { index: 1, root: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const official = await browser.newContext({ javaScriptEnabled: false });
    const packetPage = await official.newPage();
    await packetPage.goto(packetLink);
    expect(await packetPage.locator('section[aria-labelledby="receipts-heading"] code').textContent()).toBe(root);
    await official.close();

    // the action's public proof of delivery
    const action = (await (await fetch(`${platform.baseUrl}/api/actions/${fx.action.slug}`)).json()) as { ledger: { root: string }[] };
    expect(action.ledger.map((e) => e.root)).toEqual([root]);

    // a signer, on a phone without JavaScript: the empty form, their code typed carelessly
    const context = watch(await browser.newContext({ javaScriptEnabled: false, viewport: PHONE }));
    const page = await context.newPage();
    const empty = await page.goto(`${platform.baseUrl}/verify`);
    expect(empty!.status()).toBe(200);
    expect(empty!.headers()['cache-control']).toContain('no-store');
    expect(empty!.headers()['referrer-policy']).toBe('strict-origin');
    expect(empty!.headers()['x-robots-tag']).toBe('noindex');
    expect(await page.locator('h1').textContent()).toBe('Check your receipt');
    const mine = codes[1]!;
    await page.getByLabel('Receipt code').fill(` ${mine.toLowerCase().replace(/-/g, ' ')} `);
    expect(await submitWithoutJs(page, page.getByRole('button', { name: 'Check' }))).toBe(200);
    // posted: the code is not in the address, so not in the browser's history either
    expect(new URL(page.url()).pathname).toBe('/verify');
    expect(new URL(page.url()).search).toBe('');
    expect(page.url().toLowerCase()).not.toContain(mine.toLowerCase().slice(0, 5));
    // the code as written, back in the field; what became of it; the proof, checked by the page
    expect(await page.getByLabel('Receipt code').inputValue()).toBe(mine);
    const today = new Intl.DateTimeFormat('en', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' }).format(new Date());
    expect(await page.getByRole('status').textContent()).toBe(`This signature on “Title en ${fx.action.slug}” was counted and delivered to officials on ${today}.`);
    expect(await page.locator('.panel-success').textContent()).toContain('Checked: your receipt leads, step by step, to the fingerprint of this delivery, which seals its 3 signatures with a receipt.');
    const shown = await page.locator('.hashes code').allTextContents();
    expect(shown[0]).toBe(root);
    expect(shown[1]).toBe(receiptLeaf(mine).toString('hex'));
    // the steps on the page lead to the root, as anyone can recompute them
    const steps = await page.locator('table.proof tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.children[1]!.textContent!.trim(), tr.children[2]!.textContent!.trim()]));
    expect(steps.length).toBeGreaterThanOrEqual(1);
    const proof = steps.map(([side, hash]) => ({ side: side === 'left' ? ('left' as const) : ('right' as const), hash: Buffer.from(hash!, 'hex') }));
    expect(verifyInclusion(receiptLeaf(mine), proof, Buffer.from(root, 'hex'))).toBe(true);
    // nothing about the other two signers
    const html = await page.content();
    for (const other of [codes[0]!, codes[2]!]) {
      expect(html).not.toContain(other);
      expect(html).not.toContain(receiptLeaf(other).toString('hex'));
    }
    expect(html).not.toMatch(/Rosa|Receipt@|@example\.org/);

    // a code nobody holds, and one that cannot be a code: said next to the field, the typing kept
    await page.getByLabel('Receipt code').fill('7K2QX-9MD4R-PZ1WA-E6TNU');
    expect(await submitWithoutJs(page, page.getByRole('button', { name: 'Check' }))).toBe(400);
    expect(await page.locator('#f-code-error').textContent()).toBe('A receipt code has only the digits 0 to 9 and the letters A to Z, without U. Check what you typed.');
    expect(await page.getByLabel('Receipt code').inputValue()).toBe('7K2QX-9MD4R-PZ1WA-E6TNU');
    expect(await page.getByLabel('Receipt code').getAttribute('aria-invalid')).toBe('true');
    // well formed, held by nobody: 404, said the same way
    await page.getByLabel('Receipt code').fill('0000000000000000000A');
    expect(await submitWithoutJs(page, page.getByRole('button', { name: 'Check' }))).toBe(404);
    expect(await page.locator('#f-code-error').textContent()).toBe('No signature has this receipt code. Check that you typed it as it was given to you.');
    await context.close();

    // hostile posts, as a script would send them: a clear refusal, never a 500
    const form = 'application/x-www-form-urlencoded';
    for (const [body, type] of [
      ['', form],
      ['code=', form],
      [`code=${'Z'.repeat(100_000)}`, form],
      ['code=%00%3Cscript%3E', form],
      ['code=a&code=b', form],
      ['nothing=here', form],
      ['--x\r\nContent-Disposition: form-data; name="code"\r\n\r\nunterminated', 'multipart/form-data; boundary=x'],
    ] as const) {
      const r = await fetch(`${platform.baseUrl}/verify`, { method: 'POST', headers: { origin: platform.baseUrl, 'content-type': type, accept: 'text/html' }, body });
      expect(r.status, body.slice(0, 30)).toBe(400);
      expect(await r.text()).toContain('id="f-code-error"');
    }
    // the API through the running server (pages behind it): a code past the router's longest
    // segment is the API's JSON 414, a path no API route has its JSON 404, never a page
    const huge = await fetch(`${platform.baseUrl}/api/receipts/${'Z'.repeat(5000)}`);
    expect(huge.status).toBe(414);
    expect(await huge.json()).toMatchObject({ statusCode: 414, error: 'URI Too Long', code: 'bad_request' });
    const nowhere = await fetch(`${platform.baseUrl}/api/receipt/${mine}`);
    expect(nowhere.status).toBe(404);
    expect(nowhere.headers.get('content-type')).toContain('application/json');
    expect(await nowhere.json()).toMatchObject({ statusCode: 404, code: 'not_found' });
    // a form action sent as JSON is refused (415) without a stack trace in the server's log
    const logged = platform.logs.join('').length;
    const asJson = await fetch(`${platform.baseUrl}/verify`, { method: 'POST', headers: { origin: platform.baseUrl, 'content-type': 'application/json' }, body: '{"code":"7K2QX-9MD4R-PZ1WA-E6TNB"}' });
    expect(asJson.status).toBe(415);
    await new Promise((r) => setTimeout(r, 200));
    expect(platform.logs.join('').slice(logged)).not.toMatch(/unexpected error|SvelteKitError/);

    // the action page's proof of delivery, with the fingerprint column
    const actionPage = await axe('action page with its ledger', `${platform.baseUrl}/actions/${fx.action.slug}`);
    expect(await actionPage.locator('.ledger code').first().textContent()).toBe(root);
    await actionPage.context().close();
    expect(offsite).toEqual([]);
    checked = { slug: fx.action.slug, code: mine };
  }, 300_000);

  // every language: the empty form, the answer, a refusal; right to left in Arabic. Each
  // language is a test of its own: axe in Chromium takes seconds a page on a slow machine
  it.each([...LOCALES])('passes axe on /verify in %s: empty, answered and refused', async (locale) => {
    expect(checked, 'the test above gave a counted receipt to check').toBeDefined();
    const { slug, code: mine } = checked!;
    const prefix = locale === 'en' ? '' : `/${locale}`;
    await (await axe(`${locale} verify`, `${platform.baseUrl}${prefix}/verify`)).context().close();
    const answered = await axe(`${locale} verify, answered`, `${platform.baseUrl}${prefix}/verify?code=${encodeURIComponent(mine)}`);
    expect(await answered.locator('html').getAttribute('lang')).toBe(locale);
    expect(await answered.locator('html').getAttribute('dir')).toBe(locale === 'ar' ? 'rtl' : 'ltr');
    expect(await answered.getByRole('status').textContent()).toContain(`Title ${locale} ${slug}`);
    expect(await answered.locator('.panel-success').count()).toBe(1);
    await answered.context().close();
    // one refusal audited by axe (they share one layout); each refusal's page read as served
    // refused, as a link: the same page, with the form's status
    const refused = await axe(`${locale} verify, unknown`, `${platform.baseUrl}${prefix}/verify?code=0000000000000000000A`, 404);
    expect(await refused.locator('#f-code-error').count()).toBe(1);
    expect(await refused.locator('.error-summary').count()).toBe(1);
    await refused.context().close();
    for (const [label, code, status] of [
      ['too short', 'ABC', 400],
      ['unknown', '0000000000000000000A', 404],
      ['hostile', '<script>alert(1)</script>\u0000', 400],
      ['huge', 'Z'.repeat(5000), 400],
    ] as const) {
      const res = await fetch(`${platform.baseUrl}${prefix}/verify?code=${encodeURIComponent(code)}`);
      expect(res.status, `${locale} ${label}`).toBe(status);
      const html = await res.text();
      expect(html.match(/id="f-code-error"/g), `${locale} ${label}`).toHaveLength(1);
      expect(html.match(/class="error-summary/g), `${locale} ${label}`).toHaveLength(1);
      expect(html).not.toContain('<script>alert(1)');
    }
    expect(offsite).toEqual([]);
  }, 120_000);
});
