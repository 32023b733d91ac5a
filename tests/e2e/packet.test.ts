// The delivery packet across real processes: two members sign a seeded petition (one asks to
// be named to officials, one does not) and confirm through their emailed links; the letter
// reaches the UN Special Rapporteur with a packet link; the official opens the packet page in
// Chromium without JavaScript, sees only the consenting signer by name, downloads the CSV,
// answers, and the action page's proof of delivery shows the letter as opened.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { seed } from '../../prisma/seed.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { actions, targets } from '../../prisma/seed-data.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const ACTION = actions.find((a) => a.slug === 'uzbekistan-let-the-rapporteur-in')!;
const SR = targets.find((t) => t.email === 'sr-torture@un.example')!;

let platform: Platform;
let browser: Browser;
let pool: pg.Pool;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  // queues of their own: another platform on the same test Redis would otherwise take our jobs
  platform = await startPlatform();
  browser = await launchChromium();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
});

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await pool?.end();
});

/** A name no other run or test uses: letters only, as names allow. */
function uniqueWord(): string {
  return [...randomBytes(8)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
}

async function signAndConfirm(who: { first: string; last: string; email: string; named: boolean }) {
  const res = await fetch(`${platform.baseUrl}/api/actions/${ACTION.slug}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      firstName: who.first,
      lastName: who.last,
      email: who.email,
      country: 'CA',
      consentCount: true,
      consentNamed: who.named,
      locale: 'en',
    }),
  });
  expect(res.status).toBe(202);
  // the link the confirmation email carries (the email itself is tested in sign-to-delivery)
  const { rows } = await pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     WHERE a.slug = $1 AND p.email_index = $2`,
    [ACTION.slug, indexOfEmail(who.email)],
  );
  expect(rows).toHaveLength(1);
  const token = confirmationToken({ secret: process.env.SECRET_KEY!, clock: () => new Date(), confirmLinkTtlHours: 1 }, rows[0]!.id);
  const confirmed = await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST' });
  expect(confirmed.status).toBe(200);
}

describe('delivery packet, in a real browser across processes', () => {
  it('carries a packet link in the letter; the packet names only consenting signers, offers the CSV, takes an answer and shows up as opened', async () => {
    const stamp = uniqueWord();
    const named = { first: 'Ines', last: `Named${stamp}`, email: `ines.${stamp}@example.org`, named: true };
    const quiet = { first: 'Oleg', last: `Quiet${stamp}`, email: `oleg.${stamp}@example.org`, named: false };
    // both in one delivery: the batcher runs every 500 ms and could take one confirmation alone.
    // The demo sends this action's letters as a daily digest (its signers live under the
    // government it writes to): here they go at once, whatever the day and hour
    await pool.query(`UPDATE actions SET delivery_paused = true, delivery_policy = 'IMMEDIATE' WHERE slug = $1`, [ACTION.slug]);
    try {
      await Promise.all([signAndConfirm(named), signAndConfirm(quiet)]);
    } finally {
      await pool.query(`UPDATE actions SET delivery_paused = false WHERE slug = $1`, [ACTION.slug]);
    }

    const mailbox = mailboxClient(platform.mailboxUrl);
    const letter = await mailbox.waitFor((m) => m.envelope.to.includes(SR.email) && m.text.includes(`Ines ${named.last}`), { timeoutMs: 40_000 });
    expect(letter.text).not.toContain(quiet.last);
    expect(letter.text).toContain('The full delivery, with every signature it carries, is at:');
    const link = new RegExp(`${platform.baseUrl.replace(/[.]/g, '\\.')}/packet/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{32}`).exec(letter.text)?.[0];
    expect(link, 'the English letter links to the unprefixed packet page').toBeTruthy();

    // the official, without JavaScript
    const context = await browser.newContext({ javaScriptEnabled: false, acceptDownloads: true });
    const page = await context.newPage();
    const thirdParty: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(platform.baseUrl)) thirdParty.push(r.url());
    });
    const response = await page.goto(link!);
    expect(response!.status()).toBe(200);
    expect(response!.headers()['cache-control']).toContain('no-store');
    expect(response!.headers()['referrer-policy']).toBe('strict-origin');
    expect(await page.locator('meta[name="robots"]').getAttribute('content')).toBe('noindex');
    expect(await page.locator('meta[name="referrer"]').getAttribute('content')).toBe('strict-origin');
    expect(await page.locator('h1').textContent()).toBe('Letter delivery');
    const signers = page.getByRole('table');
    await expect.poll(() => signers.getByRole('cell', { name: `Ines ${named.last}` }).count()).toBe(1);
    expect(await page.content()).not.toContain(quiet.last);
    expect(await page.content()).not.toContain('@example.org');
    expect(await signers.getByRole('cell', { name: 'A signer' }).count()).toBeGreaterThanOrEqual(1);
    // what the letter asks of this official: its request, as the letter carried it
    const request = page.locator('section[aria-labelledby="request-heading"]');
    expect(await request.getByRole('heading', { name: 'What the letter asks of you' }).count()).toBe(1);
    expect(await request.textContent()).toContain(ACTION.texts.en!.officialRequest.slice(0, 60));
    expect(letter.text).toContain(ACTION.texts.en!.officialRequest.slice(0, 60));

    // the CSV, through the link on the page
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /CSV/ }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toBe('name,country,confirmed_at');
    expect(csv).toContain(`Ines ${named.last},CA,`);
    expect(csv).not.toContain(quiet.last);

    // an answer, then the thank-you
    await page.getByLabel('Your answer').fill(`We have received the petition ${stamp} and will study it.`);
    await page.getByRole('button', { name: 'Send my answer' }).click();
    await page.waitForLoadState();
    expect(await page.locator('h1').textContent()).toBe('Thank you for your answer');
    expect(thirdParty).toEqual([]);

    // a broken or expired packet link says so in the official's terms, not a confirmation link's
    for (const bad of [`${platform.baseUrl}/packet/not-a-token`, `${platform.baseUrl}/es/packet/${link!.split('/packet/')[1]!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`]) {
      const res = await page.goto(bad);
      expect(res!.status()).toBe(404);
      expect(await page.locator('h1').textContent()).toMatch(/This link does not work|Este enlace no funciona/);
      const text = (await page.locator('main').textContent())!;
      expect(text).toMatch(/letter delivery|entrega de cartas/);
      expect(text).not.toMatch(/confirmation|confirmación/i);
    }
    await context.close();

    // axe runs inside the page, so it needs JavaScript
    const audit = await browser.newContext();
    const auditPage = await audit.newPage();
    await auditPage.goto(link!);
    const axe = await new AxeBuilder({ page: auditPage }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
    expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);

    // the public proof of delivery: the letter, opened (the action cache refreshes every 2 s)
    const actionPage = await audit.newPage();
    const openedRow = actionPage.getByRole('table', { name: 'Letters delivered for this action' }).getByRole('row').filter({ hasText: SR.name }).filter({ hasText: 'Yes' });
    await expect
      .poll(
        async () => {
          await actionPage.goto(`${platform.baseUrl}/en/actions/${ACTION.slug}`);
          return openedRow.count();
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBeGreaterThanOrEqual(1);
    expect(await actionPage.getByRole('heading', { name: 'Proof of delivery' }).count()).toBe(1);
    const ledgerAxe = await new AxeBuilder({ page: actionPage }).include('section[aria-labelledby="ledger-heading"]').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
    expect(ledgerAxe.violations.map((v) => v.id)).toEqual([]);
    await audit.close();
  }, 180_000);
});
