// The staff side of delivery, across real processes, in Chromium without JavaScript: a
// campaigner signs in, pauses an action's delivery (the batcher then makes nothing, even
// under an immediate policy), previews the next delivery, sends it now (exactly one letter
// reaches the official), an official answers, and the campaigner publishes the answer: the
// signer who opted in gets the email in Spanish, the one who did not gets nothing. Every
// page passes axe and loads nothing from elsewhere.
import { randomBytes } from 'node:crypto';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { packetToken } from '../../server/src/delivery/packet.service.ts';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { createStaff } from '../../server/src/staff/staff.service.ts';
import { createAction } from '../../server/src/testing/harness.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { seed } from '../../prisma/seed.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';

let platform: Platform;
let browser: Browser;
let db: Db;
const stamp = [...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
const staff = { email: `campaigner.${stamp}@chorus.example.org`, name: 'Campaigner', password: `long-enough-pass-${stamp}-2026`, role: 'CAMPAIGNER' as const };
const officialEmail = `official.${stamp}@gov.example`;
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  db = createDb(process.env.DATABASE_URL!, { max: 2 });
  await createStaff({ pool: db.pool, clock: () => new Date() }, null, staff);
  platform = await startPlatform();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await db?.pool.query(`UPDATE actions SET status = 'ARCHIVED', archived_at = now() WHERE campaign_id IN (SELECT id FROM campaigns WHERE slug = 'test-campaign') AND status <> 'ARCHIVED'`);
  await db?.close();
});

async function signAndConfirm(slug: string, who: { email: string; locale: string; contact: boolean }) {
  const res = await fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ firstName: 'Lucía', lastName: stamp, email: who.email, country: 'AR', consentCount: true, consentContact: who.contact, locale: who.locale }),
  });
  expect(res.status).toBe(202);
  // found by the blind index of the address; what the sign-up gave is stored sealed
  const rows = await openedSignatures(db.pool, `s.action_id = (SELECT id FROM actions WHERE slug = $1) AND p.email_index = $2`, [slug, indexOfEmail(who.email)]);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ email: who.email, pending_first_name: 'Lucía', pending_last_name: stamp });
  expectSignatureSealed(rows[0]!);
  const token = confirmationToken({ secret: process.env.SECRET_KEY!, clock: () => new Date(), confirmLinkTtlHours: 1 }, rows[0]!.id);
  expect((await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST' })).status).toBe(200);
}

async function submit(page: Page, name: string | RegExp) {
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name }).click()]);
}

const batches = async (actionId: string) =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery_batches WHERE action_id = $1`, [actionId])).rows[0]!.n;

describe('staff delivery console, in Chromium without JavaScript', () => {
  it('pause, preview, send now and publish an answer; each page passes axe', async () => {
    const fx = await createAction(db, { deliveryPolicy: 'ON_CLOSE', targets: [{ country: null, language: 'en', email: officialEmail }] });
    const title = `Title en ${fx.action.slug}`;
    const optedIn = { email: `lucia.${stamp}@example.org`, locale: 'es', contact: true };
    const quiet = { email: `quiet.${stamp}@example.org`, locale: 'en', contact: false };
    // the public cache learns of the new action within its refresh interval
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${platform.baseUrl}/api/actions/${fx.action.slug}`);
      if (r.ok) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await signAndConfirm(fx.action.slug, optedIn);
    await signAndConfirm(fx.action.slug, quiet);

    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const offsite: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(platform.baseUrl)) offsite.push(r.url());
    });

    // sign in
    await page.goto(`${platform.baseUrl}/admin/login`);
    await page.getByLabel('Email address').fill(staff.email);
    await page.getByLabel('Password').fill(staff.password);
    await submit(page, 'Sign in');
    expect(new URL(page.url()).pathname).toBe('/admin');

    // the deliveries list, through the navigation
    await Promise.all([page.waitForNavigation(), page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Deliveries' }).click()]);
    const row = page.getByRole('row', { name: new RegExp(title) });
    expect(await row.getByRole('cell').nth(2).textContent()).toBe('2');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: title }).click()]);
    expect(await page.locator('h1').textContent()).toBe(`Delivery: ${title}`);

    // pause, then make the policy immediate: the batcher still makes nothing
    await submit(page, 'Pause delivery');
    expect(await page.getByRole('status').textContent()).toContain('Delivery is paused.');
    await page.getByLabel('Delivery policy').selectOption('IMMEDIATE');
    await submit(page, 'Save policy');
    expect(await page.getByRole('status').textContent()).toContain('The policy is saved.');
    // its only official is an inter-governmental body: no warning about the time of letters
    expect(await page.locator('#timing-risk').count()).toBe(0);
    await new Promise((r) => setTimeout(r, 2_500)); // five batcher runs
    expect(await batches(fx.action.id)).toBe(0);

    // the preview of the next delivery, which writes nothing
    await submit(page, 'Preview the next delivery');
    const preview = page.locator('section[aria-labelledby="preview-result"]');
    expect(await preview.textContent()).toContain('2 new signatures, 2 in all.');
    const previewed = (await preview.locator('pre').textContent())!;
    expect(previewed).toContain('Dear Minister');
    expect(previewed).toContain('Request to officials en');
    expect(previewed).not.toMatch(/Summary en|Body en/);
    expect(await batches(fx.action.id)).toBe(0);

    // send now asks first (a page of its own, no JavaScript), and asking sends nothing
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Send now' }).click()]);
    expect(await page.locator('#send-now-confirm').textContent()).toContain('The 2 signatures owed go to the targets at once');
    expect(await batches(fx.action.id)).toBe(0);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Cancel' }).click()]);
    expect(await page.locator('#send-now-confirm').count()).toBe(0);
    expect(await batches(fx.action.id)).toBe(0);
    // then: one batch, one letter, exactly one message to the official
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Send now' }).click()]);
    await submit(page, 'Yes, send now');
    expect(await page.getByRole('status').textContent()).toContain('A delivery of 2 signatures was made: 1 letter is on its way.');
    expect(await batches(fx.action.id)).toBe(1);
    const mailbox = mailboxClient(platform.mailboxUrl);
    const letter = await mailbox.waitFor((m) => m.envelope.to.includes(officialEmail), { timeoutMs: 30_000 });
    // the letter sent is the letter previewed (but for the packet link, signed for the real letter)
    const strip = (text: string) => text.replace(/\/packet\/\S+/, '/packet/…').trim();
    expect(strip(letter.text)).toBe(strip(previewed));
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Send now' }).click()]);
    await submit(page, 'Yes, send now');
    expect(await page.getByRole('status').textContent()).toContain('Nothing is owed right now');
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await mailbox.list()).filter((m) => m.envelope.to.includes(officialEmail))).toHaveLength(1);
    await submit(page, 'Resume delivery');
    expect(await page.getByRole('status').textContent()).toContain('Delivery is running again.');
    // the ledger shows the letter accepted, with its Message-ID
    const ledgerText = async () => {
      await page.reload();
      return page.locator('table', { hasText: 'sent now by staff' }).textContent();
    };
    await expect.poll(ledgerText, { timeout: 15_000 }).toContain('Accepted');
    expect(await page.content()).toContain(letter.messageId!.replace(/[<>]/g, ''));
    // and what the delivery commits to: the root the letter carries, sealing both signatures
    const { rows: roots } = await db.pool.query<{ root: string }>(`SELECT encode(tree_root, 'hex') AS root FROM delivery_batches WHERE action_id = $1`, [fx.action.id]);
    expect(roots[0]!.root).toMatch(/^[0-9a-f]{64}$/);
    expect(letter.text).toContain(roots[0]!.root);
    expect(await page.locator('.batch-root').textContent()).toBe(`Fingerprint (Merkle root) sealing its 2 signatures with a receipt; delivery 1 of the action’s chain: ${roots[0]!.root}`);

    // the official answers on the packet page, without JavaScript, attaching a PDF
    const { rows: letters } = await db.pool.query<{ id: string }>(`SELECT l.id FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE b.action_id = $1`, [fx.action.id]);
    const token = packetToken(process.env.SECRET_KEY!, letters[0]!.id, new Date());
    const official = await browser.newContext({ javaScriptEnabled: false });
    const packetPage = await official.newPage();
    await packetPage.goto(`${platform.baseUrl}/packet/${token}`);
    // an empty answer is refused with its own words, next to the field
    await submit(packetPage, 'Send my answer');
    expect(await packetPage.locator('#answer-error').textContent()).toBe('Write your answer before sending it.');
    // an official may cite a document by its address: kept as text, in paragraphs
    await packetPage.getByLabel('Your answer').fill(`The ministry has opened inquiry ${stamp}.\n\nThe decision is at https://gob.example/decision-${stamp}.pdf\nand in the official journal.`);
    await packetPage.getByLabel('Attach documents (optional)').setInputFiles([{ name: 'decision.pdf', mimeType: 'application/pdf', buffer: PDF }]);
    await submit(packetPage, 'Send my answer');
    expect(await packetPage.locator('h1').textContent()).toBe('Thank you for your answer');
    // a file that is not what it says is refused, with the reason next to the field
    await packetPage.goto(`${platform.baseUrl}/packet/${token}`);
    await packetPage.getByLabel('Your answer').fill('Second answer');
    await packetPage.getByLabel('Attach documents (optional)').setInputFiles([{ name: 'page.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<html><script>alert(1)</script>') }]);
    await submit(packetPage, 'Send my answer');
    expect(await packetPage.locator('#answer-files-error').textContent()).toContain('PDF, PNG, JPEG or plain text');
    await official.close();

    // the campaigner publishes it with a public summary
    await Promise.all([page.waitForNavigation(), page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Answers' }).click()]);
    const article = page.locator('article', { hasText: `inquiry ${stamp}` });
    expect(await article.textContent()).toContain('Awaiting review');
    // the official's paragraphs and line breaks, as text: the address is no live link
    const paragraphs = article.locator('[data-testid=answer-body] p');
    expect(await paragraphs.count()).toBe(2);
    expect(await paragraphs.nth(0).textContent()).toBe(`The ministry has opened inquiry ${stamp}.`);
    expect(await paragraphs.nth(1).innerText()).toBe(`The decision is at https://gob.example/decision-${stamp}.pdf\nand in the official journal.`);
    expect(await paragraphs.nth(1).locator('br').count()).toBe(1);
    expect(await article.locator('a[href*="gob.example"]').count()).toBe(0);
    // the attachment, for staff: a download of exactly the bytes sent
    const href = await article.getByRole('link', { name: 'decision.pdf' }).getAttribute('href');
    const file = await page.request.get(`${platform.baseUrl}${href}`);
    expect(file.status()).toBe(200);
    expect(file.headers()['content-disposition']).toMatch(/^attachment; filename="decision.pdf"/);
    expect(file.headers()['x-content-type-options']).toBe('nosniff');
    expect(Buffer.from(await file.body()).equals(PDF)).toBe(true);
    await article.getByLabel('Public summary (optional)').fill(`An inquiry ${stamp} is open.`);
    // publishing emails signers and cannot be undone: it asks once more, with a box
    await Promise.all([page.waitForNavigation(), article.getByRole('button', { name: 'Publish and notify signers' }).click()]);
    expect(await page.getByRole('alert').textContent()).toContain('Tick the box to publish');
    expect((await db.pool.query(`SELECT status FROM answers WHERE action_id = $1`, [fx.action.id])).rows.map((r) => r.status)).not.toContain('PUBLISHED');
    const again = page.locator('article').filter({ hasText: `The ministry has opened inquiry ${stamp}.` });
    await again.getByLabel('Public summary (optional)').fill(`An inquiry ${stamp} is open.`);
    await again.getByLabel('I have read this answer: publish it on the action’s page and email the signers who asked to hear').check();
    await Promise.all([page.waitForNavigation(), again.getByRole('button', { name: 'Publish and notify signers' }).click()]);
    expect(await page.getByRole('status').textContent()).toContain('Published. 1 signer will be emailed.');

    const mail = await mailbox.waitFor((m) => m.envelope.to.includes(optedIn.email) && m.subject.startsWith('Una autoridad ha respondido'), { timeoutMs: 30_000 });
    expect(mail.text).toContain(`An inquiry ${stamp} is open.`);
    expect(mail.listUnsubscribe).toMatch(/\/api\/unsubscribe\//);
    await new Promise((r) => setTimeout(r, 1_500));
    const all = await mailbox.list();
    const answerMails = all.filter((m) => m.messageId?.startsWith('<answer.'));
    expect(answerMails.filter((m) => m.envelope.to.includes(optedIn.email))).toHaveLength(1);
    expect(answerMails.filter((m) => m.envelope.to.includes(quiet.email))).toEqual([]);
    // an acknowledgement of receipt from the same packet: staff are told it emails nobody, and it does not
    const acker = await browser.newContext({ javaScriptEnabled: false });
    const ackPage = await acker.newPage();
    await ackPage.goto(`${platform.baseUrl}/packet/${token}`);
    await submit(ackPage, 'Acknowledge receipt');
    expect(await ackPage.locator('h1').textContent()).toBe('Thank you');
    await acker.close();
    await page.goto(`${platform.baseUrl}/admin/answers`);
    const ack = page.locator('article', { hasText: 'Receipt of this letter is acknowledged.' });
    expect(await ack.textContent()).toContain('An acknowledgement of receipt, not an answer');
    await Promise.all([page.waitForNavigation(), ack.getByRole('button', { name: 'Publish (an acknowledgement of receipt emails nobody)' }).click()]);
    expect(await page.getByRole('status').textContent()).toContain('Published. No signer is waiting for an email.');
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await mailbox.list()).filter((m) => m.messageId?.startsWith('<answer.'))).toHaveLength(answerMails.length);
    // the public action page: the summary, the attached document, and the answer on the proof of delivery
    const publicPage = await context.newPage();
    const sectionText = async () => {
      await publicPage.goto(`${platform.baseUrl}/actions/${fx.action.slug}`);
      return (await publicPage.locator('section[aria-labelledby="answers-heading"]').textContent().catch(() => null)) ?? '';
    };
    await expect.poll(sectionText, { timeout: 20_000 }).toContain(`An inquiry ${stamp} is open.`);
    // the acknowledgement, labelled as one, without the mark staff see
    expect(await sectionText()).toContain('Acknowledgement of receipt: the official confirmed that the letter arrived.');
    expect(await sectionText()).not.toContain('[acknowledgement of receipt]');
    const publicFile = await publicPage.getByRole('link', { name: 'decision.pdf' }).getAttribute('href');
    const downloaded = await publicPage.request.get(`${platform.baseUrl}${publicFile}`);
    expect(downloaded.headers()['content-disposition']).toMatch(/^attachment;/);
    expect(Buffer.from(await downloaded.body()).equals(PDF)).toBe(true);
    expect(await publicPage.locator('section[aria-labelledby="ledger-heading"]').textContent()).toMatch(/Yes, after \d+ min/);
    expect(offsite).toEqual([]);
    const state = await context.storageState();
    await context.close();

    // axe runs inside the page, so it needs JavaScript: the same session in a second context
    const audit = await browser.newContext({ storageState: state });
    const auditPage = await audit.newPage();
    for (const path of ['/admin/deliveries', `/admin/deliveries/${fx.action.id}?preview=1`, `/admin/deliveries/${fx.action.id}?confirm=send`, '/admin/answers?status=all']) {
      const res = await auditPage.goto(`${platform.baseUrl}${path}`);
      expect(res!.status(), path).toBe(200);
      const axe = await new AxeBuilder({ page: auditPage }).withTags(AXE_TAGS).analyze();
      expect(axe.violations.map((v) => `${path} ${v.id}: ${v.nodes.map((n) => n.target).join(', ')}`)).toEqual([]);
    }
    await audit.close();
  }, 180_000);

  it('warns, in the console\'s language, that letters going out within seconds of a confirmation can point at a signer, where an official is a national one', async () => {
    const fx = await createAction(db, { deliveryPolicy: 'IMMEDIATE', targets: [{ country: null, language: 'en' }, { country: 'UZ', language: 'ru' }] });
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${platform.baseUrl}/admin/login`);
    await page.getByLabel('Email address').fill(staff.email);
    await page.getByLabel('Password').fill(staff.password);
    await submit(page, 'Sign in');
    await page.goto(`${platform.baseUrl}/admin/deliveries/${fx.action.id}`);
    const warning = page.locator('#timing-risk');
    expect(await warning.textContent()).toContain('the time a letter arrives can point at them: prefer a daily digest in office hours');
    // every confirmed signature makes a letter just the same
    await page.getByLabel('Delivery policy').selectOption('EVERY_N');
    await submit(page, 'Save policy');
    expect(await warning.count()).toBe(1);
    // a digest in office hours blurs the moment: no warning
    await page.getByLabel('Delivery policy').selectOption('DAILY_DIGEST');
    await submit(page, 'Save policy');
    expect(await page.getByRole('status').textContent()).toContain('The policy is saved.');
    expect(await warning.count()).toBe(0);
    // in the console's other languages (the staff member's choice, kept in a cookie)
    await page.getByLabel('Delivery policy').selectOption('IMMEDIATE');
    await submit(page, 'Save policy');
    await context.addCookies([{ name: 'chorus_console_locale', value: 'ru', url: platform.baseUrl }]);
    await page.goto(`${platform.baseUrl}/admin/deliveries/${fx.action.id}`);
    expect(await warning.textContent()).toContain('время прихода письма может указать на них');
    await context.close();
  }, 120_000);
});
