// Promises 1, 2 and 4 on the real page: the confirmation page, opened from the emailed link
// in real Chromium on the running platform (server, workers, mailbox, PostgreSQL, Redis),
// shows exactly what a sign-up would confirm, and its "This was not me" button discards a
// forged one. Opening the link changes nothing; only a button does. Without JavaScript (a
// phone), and with it; every page reached is audited with axe-core.
import { AxeBuilder } from '@axe-core/playwright';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient, type MailboxMessage } from '../../server/src/mailbox/mailbox.client.ts';
import { seed } from '../../prisma/seed.ts';
import { actions } from '../../prisma/seed-data.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { CONSENT_RECORDS } from '../../server/src/testing/consent-records.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { expectSignatureSealed, sealedSupporter } from '../support/sealed-checks.ts';

const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const PETITION = actions.find((a) => a.slug === 'uzbekistan-let-the-rapporteur-in')!;
const LETTER = actions.find((a) => a.slug === 'mexico-independent-forensics')!;

let platform: Platform;
let browser: Browser;
let pool: pg.Pool;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  browser = await launchChromium();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await browser?.close();
  await platform?.stop();
});

const unique = (name: string) => `${name}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`;

async function signViaApi(slug: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ consentCount: true, ...body }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
}

function mailTo(email: string, has: string): Promise<MailboxMessage> {
  return mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes(email) && m.text.includes(has), { timeoutMs: 20_000 });
}

function confirmLink(mail: MailboxMessage): string {
  const origin = platform.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const link = new RegExp(`${origin}(?:/[a-z]{2})?/confirm/[A-Za-z0-9._~-]+`).exec(mail.text)?.[0];
  expect(link, `a confirmation link in "${mail.subject}"`).toBeTruthy();
  return link!;
}

/** The supporter of an address: the name opened from its sealed column, which holds none of it in clear. */
async function supporter(email: string) {
  const { rows } = await pool.query(
    `SELECT p.id, p.country,
            (SELECT c.granted FROM ${CONSENT_RECORDS} c WHERE c.supporter_id = p.id AND c.purpose = 'CONTACT' ORDER BY c.created_at DESC, c.id DESC LIMIT 1) AS contact
     FROM supporters p WHERE p.email_index = $1`,
    [indexOfEmail(email)],
  );
  const [row] = rows;
  if (!row) return undefined;
  const { id, country, contact } = row;
  const opened = (await sealedSupporter(pool, id))!;
  return { first_name: opened.first_name, last_name: opened.last_name, country, contact };
}

/** A sign-up with its pending name and letter opened from their sealed columns, which hold none of them in clear. */
async function signatureOn(slug: string, email: string) {
  const rows = await openedSignatures(pool, `s.action_id = (SELECT id FROM actions WHERE slug = $1) AND p.email_index = $2`, [slug, indexOfEmail(email)]);
  const [r] = rows;
  if (!r) return undefined;
  expectSignatureSealed(r);
  return { status: r.status, invalid_reason: r.invalid_reason, pending_first_name: r.pending_first_name, letter_body: r.letter_body };
}

/** The text of the <dd> after the <dt> with this label. */
async function detail(page: Page, label: string): Promise<string> {
  const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  return ((await page.locator('dt').filter({ hasText: exact }).locator('xpath=following-sibling::dd[1]').textContent()) ?? '').trim();
}

async function audit(label: string, page: Page): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect.soft(violations, `axe on ${label}`).toEqual([]);
}

/** axe needs JavaScript: the same address (GET changes nothing) in a context that has it. */
async function auditUrl(label: string, url: string): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  try {
    const page = await context.newPage();
    expect((await page.goto(url))?.status()).toBe(200);
    await audit(label, page);
  } finally {
    await context.close();
  }
}

describe('the confirmation page', () => {
  it('shows a forged sign-up exactly, changes nothing when opened, and "This was not me" discards it (no JavaScript)', async () => {
    // Ana signed before, as Ana López from Mexico, and agreed to hear from us
    const email = unique('ana');
    await signViaApi(PETITION.slug, { firstName: 'Ana', lastName: 'López', email, country: 'MX', consentContact: true });
    const own = await mailTo(email, '/confirm/');
    const token = confirmLink(own).split('/').at(-1)!;
    expect((await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    const before = await supporter(email);
    expect(before).toMatchObject({ first_name: 'Ana', country: 'MX', contact: true });

    // someone signs the letter with her address, in her name's place
    const letterBody = 'Words she never wrote.\n\nAnd a second paragraph of them.';
    await signViaApi(LETTER.slug, {
      firstName: 'Mallory',
      lastName: 'Forger',
      email,
      country: 'FR',
      consentNamed: true,
      consentWall: true,
      consentContact: false,
      letterSubject: 'A subject she never chose',
      letterBody,
    });
    const forged = await mailTo(email, 'Mallory Forger');
    const link = confirmLink(forged);

    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    try {
      const page = await context.newPage();
      expect((await page.goto(link))?.status()).toBe(200);
      expect(await page.locator('h1').textContent()).toBe('Confirm your signature');
      expect(await detail(page, 'Name')).toBe('Mallory Forger');
      expect(await detail(page, 'Country')).toBe('France');
      expect(await detail(page, 'Count my signature')).toBe('Yes');
      expect(await detail(page, 'Include my name in what officials receive')).toBe('Yes');
      expect(await detail(page, 'Also include my name for officials of my own country')).toBe('No');
      expect(await detail(page, 'Show my first name and country on the action’s page')).toBe('Yes');
      expect(await detail(page, 'Keep me informed by email')).toBe('No');
      expect(await page.locator('.letter-paper').textContent()).toContain('A subject she never chose');
      expect(await page.locator('.letter-text').textContent()).toBe(letterBody);
      // opening (and opening again) changed nothing
      await page.reload();
      expect(await signatureOn(LETTER.slug, email)).toMatchObject({ status: 'PENDING', pending_first_name: 'Mallory' });
      expect(await supporter(email)).toEqual(before);
      await auditUrl('confirm page (pending)', link);

      const loaded = page.waitForEvent('load');
      await page.getByRole('button', { name: 'This was not me' }).click();
      await loaded;
      expect(await page.locator('h1').textContent()).toBe('Sign-up discarded');
      expect(page.url()).toMatch(/\/confirm\/[A-Za-z0-9._~-]+$/);
      await auditUrl('confirm page (discarded)', link);
    } finally {
      await context.close();
    }
    expect(await signatureOn(LETTER.slug, email)).toEqual({ status: 'INVALIDATED', invalid_reason: 'not_me', pending_first_name: null, letter_body: null });
    expect(await supporter(email)).toEqual(before);
  });

  it('in Spanish, with JavaScript: the owner sees her own sign-up and confirms it, and only then is it hers', async () => {
    const email = unique('lucia');
    await signViaApi(PETITION.slug, { firstName: 'Lucía', lastName: 'Pérez', email, country: 'AR', locale: 'es', consentNamed: true });
    const mail = await mailTo(email, '/confirm/');
    expect(mail.text).toContain('Nombre: Lucía Pérez');
    expect(mail.text).toContain('País: Argentina');
    expect(mail.text).toContain('«No he sido yo»');
    const link = confirmLink(mail);
    expect(await supporter(email)).toMatchObject({ first_name: null, country: null });

    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const page = await context.newPage();
      await page.goto(link);
      expect(await page.locator('h1').textContent()).toBe('Confirma tu firma');
      expect(await detail(page, 'Nombre')).toBe('Lucía Pérez');
      expect(await detail(page, 'País')).toBe('Argentina');
      expect(await detail(page, 'Incluir mi nombre en lo que reciben las autoridades')).toBe('Sí');
      expect(await detail(page, 'Mantenerme informado/a por correo electrónico')).toBe('No');
      await expect.poll(() => page.getByRole('button', { name: 'No he sido yo' }).count()).toBe(1);
      await audit('confirm page (es, pending)', page);
      await Promise.all([page.waitForURL(/\/es\/actions\/[^/]+\/thanks\?confirmed=1$/), page.getByRole('button', { name: 'Confirmar mi firma' }).click()]);
    } finally {
      await context.close();
    }
    expect(await supporter(email)).toMatchObject({ first_name: 'Lucía', last_name: 'Pérez', country: 'AR', contact: false });
    expect(await signatureOn(PETITION.slug, email)).toMatchObject({ status: 'CONFIRMED', pending_first_name: null });
  });

  it('two sign-ups with her address wait side by side: each email shows its own; she confirms hers, the other link says she signed, and her data page holds nothing of the other (no JavaScript)', async () => {
    const email = unique('dora');
    await signViaApi(PETITION.slug, { firstName: 'Dora', lastName: 'Kim', email, country: 'KZ' });
    const hers = await mailTo(email, 'Name: Dora Kim');
    // someone else, with her address, after her
    await signViaApi(PETITION.slug, { firstName: 'Mallory', lastName: 'Forger', email, country: 'FR', consentNamed: true, consentWall: true });
    const forged = await mailTo(email, 'Name: Mallory Forger');
    expect(hers.text).not.toContain('Mallory');

    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      // the other email's page shows the other sign-up, and lists hers with a link of its own
      await page.goto(confirmLink(forged));
      expect(await detail(page, 'Name')).toBe('Mallory Forger');
      const others = page.getByRole('region', { name: 'Other sign-ups with your address for this action' });
      expect(await others.getByRole('link').count()).toBe(1);
      await auditUrl('confirm page listing another sign-up', confirmLink(forged));
      await Promise.all([page.waitForURL(/\/confirm\//), others.getByRole('link', { name: /^Dora Kim, Kazakhstan, signed / }).click()]);
      // her own page: her details, and the other sign-up listed in turn; she confirms hers
      expect(await detail(page, 'Name')).toBe('Dora Kim');
      expect(await detail(page, 'Country')).toBe('Kazakhstan');
      await Promise.all([page.waitForURL(/\/actions\/[^/]+\/thanks\?confirmed=1$/), page.getByRole('button', { name: 'Confirm my signature' }).click()]);
      // the other link now says she has signed, and offers nothing to press
      await page.goto(confirmLink(forged));
      expect(await page.locator('h1').textContent()).toBe('Your signature is already confirmed');
      expect(await page.getByRole('button').count()).toBe(0);

      // her data page: the confirmed signature with its choices; the other set aside, without
      // the country, letter or choices it claimed for her
      const asked = await fetch(`${platform.baseUrl}/api/my-data/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
      expect(asked.status).toBe(202);
      const link = /https?:\/\/[^\s]+\/my-data\/[A-Za-z0-9._~-]+/.exec((await mailTo(email, '/my-data/')).text)![0];
      await page.goto(link);
      const entries = page.locator('article.signature');
      expect(await entries.count()).toBe(2);
      const counted = entries.filter({ hasText: 'Confirmed' }).filter({ hasText: 'Kazakhstan' });
      const setAside = entries.filter({ hasText: 'Not counted' });
      expect(await counted.count()).toBe(1);
      expect(await counted.getByRole('button').count()).toBeGreaterThan(0);
      expect(await setAside.count()).toBe(1);
      expect(await setAside.textContent()).toContain('set aside when you confirmed another sign-up');
      expect(await setAside.textContent()).not.toMatch(/France|Mallory|shown on the action/);
      expect(await setAside.getByRole('button').count()).toBe(0);
      await auditUrl('my-data page with a set-aside sign-up', link);
    } finally {
      await context.close();
    }
    expect(await supporter(email)).toMatchObject({ first_name: 'Dora', last_name: 'Kim', country: 'KZ' });
  });
});
