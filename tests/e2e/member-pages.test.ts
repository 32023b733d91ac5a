// The member pages in real Chromium with JavaScript disabled, on a phone-sized screen,
// against the running platform (server, workers, mailbox, PostgreSQL, Redis): writing a
// personalised letter with a per-official preview, signing and confirming in Spanish,
// unsubscribing by the emailed link, and "my data" from the request to erasure. Every page
// reached is audited with axe-core (WCAG 2.2 AA tags) and must load nothing from another
// origin. The weight of the home and action pages is printed as `[weight] ...`.
import { AxeBuilder } from '@axe-core/playwright';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient, type MailboxMessage } from '../../server/src/mailbox/mailbox.client.ts';
import { seed } from '../../prisma/seed.ts';
import { actions, targets } from '../../prisma/seed-data.ts';
import { launchChromium, submitWithoutJs as submit, wordsCut, watchOffsite } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';

const PHONE = { width: 390, height: 844 };
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const LETTER = actions.find((a) => a.slug === 'mexico-independent-forensics')!;
const LETTER_TARGETS = LETTER.targetSlugs.map((slug) => targets.find((t) => t.slug === slug)!);
const PETITION = actions.find((a) => a.slug === 'uzbekistan-let-the-rapporteur-in')!;
const OTHER_PETITION = actions.find((a) => a.slug === 'lawyers-and-doctors-in-detention')!;

let platform: Platform;
let browser: Browser;
/** every request a page made to another origin, with the page that made it */
const offsite: string[] = [];
/** every page audited, for the record */
const audited: string[] = [];

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  browser = await launchChromium();
});

afterAll(async () => {
  if (audited.length) console.log(`[axe] audited ${audited.length} pages: ${audited.join('; ')}`);
  await browser?.close();
  await platform?.stop();
});

const unique = (name: string) => `${name}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`;

const watch = (context: BrowserContext) => watchOffsite(context, platform.baseUrl, offsite);

/** A phone without JavaScript, as a signer may use it. */
async function phone(): Promise<{ context: BrowserContext; page: Page }> {
  const context = watch(await browser.newContext({ javaScriptEnabled: false, viewport: PHONE }));
  return { context, page: await context.newPage() };
}

async function runAxe(label: string, page: Page): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  audited.push(label);
  const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect.soft(violations, `axe on ${label}`).toEqual([]);
}

/** axe runs inside the page, so it needs JavaScript: the same address, in a context that has it. */
async function auditUrl(label: string, url: string, status = 200): Promise<void> {
  const context = watch(await browser.newContext({ viewport: PHONE }));
  try {
    const page = await context.newPage();
    const response = await page.goto(url);
    expect(response?.status(), `status of ${label}`).toBe(status);
    await runAxe(label, page);
  } finally {
    await context.close();
  }
}

/**
 * Pages that are the answer to a form post (a preview, errors, a confirmation) cannot be
 * reached again by their address: the exact HTML the JavaScript-less phone got is served at
 * the same address to a context with JavaScript (its style sheet comes from the platform).
 */
async function auditSnapshot(label: string, from: Page, check?: (page: Page) => Promise<void>): Promise<void> {
  const html = await from.content();
  const address = from.url().replace(/#.*$/, '');
  const context = watch(await browser.newContext({ viewport: PHONE }));
  try {
    const page = await context.newPage();
    await page.route(
      (url) => url.href === address,
      (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }),
    );
    await page.goto(address);
    await runAxe(label, page);
    await check?.(page);
  } finally {
    await context.close();
  }
}

async function h1(page: Page): Promise<string> {
  return ((await page.locator('h1').first().textContent()) ?? '').trim();
}

const mailbox = () => mailboxClient(platform.mailboxUrl);

async function mailTo(email: string, has: string, timeoutMs = 60_000): Promise<MailboxMessage> {
  return mailbox().waitFor((m) => m.envelope.to.includes(email) && m.text.includes(has), { timeoutMs });
}

/** A link of the platform in an email: `path` is a pattern for what follows the origin. */
function linkIn(mail: MailboxMessage, path: RegExp): string {
  const pattern = new RegExp(`${platform.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${path.source}`);
  const found = pattern.exec(mail.text)?.[0];
  expect(found, `a link matching ${path} in "${mail.subject}"`).toBeTruthy();
  return found!;
}

const CONFIRM_PATH = /(?:\/[a-z]{2})?\/confirm\/[A-Za-z0-9._~-]+/;
const UNSUBSCRIBE_PATH = /(?:\/[a-z]{2})?\/unsubscribe\/[A-Za-z0-9._~-]+/;
const MY_DATA_PATH = /(?:\/[a-z]{2})?\/my-data\/[A-Za-z0-9._~-]+/;

/** Signs through the JSON API (for tests about what comes after signing) and confirms by the emailed link. */
async function signAndConfirmViaApi(slug: string, body: Record<string, unknown>): Promise<MailboxMessage> {
  const res = await fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ consentCount: true, ...body }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const mail = await mailTo(String(body.email), '/confirm/');
  const token = linkIn(mail, CONFIRM_PATH).split('/').at(-1)!;
  const confirmed = await fetch(`${platform.baseUrl}/api/confirmations/${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(confirmed.status, await confirmed.clone().text()).toBe(200);
  return mail;
}

/** HTML and CSS bytes of one page, as the browser received them, in a fresh context (nothing cached). */
async function weigh(url: string): Promise<{ html: number; css: number; cards: number }> {
  const { context, page } = await phone();
  const sizes = { html: 0, css: 0 };
  const bodies: Promise<void>[] = [];
  page.on('response', (r) => {
    const type = r.request().resourceType();
    if (type !== 'document' && type !== 'stylesheet') return;
    bodies.push(
      r.body().then((b) => {
        sizes[type === 'document' ? 'html' : 'css'] += b.length;
      }),
    );
  });
  const response = await page.goto(url, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  await Promise.all(bodies);
  // the home page lists every published action, and the test database holds other tests' actions too
  const cards = await page.locator('.card').count();
  await context.close();
  return { ...sizes, cards };
}

describe('member pages without JavaScript on a phone', () => {
  it('writes a personalised letter, previews what each official receives, signs and confirms', async () => {
    const email = unique('lucia');
    const sentence = `I add my own words: forensic doctors must never answer to the prosecutors they examine (${Date.now()}).`;
    const api = (await (await fetch(`${platform.baseUrl}/api/actions/${LETTER.slug}?locale=en`)).json()) as {
      maxLetterLength: number;
      allowPersonalisation: boolean;
    };
    expect(api.allowPersonalisation).toBe(true);

    const { context, page } = await phone();
    const url = `${platform.baseUrl}/en/actions/${LETTER.slug}`;
    await page.goto(url);
    expect(await h1(page)).toContain(LETTER.texts.en!.title);
    await auditUrl('letter page', url);

    // the letter is editable, pre-filled with the action's text, with its limit in words and in the field
    const subject = page.getByLabel('Subject', { exact: true });
    const body = page.getByLabel('Text of the letter', { exact: true });
    expect(await subject.inputValue()).toBe(LETTER.texts.en!.letterSubject);
    expect(await body.inputValue()).toContain(LETTER.texts.en!.officialRequest.slice(0, 80));
    expect(await body.getAttribute('maxlength')).toBe(String(api.maxLetterLength));
    const limitHint = page.locator('#f-letterBody-hint');
    expect(await limitHint.textContent()).toContain(new Intl.NumberFormat('en').format(api.maxLetterLength));
    expect(await body.getAttribute('aria-describedby')).toContain('f-letterBody-hint');

    // the own-country choice: separate, unticked, with its warning tied to it
    const ownCountry = page.getByLabel('Also include my name for officials of my own country', { exact: true });
    expect(await ownCountry.isChecked()).toBe(false);
    const warningId = (await ownCountry.getAttribute('aria-describedby'))!;
    expect(warningId).toContain('f-consentNamedToOwnCountry-hint');
    expect(await page.locator(`#${warningId.split(' ')[0]}`).textContent()).toMatch(/officials/);

    await body.fill(`${LETTER.texts.en!.officialRequest}\n\n${sentence}`);
    await page.getByLabel('First name', { exact: true }).fill('Lucía');
    await page.getByLabel('Last name', { exact: true }).fill('Hernández');
    await page.getByLabel('Email address', { exact: true }).fill(email);
    await page.getByLabel('Country', { exact: true }).selectOption('CA');
    await page.getByLabel('Count my signature (required)', { exact: true }).check();
    await page.getByLabel('Include my name in what officials receive', { exact: true }).check();
    await page.getByLabel('Show my first name and country on this page', { exact: true }).check();

    // the preview: one block per official, with the greeting, the edited text and the signature, all in
    // English (the letter's language): the directory's salutation where the official reads English,
    // else "Dear" and their English title, never the salutation written in their language
    expect(await submit(page, page.getByRole('button', { name: 'Preview my letter' }))).toBe(200);
    expect(page.url()).toContain('?/preview');
    const previews = page.locator('.letter-preview');
    expect(await previews.count()).toBe(LETTER_TARGETS.length);
    for (const target of LETTER_TARGETS) {
      const block = previews.filter({ has: page.getByRole('heading', { name: `To: ${target.name}` }) });
      expect(await block.count(), `a preview for ${target.name}`).toBe(1);
      const text = (await block.locator('.letter-text').textContent()) ?? '';
      expect(text.trimStart().split('\n')[0]).toBe(target.language === 'en' ? `${target.salutation},` : `Dear ${target.title},`);
      if (target.language !== 'en') expect(text).not.toContain(target.salutation);
      expect(text).toContain(sentence);
      expect(text).toContain('Lucía Hernández');
    }
    // what was typed is kept
    expect(await body.inputValue()).toContain(sentence);
    expect(await page.getByLabel('First name', { exact: true }).inputValue()).toBe('Lucía');
    expect(await page.getByLabel('Show my first name and country on this page', { exact: true }).isChecked()).toBe(true);
    await auditSnapshot('letter page with a preview', page, async (withJs) => {
      // the letter keeps its line breaks, through the style sheet (no inline styles)
      type Styles = { getComputedStyle(el: unknown): { whiteSpace: string } };
      const styles = await withJs
        .locator('.letter-text')
        .evaluateAll((els) => els.map((el) => (globalThis as unknown as Styles).getComputedStyle(el).whiteSpace));
      expect(styles).toEqual(LETTER_TARGETS.map(() => 'pre-wrap'));
    });

    // signing sends the personalised text
    expect(await submit(page, page.getByRole('button', { name: 'Add my name' }))).toBe(200);
    expect(page.url()).toMatch(new RegExp(`/en/actions/${LETTER.slug}/check-email`));
    expect(await h1(page)).toBe('Check your email');
    await auditUrl('check-email page', page.url().replace(/#.*$/, ''));

    const mail = await mailTo(email, '/confirm/');
    const link = linkIn(mail, CONFIRM_PATH);
    await page.goto(link);
    expect(await h1(page)).toBe('Confirm your signature');
    await auditUrl('confirm page', link);
    expect(await submit(page, page.getByRole('button', { name: 'Confirm my signature' }))).toBe(200);
    expect(page.url()).toContain(`/actions/${LETTER.slug}/thanks`);
    expect(await h1(page)).toBe('Thank you, your signature is confirmed');
    await auditUrl('thanks page', page.url());

    // what was stored is the signer's own text (the subject was left as it was: it is the action's)
    const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    try {
      // the letter is stored sealed under the signer's data key: opened here, and not in the row in clear
      const rows = await openedSignatures(db, `p.email_index = $1 AND s.action_id = (SELECT id FROM actions WHERE slug = $2)`, [indexOfEmail(email), LETTER.slug]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.letter_body).toContain(sentence);
      expect(rows[0]!.named_to_own_country).toBe(false);
      expect(rows[0]!.email).toBe(email);
      expectSignatureSealed(rows[0]!);
      // the wall shows a signer from the day after they signed (promise 6): as if she had confirmed yesterday
      await db.query(`UPDATE signatures SET confirmed_at = confirmed_at - interval '1 day' WHERE id = $1`, [rows[0]!.id]);
    } finally {
      await db.end();
    }

    // the wall shows the signer who chose it, with the country's name
    let wall = '';
    for (let i = 0; i < 40 && !wall.includes('Lucía'); i++) {
      await page.goto(url);
      wall = (await page.locator('.wall').textContent().catch(() => null)) ?? '';
      if (!wall.includes('Lucía')) await page.waitForTimeout(250);
    }
    expect(wall).toContain('Lucía');
    expect(wall).toContain('Canada');
    // with the day only, in what is shown and in the markup
    const when = page.locator('.wall li', { hasText: 'Lucía' }).locator('time');
    expect(await when.getAttribute('datetime')).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(await page.getByRole('heading', { name: 'Recent signers' }).count()).toBe(1);

    await context.close();
    expect(offsite).toEqual([]);
  }, 400_000);

  it('shows the problems of a refused letter form next to their fields, with a summary', async () => {
    const { context, page } = await phone();
    await page.goto(`${platform.baseUrl}/en/actions/${LETTER.slug}`);
    await page.getByLabel('Text of the letter', { exact: true }).fill('Please read https://example.org before you decide.');
    await page.getByLabel('First name', { exact: true }).fill('Ada');
    await page.getByLabel('Last name', { exact: true }).fill('Byron');
    await page.getByLabel('Email address', { exact: true }).fill('not-an-email');
    await page.getByLabel('Country', { exact: true }).selectOption('GB');
    await page.getByLabel('Count my signature (required)', { exact: true }).check();
    await page.getByLabel('Also include my name for officials of my own country', { exact: true }).check();

    expect(await submit(page, page.getByRole('button', { name: 'Add my name' }))).toBe(422);
    expect(await page.title()).toMatch(/^Error: /);
    const summary = page.locator('.error-summary');
    expect(await summary.getAttribute('role')).toBe('alert');
    for (const field of ['letterBody', 'email', 'consentNamedToOwnCountry']) {
      expect(await summary.locator(`a[href="#f-${field}"]`).count(), `summary link to ${field}`).toBe(1);
      const input = page.locator(`#f-${field}`);
      expect(await input.getAttribute('aria-invalid')).toBe('true');
      expect(await input.getAttribute('aria-describedby')).toContain(`f-${field}-error`);
    }
    expect(await page.locator('#f-email-error').textContent()).toContain('Enter an email address in the correct format');
    expect(await page.locator('#f-letterBody-error').textContent()).toMatch(/links are not allowed/);
    expect(await page.getByLabel('First name', { exact: true }).inputValue()).toBe('Ada');
    await auditSnapshot('letter page with errors', page);

    await context.close();
    expect(offsite).toEqual([]);
  }, 300_000);

  it('works end to end in Spanish: page, confirmation email, confirm and thanks pages', async () => {
    const email = unique('sofia');
    const { context, page } = await phone();
    const url = `${platform.baseUrl}/es/actions/${PETITION.slug}`;
    await page.goto(url);
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await h1(page)).toBe(PETITION.texts.es!.title);
    await auditUrl('petition page (es)', url);

    await page.getByLabel('Nombre', { exact: true }).fill('Sofía');
    await page.getByLabel('Apellidos', { exact: true }).fill('Ramírez');
    await page.getByLabel('Correo electrónico', { exact: true }).fill(email);
    await page.getByLabel('País', { exact: true }).selectOption('AR');
    await page.getByLabel('Contar mi firma (obligatorio)', { exact: true }).check();
    // the choice to be shown on the page says, next to it, that names wait for moderation
    const wall = page.getByLabel('Mostrar mi nombre de pila y mi país en esta página', { exact: true });
    const wallHint = (await wall.getAttribute('aria-describedby')) ?? '';
    expect(wallHint).toBe('f-consentWall-hint');
    expect(await page.locator(`#${wallHint}`).textContent()).toContain('los nombres pasan por la moderación de nuestro equipo');
    await wall.check();
    expect(await submit(page, page.getByRole('button', { name: 'Firmar la petición' }))).toBe(200);
    expect(page.url()).toContain(`/es/actions/${PETITION.slug}/check-email`);
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await h1(page)).toBe('Revisa tu correo');

    const mail = await mailTo(email, '/confirm/');
    expect(mail.subject).toMatch(/^Confirma tu firma/);
    // no greeting by a stored name: the email shows what the sign-up would confirm
    expect(mail.text).toContain('Nombre: Sofía');
    const link = linkIn(mail, CONFIRM_PATH);
    await page.goto(link);
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await h1(page)).toBe('Confirma tu firma');
    await auditUrl('confirm page (es)', link);

    expect(await submit(page, page.getByRole('button', { name: 'Confirmar mi firma' }))).toBe(200);
    expect(page.url()).toContain(`/es/actions/${PETITION.slug}/thanks`);
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await h1(page)).toBe('Gracias, tu firma está confirmada');
    expect(await page.locator('.thanks-wall-note').textContent()).toContain('Todavía no aparecen: los nombres pasan por la moderación de nuestro equipo');
    await auditUrl('thanks page (es)', page.url());

    await context.close();
    expect(offsite).toEqual([]);
  }, 400_000);

  it('unsubscribes through the page the emailed link opens', async () => {
    const email = unique('unsub');
    const mail = await signAndConfirmViaApi(OTHER_PETITION.slug, {
      firstName: 'Noor',
      lastName: 'Haddad',
      email,
      country: 'JO',
      consentContact: true,
      locale: 'en',
    });
    const link = linkIn(mail, UNSUBSCRIBE_PATH);
    expect(link).not.toContain('/api/');

    const { context, page } = await phone();
    const before = await page.goto(link);
    expect(before?.status()).toBe(200);
    expect(await h1(page)).toBe('Emails from Chorus');
    expect(await page.locator('main').textContent()).toContain('This address is not unsubscribed: if you agreed to hear from us when you signed, we may send it news of our actions.');
    expect(await page.locator('meta[name="robots"]').getAttribute('content')).toBe('noindex');
    expect(await page.locator('meta[name="referrer"]').getAttribute('content')).toBe('strict-origin');
    await auditUrl('unsubscribe page (before)', link);

    expect(await submit(page, page.getByRole('button', { name: 'Stop sending me emails' }))).toBe(200);
    expect(await h1(page)).toBe('You are unsubscribed');
    const myData = page.getByRole('link', { name: 'See, change or erase the data we hold about you' });
    expect(await myData.getAttribute('href')).toBe('/en/my-data');
    await auditSnapshot('unsubscribe page (after)', page);

    // the link still opens, and says so
    await page.goto(link);
    expect(await page.locator('main').textContent()).toContain('This email address is already unsubscribed.');

    const invalid = `${platform.baseUrl}/en/unsubscribe/not-a-real-token`;
    expect((await page.goto(invalid))?.status()).toBe(404);
    expect(await h1(page)).toBe('This link does not work');
    expect(await page.locator('main').textContent()).toContain('This unsubscribe link is not valid');
    await auditUrl('invalid unsubscribe link page', invalid, 404);

    await context.close();
    expect(offsite).toEqual([]);
  }, 300_000);

  it('shows my data, downloads it, withdraws a consent and erases it', async () => {
    const email = unique('mydata');
    const sentence = `My personal paragraph for the record (${Date.now()}).`;
    const confirmationMail = await signAndConfirmViaApi(LETTER.slug, {
      firstName: 'Tomasz',
      lastName: 'Nowak',
      email,
      country: 'PL',
      consentNamed: true,
      consentWall: true,
      locale: 'en',
      letterSubject: LETTER.texts.en!.letterSubject,
      letterBody: `${LETTER.texts.en!.officialRequest}\n\n${sentence}`,
    });

    const { context, page } = await phone();
    const requestUrl = `${platform.baseUrl}/en/my-data`;
    await page.goto(requestUrl);
    expect(await h1(page)).toBe('Your data');
    await auditUrl('my-data request page', requestUrl);

    // a malformed address is refused on the page
    await page.getByLabel('Email address', { exact: true }).fill('nope');
    expect(await submit(page, page.getByRole('button', { name: 'Send me the link' }))).toBe(422);
    expect(await page.locator('#f-email').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.error-summary a[href="#f-email"]').count()).toBe(1);
    await auditSnapshot('my-data request page with an error', page);

    // an unknown address and a known one get the same answer
    await page.getByLabel('Email address', { exact: true }).fill(unique('nobody'));
    expect(await submit(page, page.getByRole('button', { name: 'Send me the link' }))).toBe(200);
    const unknownAnswer = await page.locator('main').textContent();
    await page.goto(requestUrl);
    await page.getByLabel('Email address', { exact: true }).fill(email);
    expect(await submit(page, page.getByRole('button', { name: 'Send me the link' }))).toBe(200);
    expect(page.url()).toBe(`${platform.baseUrl}/en/my-data/sent`);
    expect(await h1(page)).toBe('Check your email');
    expect(await page.locator('main').textContent()).toContain('If we hold data for this address, we have sent a link to it.');
    expect(await page.locator('main').textContent()).toBe(unknownAnswer);
    await auditUrl('my-data sent page', page.url());

    const mail = await mailTo(email, '/my-data/');
    const link = linkIn(mail, MY_DATA_PATH);
    const token = link.split('/').at(-1)!;

    // the data page: no Referer carries the token, not even to us
    const referers: Promise<string | null>[] = [];
    page.on('request', (r) => referers.push(r.headerValue('referer')));
    const response = await page.goto(link);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['cache-control']).toContain('no-store');
    expect(await page.locator('meta[name="robots"]').getAttribute('content')).toBe('noindex');
    expect(await page.locator('meta[name="referrer"]').getAttribute('content')).toBe('strict-origin');
    expect(await h1(page)).toBe('Your data');
    const main = page.locator('main');
    expect(await main.textContent()).toContain(email);
    const signature = page.locator('article.signature').filter({ has: page.getByRole('link', { name: LETTER.texts.en!.title }) });
    expect(await signature.count()).toBe(1);
    expect(await signature.getByRole('link', { name: LETTER.texts.en!.title }).getAttribute('href')).toBe(`/en/actions/${LETTER.slug}`);
    expect(await signature.textContent()).toContain('Confirmed');
    expect(await signature.locator('.letter-text').textContent()).toContain(sentence);
    await auditUrl('my-data page', link);

    // the download is the same data, as a file, from the same origin
    const href = await page.getByRole('link', { name: 'Download as JSON' }).getAttribute('href');
    expect(href).toBe(`/api/my-data/${token}?download=1`);
    const file = await page.request.get(new URL(href!, page.url()).href);
    expect(file.status()).toBe(200);
    expect(file.headers()['content-disposition']).toMatch(/^attachment/);
    const exported = (await file.json()) as {
      supporter: { email: string };
      signatures: { action: { slug: string }; letterBody: string | null; receipt: string | null; consents: { wall: boolean; namedToOwnCountry: boolean } }[];
    };
    expect(exported.supporter.email).toBe(email);
    const exportedSignature = exported.signatures.find((s) => s.action.slug === LETTER.slug)!;
    expect(exportedSignature.letterBody).toContain(sentence);
    // with the sign-up's receipt, as it is stored (sealed) with the signature
    const stored = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    let receipt = '';
    try {
      const [row] = await openedSignatures(stored, `p.email_index = $1 AND s.action_id = (SELECT id FROM actions WHERE slug = $2)`, [indexOfEmail(email), LETTER.slug]);
      expect(row!.receipt).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
      expect(exportedSignature.receipt).toBe(row!.receipt);
      receipt = row!.receipt!;
    } finally {
      await stored.end();
    }
    expect(exportedSignature.consents.wall).toBe(true);

    // withdrawing the wall consent: one button that says what it does; the page then shows the new state
    expect(await submit(page, signature.getByRole('button', { name: 'Stop showing my name on the page' }))).toBe(200);
    expect(await main.textContent()).toContain('Your choice has been saved.');
    const after = page.locator('article.signature').filter({ has: page.getByRole('link', { name: LETTER.texts.en!.title }) });
    expect(await after.textContent()).toContain('Your name is not shown on the action’s page.');
    expect(await after.getByRole('button', { name: 'Show my first name and country on the page' }).count()).toBe(1);
    const history = await page.locator('table', { has: page.getByRole('columnheader', { name: 'Wording version' }) }).textContent();
    expect(history).toContain('First name and country shown on the page');
    // each choice says where and when its words were shown, and the words: not a version's id
    expect(history).toContain('Signing form, wording of November 2026');
    expect(history).toContain('The words: “Show my first name and country on this page”');
    expect(history).toContain('This page, wording of November 2026');
    expect(history).toContain('The words: “Stop showing my name on the page”');
    expect(history).not.toMatch(/sign-20\d\d|self-service-20\d\d/);
    // every data table sits in a box of its own, named and reachable by the keyboard, and no word
    // that fits a line is cut, on a phone or a desktop
    const boxes = page.locator('.table-scroll');
    expect(await boxes.count()).toBeGreaterThanOrEqual(3);
    for (const box of await boxes.all()) {
      expect(await box.getAttribute('role')).toBe('region');
      expect(await box.getAttribute('tabindex')).toBe('0');
      expect(await page.locator(`#${await box.getAttribute('aria-labelledby')}`).count()).toBe(1);
      expect(await box.locator('table').count()).toBe(1);
    }
    for (const viewport of [PHONE, { width: 1280, height: 800 }]) {
      await page.setViewportSize(viewport);
      expect(await wordsCut(page, '.data-table'), `words cut at ${viewport.width} px`).toEqual([]);
    }
    await page.setViewportSize(PHONE);
    await auditSnapshot('my-data page after a change', page);
    const now = (await (await fetch(`${platform.baseUrl}/api/my-data/${token}`)).json()) as typeof exported;
    expect(now.signatures.find((s) => s.action.slug === LETTER.slug)!.consents.wall).toBe(false);

    // naming oneself to one's own government takes the button and a box saying what it can cost
    const ownButton = () => page.locator('article.signature').filter({ has: page.getByRole('link', { name: LETTER.texts.en!.title }) }).getByRole('button', { name: 'Also pass my name to officials of my own country' });
    expect(await submit(page, ownButton())).toBe(422);
    const ownBox = page.getByLabel('I understand that officials of my own country will see my name, and that this can put me or my family at risk');
    expect(await ownBox.getAttribute('aria-invalid')).toBe('true');
    expect(await main.textContent()).toContain('Tick the box to confirm that you understand, before your name is passed to officials of your own country');
    await auditSnapshot('my-data page with an own-country error', page);
    const notYet = (await (await fetch(`${platform.baseUrl}/api/my-data/${token}`)).json()) as typeof exported;
    expect(notYet.signatures.find((s) => s.action.slug === LETTER.slug)!.consents.namedToOwnCountry).toBe(false);
    await ownBox.check();
    expect(await submit(page, ownButton())).toBe(200);
    expect(await main.textContent()).toContain('Your name is also passed on to officials of your own country.');

    // erasing says what becomes of the receipt, and needs the box ticked
    expect(await page.locator('#erase').textContent()).toContain('Your receipt codes will keep working: they show only that a signature was counted, never whose it is.');
    expect(await page.locator('#erase').textContent()).toContain('Letters already delivered cannot be taken back: if you chose to be named, the officials who received them keep your name.');
    expect(await submit(page, page.getByRole('button', { name: 'Erase my data' }))).toBe(422);
    expect(await page.locator('#f-confirm-erase').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#f-confirm-erase-error').textContent()).toContain('Tick the box');
    await auditSnapshot('my-data page with an erase error', page);

    await page.getByLabel('I understand that my data will be erased and that this cannot be undone', { exact: true }).check();
    expect(await submit(page, page.getByRole('button', { name: 'Erase my data' }))).toBe(200);
    expect(page.url().replace(/#.*$/, '')).toBe(`${platform.baseUrl}/en/my-data/erased`);
    expect(await h1(page)).toBe('Your data has been erased');
    expect(await page.locator('main').textContent()).toContain('A receipt code you noted down still works');
    expect(await page.getByRole('link', { name: 'Check a receipt' }).getAttribute('href')).toBe('/en/verify');
    await auditUrl('erased page', page.url());
    // and it does: the signature is still counted, under its code, with nothing of whose it was
    const checked = await fetch(`${platform.baseUrl}/api/receipts/${receipt}`);
    expect(checked.status).toBe(200);
    const checkedText = await checked.text();
    const answer = JSON.parse(checkedText) as { code: string; status: string };
    expect(answer.code).toBe(receipt);
    expect(['confirmed', 'sending', 'delivered']).toContain(answer.status);
    expect(checkedText).not.toContain(email);

    // the link no longer opens anything
    expect((await page.goto(link))?.status()).toBe(404);
    expect(await h1(page)).toBe('This link does not work');
    expect(await page.locator('main').textContent()).toContain('This link to your data is not valid');
    await auditUrl('invalid my-data link page', link, 404);
    // nor does the confirmation link of the first email: it says why it may not, without saying whether
    expect((await page.goto(linkIn(confirmationMail, CONFIRM_PATH)))?.status()).toBe(404);
    expect(await h1(page)).toBe('This link does not work');
    expect(await page.locator('main').textContent()).toContain('If you asked us to erase your data, the links in our earlier emails no longer work.');

    const sent = (await Promise.all(referers)).filter((r): r is string => Boolean(r));
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((r) => r.includes(token))).toEqual([]);
    expect(platform.logs.join('')).not.toContain(token);
    await context.close();
    expect(offsite).toEqual([]);
  }, 400_000);

  it('shows an official\'s published answer on the action page', async () => {
    // answers come in through staff tools that do not exist yet: one is written straight into the database
    const answer = `We have received your letter and opened an inquiry (${Date.now()}).\n\nA second paragraph follows.`;
    const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO answers (action_id, target_id, status, body, published_at)
       SELECT a.id, t.id, 'PUBLISHED', $1, now() FROM actions a, targets t WHERE a.slug = $2 AND t.slug = 'iachr' RETURNING id`,
      [answer, OTHER_PETITION.slug],
    );
    try {
      const url = `${platform.baseUrl}/en/actions/${OTHER_PETITION.slug}`;
      const { context, page } = await phone();
      let section = '';
      for (let i = 0; i < 40 && !section.includes('opened an inquiry'); i++) {
        await page.goto(url);
        section = (await page.locator('section', { has: page.getByRole('heading', { name: 'Answers from officials' }) }).textContent().catch(() => null)) ?? '';
        if (!section.includes('opened an inquiry')) await page.waitForTimeout(250);
      }
      expect(section).toContain('Inter-American Commission on Human Rights');
      expect(section).toContain('A second paragraph follows.');
      await auditUrl('petition page with an answer', url);
      await context.close();
    } finally {
      await db.query('DELETE FROM answers WHERE id = ANY($1)', [rows.map((r) => r.id)]);
      await db.end();
    }
    expect(offsite).toEqual([]);
  }, 60_000);

  it('the check-email page says, in every language, that the email may come later but will come', async () => {
    // an address's confirmation emails are limited (SIGN_LIMIT_PER_EMAIL per 10 minutes): past it
    // a sign-up waits its turn instead of being dropped, and the page says so to everyone alike
    const notes = { en: 'may come later, but it will come', es: 'puede tardar más, pero llegará', fr: 'peut arriver plus tard, mais il arrivera', ru: 'может прийти позже, но оно придёт' };
    for (const [lang, note] of Object.entries(notes)) {
      for (const path of [`/${lang}/actions/${PETITION.slug}/check-email`, `/${lang}/embed/${PETITION.slug}/check-email`]) {
        const res = await fetch(`${platform.baseUrl}${path}`);
        expect(res.status, path).toBe(200);
        expect(await res.text(), path).toContain(note);
      }
    }
  });

  it('passes axe on the other member pages and loads nothing from elsewhere', async () => {
    await auditUrl('home (en)', `${platform.baseUrl}/en`);
    await auditUrl('home (ru)', `${platform.baseUrl}/ru`);
    await auditUrl('404 page', `${platform.baseUrl}/en/no-such-page`, 404);
    await auditUrl('invalid confirmation link page', `${platform.baseUrl}/en/confirm/not-a-real-token`, 404);

    // every page links to "my data" in its footer, with the page's language
    const { context, page } = await phone();
    await page.goto(`${platform.baseUrl}/ru`);
    expect(await page.locator('html').getAttribute('lang')).toBe('ru');
    expect(await page.locator('footer').getByRole('link', { name: 'Мои данные' }).getAttribute('href')).toBe('/ru/my-data');
    await context.close();
    expect(offsite).toEqual([]);
  }, 400_000);

  it('reports the weight of the home and action pages (HTML and CSS bytes)', async () => {
    const pages = {
      'home (en)': `${platform.baseUrl}/en`,
      'petition page (en)': `${platform.baseUrl}/en/actions/${OTHER_PETITION.slug}`,
      'letter page (en)': `${platform.baseUrl}/en/actions/${LETTER.slug}`,
    };
    for (const [name, url] of Object.entries(pages)) {
      const { html, css, cards } = await weigh(url);
      console.log(`[weight] ${name}: ${html + css} bytes (HTML ${html} + CSS ${css})${cards ? `, listing ${cards} actions` : ''}`);
      expect(html).toBeGreaterThan(0);
      expect(css).toBeGreaterThan(0);
    }
    expect(offsite).toEqual([]);
  }, 60_000);
});
