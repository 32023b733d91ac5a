// One petition from its page to a delivered letter, across real processes: the server
// (API and pages), the workers, the development mailbox as SMTP server, PostgreSQL, Redis,
// and Debian's Chromium driven by playwright-core. Signs once with JavaScript disabled and
// once with it enabled, confirms through the emailed link, watches the counter move, and
// reads the letter delivered to the action's targets.
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient, type MailboxMessage } from '../../server/src/mailbox/mailbox.client.ts';
import { seed } from '../../prisma/seed.ts';
import { actions, targets } from '../../prisma/seed-data.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const ACTION = actions.find((a) => a.slug === 'philippines-enforce-anti-torture-law')!;
const TARGETS = ACTION.targetSlugs.map((s) => targets.find((t) => t.slug === s)!);
const TARGET_EMAILS = TARGETS.map((t) => t.email);

let platform: Platform;
const t0 = Date.now();
const step = (name: string) => process.env.E2E_TRACE && console.log(`[e2e] ${((Date.now() - t0) / 1000).toFixed(1)}s ${name}`);
let browser: Browser;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

async function countOnPage(page: Page): Promise<number> {
  const label = await page.locator('.progress-label').first().textContent();
  return Number((label ?? '').split(' of ')[0]!.replace(/[^\d]/g, ''));
}

async function signThroughTheBrowser(javaScriptEnabled: boolean, who: { first: string; last: string; email: string; country: string }) {
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const thirdParty: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(platform.baseUrl)) thirdParty.push(r.url());
  });

  await page.goto(`${platform.baseUrl}/`);
  expect(await page.locator('h1').count()).toBe(1);
  await page.getByRole('link', { name: ACTION.texts.en!.title }).click();
  await page.waitForURL(new RegExp(`/actions/${ACTION.slug}$`));
  expect(await page.locator('h1').textContent()).toContain(ACTION.texts.en!.title);
  const before = await countOnPage(page);
  step('before');

  await page.getByLabel('First name', { exact: true }).fill(who.first);
  await page.getByLabel('Last name', { exact: true }).fill(who.last);
  await page.getByLabel('Email address', { exact: true }).fill(who.email);
  await page.getByLabel('Country', { exact: true }).selectOption(who.country);
  await page.getByLabel('Count my signature (required)').check();
  await page.getByLabel('Include my name in what officials receive').check();
  await page.getByRole('button', { name: 'Sign the petition' }).click();
  await page.waitForURL(new RegExp(`/actions/${ACTION.slug}/check-email(#.*)?$`));
  step('check-email');
  expect(await page.locator('h1').textContent()).toMatch(/check your email/i);

  const mailbox = mailboxClient(platform.mailboxUrl);
  const mail: MailboxMessage = await mailbox.waitFor((m) => m.envelope.to.includes(who.email) && /confirm/i.test(m.subject), { timeoutMs: 20_000 });
  const link = /https?:\/\/\S+\/confirm\/[A-Za-z0-9._~-]+/.exec(mail.text)?.[0];
  expect(link).toBeTruthy();
  step('mail');

  // opening the link never confirms by itself (link scanners do this)
  await page.goto(link!);
  expect(await page.locator('h1').textContent()).toMatch(/confirm your signature/i);
  await page.getByRole('button', { name: 'Confirm my signature' }).click();
  await page.waitForURL(new RegExp(`/actions/${ACTION.slug}/thanks`));
  step('thanks');
  expect(await page.locator('h1').textContent()).toMatch(/thank you/i);

  // the counter moves within a couple of seconds (counts are folded and cached, not queried per request)
  let after = before;
  for (let i = 0; i < 40 && after <= before; i++) {
    await page.goto(`${platform.baseUrl}/en/actions/${ACTION.slug}`);
    after = await countOnPage(page);
    if (after <= before) await page.waitForTimeout(250);
  }
  expect(after).toBe(before + 1);
  step('counted');

  // axe runs inside the page, so it needs JavaScript even when the signer had none
  const audited = javaScriptEnabled ? page : await (await browser.newContext()).newPage();
  if (!javaScriptEnabled) await audited.goto(page.url());
  const axe = await new AxeBuilder({ page: audited }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);
  if (!javaScriptEnabled) await audited.context().close();
  expect(thirdParty).toEqual([]);
  await context.close();
  return after;
}

describe('sign to delivery, in a real browser across processes', () => {
  it('signs without JavaScript and with it, confirms by the emailed link, and delivers letters with the count', async () => {
    const stamp = Date.now();
    const noJs = { first: 'Maria', last: 'Santos', email: `maria.${stamp}@example.org`, country: 'CA' };
    const withJs = { first: 'Jonas', last: 'Berg', email: `jonas.${stamp}@example.org`, country: 'SE' };
    await signThroughTheBrowser(false, noJs);
    const total = await signThroughTheBrowser(true, withJs);

    // both targets get a letter naming the consenting signers and carrying the total count
    const mailbox = mailboxClient(platform.mailboxUrl);
    for (const target of TARGETS) {
      const to = target.email;
      const letter = await mailbox.waitFor(
        (m) => m.envelope.to.includes(to) && (m.text.includes('Jonas Berg') || false),
        { timeoutMs: 30_000 },
      );
      // in the official's own language where the petition has a text in it (the Department of Justice: Filipino)
      const texts = ACTION.texts[target.language] ?? ACTION.texts.en!;
      expect(letter.subject).toBe(texts.letterSubject ?? texts.title);
      // the petition's request to officials, and nothing of its page
      expect(letter.text).toContain(texts.officialRequest.slice(0, 60));
      expect(letter.text).not.toContain(texts.summary.slice(0, 40));
      expect(letter.text).not.toContain('Sign to ask');
      // the total is the public count: the signatures collected on paper included
      expect(letter.text).toContain(
        target.language === 'fil' ? `Sa kabuuan, ${total.toLocaleString('en')} tao na ang lumagda` : `In all, ${total.toLocaleString('en')} ${total === 1 ? 'person has' : 'people have'} signed so far.`,
      );
      expect(letter.messageId).toMatch(/^<letter\.[0-9a-f-]{36}@chorus\.example\.org>$/);
      expect(letter.headers['reply-to']).toContain('campaigns@chorus.example.org');
    }
    const delivered = (await mailbox.list()).filter((m) => TARGET_EMAILS.some((t) => m.envelope.to.includes(t)));
    const allText = (await Promise.all(delivered.map((m) => mailbox.get(m.id)))).map((m) => m!.text).join('\n');
    expect(allText).toContain('Maria Santos');
  }, 180_000);

  it('serves every member page without a third-party asset and with a strict Content-Security-Policy', async () => {
    const res = await fetch(`${platform.baseUrl}/en/actions/${ACTION.slug}`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="https?:\/\/(?!127\.0\.0\.1)/);
  });
});
