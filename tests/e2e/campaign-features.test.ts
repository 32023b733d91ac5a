// The campaign's own needs, in real Chromium against the running platform: the priority
// countries' languages and a right-to-left one (Arabic pages mirrored, at phone and desktop
// size, axe clean, nothing wider than the screen), answers owed by a date on the public page and
// in the console (late targets first), and staff setting thresholds and publishing a case update
// in the console, which the signer who opted in receives by email in their own language.
import { AxeBuilder } from '@axe-core/playwright';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { DEMO_ADMIN, DEMO_DIGEST_ACTION, DEMO_PAPER_ACTION, seed } from '../../prisma/seed.ts';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actions } from '../../prisma/seed-data.ts';
import { launchChromium, watchOffsite } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const UZBEKISTAN = actions.find((a) => a.slug === 'uzbekistan-let-the-rapporteur-in')!;

let platform: Platform;
let browser: Browser;
let pool: pg.Pool;
const offsite: string[] = [];

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  platform = await startPlatform();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  expect(offsite, 'requests to other origins').toEqual([]);
  await browser?.close();
  await platform?.stop();
  await pool?.end();
});

const watch = (context: BrowserContext) => watchOffsite(context, platform.baseUrl, offsite);

async function axe(label: string, page: Page): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
  const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect.soft(violations, `axe on ${label}`).toEqual([]);
}

describe('right to left: the Arabic pages', { timeout: 120_000 }, () => {
  for (const [size, viewport] of [
    ['phone', PHONE],
    ['desktop', DESKTOP],
  ] as const) {
    it(`are mirrored, accessible and no wider than the screen on a ${size}`, async () => {
      const context = watch(await browser.newContext({ viewport, locale: 'ar' }));
      try {
        const page = await context.newPage();
        for (const path of ['/ar/', `/ar/actions/${DEMO_DIGEST_ACTION}`, `/ar/actions/${UZBEKISTAN.slug}`, '/ar/my-data']) {
          const res = await page.goto(`${platform.baseUrl}${path}`);
          expect(res?.status(), path).toBe(200);
          const layout = await page.evaluate(`({
            dir: document.documentElement.dir,
            lang: document.documentElement.lang,
            direction: getComputedStyle(document.body).direction,
            wider: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          })`);
          expect(layout, path).toEqual({ dir: 'rtl', lang: 'ar', direction: 'rtl', wider: 0 });
          await axe(`${path} (${size})`, page);
        }
        // the answers owed list is drawn from the start side: its rule on the right in Arabic
        await page.goto(`${platform.baseUrl}/ar/actions/${DEMO_DIGEST_ACTION}`);
        const rule = await page.evaluate(`(() => {
          const s = getComputedStyle(document.querySelector('.threshold-target'));
          return { right: s.borderRightWidth, left: s.borderLeftWidth };
        })()`);
        expect(rule).toEqual({ right: '4px', left: '0px' });
        // the English page keeps it on the left
        await page.goto(`${platform.baseUrl}/en/actions/${DEMO_DIGEST_ACTION}`);
        const ltr = await page.evaluate(`getComputedStyle(document.querySelector('.threshold-target')).borderLeftWidth`);
        expect(ltr).toBe('4px');
      } finally {
        await context.close();
      }
    });
  }

  it('serves the priority countries’ actions in their own languages', async () => {
    const context = watch(await browser.newContext({ viewport: PHONE, javaScriptEnabled: false }));
    try {
      const page = await context.newPage();
      for (const [locale, slug] of [
        ['uz', 'uzbekistan-let-the-rapporteur-in'],
        ['kk', 'kazakhstan-independent-investigations'],
        ['fil', 'philippines-enforce-anti-torture-law'],
      ] as const) {
        const action = actions.find((a) => a.slug === slug)!;
        expect(await (await page.goto(`${platform.baseUrl}/${locale}/actions/${slug}`))?.status()).toBe(200);
        const h1 = page.locator('h1');
        expect((await h1.textContent())?.trim()).toBe(action.texts[locale]!.title);
        // in the page's language: no other `lang` on the title
        expect(await h1.getAttribute('lang')).toBeNull();
        expect(await page.locator('html').getAttribute('lang')).toBe(locale);
      }
      // a browser asking for Tagalog gets Filipino
      const res = await fetch(`${platform.baseUrl}/`, { headers: { 'accept-language': 'tl-PH,tl;q=0.9' }, redirect: 'manual' });
      expect(await res.text()).toContain('<html lang="fil"');
    } finally {
      await context.close();
    }
  });
});

describe('answers owed by a date', { timeout: 180_000 }, () => {
  it('seeds a demo whose deliveries, answers and notices all lie in the past, whatever day of the week it starts on', async () => {
    const future = await pool.query<{ what: string; n: number }>(
      `SELECT 'letters' AS what, count(*)::int AS n FROM letters WHERE sent_at > now() OR opened_at > now()
       UNION ALL SELECT 'answers', count(*)::int FROM answers WHERE received_at > now() OR published_at > now() OR reviewed_at > now()
       UNION ALL SELECT 'batches', count(*)::int FROM delivery_batches WHERE created_at > now()
       UNION ALL SELECT 'confirmed before made', count(*)::int FROM signatures WHERE confirmed_at < created_at
       UNION ALL SELECT 'notices', count(*)::int FROM member_notices WHERE sent_at > now()`,
    );
    expect(Object.fromEntries(future.rows.map((r) => [r.what, r.n]))).toEqual({ letters: 0, answers: 0, batches: 0, 'confirmed before made': 0, notices: 0 });
  });

  it('shows, on the public page, who answered by the date and who is late', async () => {
    const context = watch(await browser.newContext({ viewport: PHONE, javaScriptEnabled: false }));
    try {
      const page = await context.newPage();
      await page.goto(`${platform.baseUrl}/en/actions/${DEMO_DIGEST_ACTION}`);
      const section = page.locator('section.thresholds');
      const text = await section.innerText();
      expect(text).toContain('At 3 signatures');
      expect(text).toContain('At 1,000 signatures');
      expect(text).toMatch(/\d+ more signatures to go\./);
      // the UN Special Rapporteur answered (the published summary); the EEAS only acknowledged receipt,
      // which stops no clock: it is late with the two others
      expect(await section.locator('[data-state="answered"]').count()).toBe(1);
      expect(text).toContain('The Special Rapporteur has taken note of the concerns');
      expect(await section.locator('[data-state="overdue"]').count()).toBe(3);
      expect(text).toMatch(/Late by \d+ days?: asked on/);
      // the API says the same
      const api = (await (await fetch(`${platform.baseUrl}/api/actions/${DEMO_DIGEST_ACTION}?locale=en`)).json()) as { thresholds: { count: number; reachedAt: string | null; targets: { state: string }[] }[]; ledger: { count: number | null }[] };
      expect(api.thresholds.map((t: { count: number; reachedAt: string | null }) => [t.count, t.reachedAt !== null])).toEqual([
        [3, true],
        [1000, false],
      ]);
      expect(api.thresholds[0]!.targets.map((q: { state: string }) => q.state).sort()).toEqual(['answered', 'overdue', 'overdue', 'overdue']);
      // the ledger of deliveries does not list the formal requests: they are shown with their threshold
      expect(api.ledger.every((e: { count: number | null }) => e.count !== 0)).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('tells the signers who opted in that an official let the date pass, in their language', async () => {
    // the workers look at the clock every 10 s: the demo's two late officials are found on the first look
    const mail = await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes('demo.amina@example.org') && m.subject.startsWith('Sans réponse'), {
      timeoutMs: 60_000,
    });
    expect(mail.text).toMatch(/réponse|répondu/i);
    expect(mail.text).toContain('/fr/actions/lawyers-and-doctors-in-detention');
    expect(mail.text).toContain('/fr/unsubscribe/');
    // one email naming every late office, not one email each
    expect(mail.text.split('\n').filter((l) => l.startsWith('- ')).length).toBeGreaterThanOrEqual(2);
    const late = (await mailboxClient(platform.mailboxUrl).list({ to: 'demo.amina@example.org' })).filter((m) => m.subject.startsWith('Sans réponse'));
    expect(late).toHaveLength(1);
    // the demo's case update reached her too, in French
    await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes('demo.amina@example.org') && m.subject.startsWith('Vos lettres ont été lues'), { timeoutMs: 60_000 });
    // nobody who did not opt in is told
    const oleg = await mailboxClient(platform.mailboxUrl).list({ to: 'demo.oleg@example.org' });
    expect(oleg).toEqual([]);
  });

  it('lets staff set thresholds and see late targets first in the console', async () => {
    const context = watch(await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false }));
    try {
      const page = await context.newPage();
      await page.goto(`${platform.baseUrl}/admin/login`);
      await page.fill('#f-email', DEMO_ADMIN.email);
      await page.fill('#f-password', DEMO_ADMIN.password);
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      await page.goto(`${platform.baseUrl}/admin/answers`);
      const firstRow = page.locator('section[aria-labelledby="owed-heading"] tbody tr').first();
      expect(await firstRow.getAttribute('data-state')).toBe('overdue');
      expect(await firstRow.innerText()).toMatch(/Late by|Less than a day late/);

      const { rows } = await pool.query<{ id: string }>(`SELECT id FROM actions WHERE slug = $1`, [UZBEKISTAN.slug]);
      await page.goto(`${platform.baseUrl}/admin/actions/${rows[0]!.id}`);
      // a mistake first: the form says what is wrong, nothing is stored
      await page.fill('#f-counts', '10, ten');
      await page.fill('#f-respondWithinDays', '30');
      await Promise.all([page.waitForNavigation(), page.click('form[action="?/thresholds"] button[type=submit]')]);
      expect(await page.locator('.error-summary, [role=alert]').first().innerText()).toBeTruthy();
      await page.fill('#f-counts', '5000, 10000');
      await page.fill('#f-respondWithinDays', '30');
      await Promise.all([page.waitForNavigation(), page.click('form[action="?/thresholds"] button[type=submit]')]);
      expect(await page.locator('[role=status]').innerText()).toBe('Thresholds saved.');
      const api = (await (await fetch(`${platform.baseUrl}/api/actions/${UZBEKISTAN.slug}?locale=uz`)).json()) as { respondWithinDays: number; thresholds: { count: number }[] };
      expect(api.respondWithinDays).toBe(30);
      expect(api.thresholds.map((t: { count: number }) => t.count)).toEqual([5000, 10000]);
    } finally {
      await context.close();
    }
  });
});

describe('case updates', { timeout: 180_000 }, () => {
  it('are published in the console, shown on the page and emailed to the signer who opted in, in Uzbek', async () => {
    const email = `uz.${randomUUID().slice(0, 8)}@example.org`;
    const mailbox = mailboxClient(platform.mailboxUrl);
    const signed = await fetch(`${platform.baseUrl}/api/actions/${UZBEKISTAN.slug}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Dilnoza', lastName: 'Karimova', email, country: 'UZ', locale: 'uz', consentCount: true, consentContact: true }),
    });
    expect(signed.status).toBe(202);
    const confirmation = await mailbox.waitFor((m) => m.envelope.to.includes(email), { timeoutMs: 60_000 });
    const token = /\/confirm\/([A-Za-z0-9._~-]+)/.exec(confirmation.text)![1]!;
    const confirmed = await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(confirmed.status).toBe(200);

    const context = watch(await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false }));
    try {
      const page = await context.newPage();
      await page.goto(`${platform.baseUrl}/admin/login`);
      await page.fill('#f-email', DEMO_ADMIN.email);
      await page.fill('#f-password', DEMO_ADMIN.password);
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      const { rows } = await pool.query<{ id: string }>(`SELECT id FROM actions WHERE slug = $1`, [UZBEKISTAN.slug]);
      await page.goto(`${platform.baseUrl}/admin/actions/${rows[0]!.id}`);
      const title = `Tashrif sanasi eʼlon qilindi ${randomUUID().slice(0, 4)}`;
      await page.fill('#f-title_en', 'The visit has a date');
      await page.fill('#f-body_en', 'The Rapporteur will visit in March.');
      await page.fill('#f-title_uz', title);
      await page.fill('#f-body_uz', 'Maxsus maʼruzachi mart oyida tashrif buyuradi.');
      // without the box ticked, nothing is published
      await Promise.all([page.waitForNavigation(), page.click('form[action="?/update"] button[type=submit]')]);
      expect(await page.locator('#f-confirm-error').innerText()).toContain('Tick the box');
      expect(await page.inputValue('#f-title_uz')).toBe(title);
      await page.check('form[action="?/update"] input[name=confirm]');
      await Promise.all([page.waitForNavigation(), page.click('form[action="?/update"] button[type=submit]')]);
      expect(await page.locator('[role=status]').innerText()).toContain('Update published.');

      // the signer reads it in Uzbek, with the link to stop the emails
      const update = await mailbox.waitFor((m) => m.envelope.to.includes(email) && m.subject.includes(title), { timeoutMs: 60_000 });
      expect(update.text).toContain('Maxsus maʼruzachi mart oyida tashrif buyuradi.');
      expect(update.text).toMatch(/\/uz\/unsubscribe\//);
      // and on the public page, in Uzbek, at once
      await page.goto(`${platform.baseUrl}/uz/actions/${UZBEKISTAN.slug}`);
      const updates = page.locator('section.updates');
      expect(await updates.locator('h3').first().innerText()).toBe(title);
      await page.goto(`${platform.baseUrl}/en/actions/${UZBEKISTAN.slug}`);
      expect(await page.locator('section.updates h3').first().innerText()).toBe('The visit has a date');
    } finally {
      await context.close();
    }
  });
});

describe('paper signatures', { timeout: 180_000 }, () => {
  it('count apart on the public page, reach the officials in their language, and are imported in the console with a preview', async () => {
    // the demo: 120 collected at a stall, counted
    const before = (await (await fetch(`${platform.baseUrl}/api/actions/${DEMO_PAPER_ACTION}?locale=fil`)).json()) as { count: number; paperCount: number };
    expect(before.paperCount).toBeGreaterThanOrEqual(120);
    expect(before.count).toBeGreaterThanOrEqual(before.paperCount);
    const context = watch(await browser.newContext({ viewport: PHONE, javaScriptEnabled: false }));
    try {
      const page = await context.newPage();
      await page.goto(`${platform.baseUrl}/en/actions/${DEMO_PAPER_ACTION}`);
      expect(await page.locator('.progress-paper').innerText()).toBe(`of which ${before.paperCount.toLocaleString('en')} on paper`);
      // they travel to the officials in a delivery of their own (sent in each office's hours): the
      // Philippine Department of Justice is written to in Filipino
      const { rows: letters } = await pool.query<{ email: string; locale: string; signature_count: number }>(
        `SELECT t.email, l.locale, l.signature_count FROM paper_imports i JOIN letters l ON l.batch_id = i.batch_id JOIN targets t ON t.id = l.target_id
         JOIN actions a ON a.id = i.action_id WHERE a.slug = $1 AND i.event = 'Human Rights Day stall, Quezon City'`,
        [DEMO_PAPER_ACTION],
      );
      expect(letters.find((l) => l.email === 'secretary@doj.ph.example')).toMatchObject({ locale: 'fil', signature_count: 120 });
    } finally {
      await context.close();
    }

    const admin = watch(await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false }));
    try {
      const page = await admin.newPage();
      await page.goto(`${platform.baseUrl}/admin/login`);
      await page.fill('#f-email', DEMO_ADMIN.email);
      await page.fill('#f-password', DEMO_ADMIN.password);
      await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
      const { rows } = await pool.query<{ id: string }>(`SELECT id FROM actions WHERE slug = $1`, [DEMO_PAPER_ACTION]);
      await page.goto(`${platform.baseUrl}/admin/actions/${rows[0]!.id}`);
      const tag = randomUUID().slice(0, 6);
      // a file with a bad line first: every problem by line, nothing imported
      const bad = join(tmpdir(), `paper-bad-${tag}.csv`);
      writeFileSync(bad, `sheet,line,first_name,country\nT${tag},1,Ana,PH\nT${tag},two,Bo,PH\n`);
      await page.setInputFiles('#f-file', bad);
      await page.fill('#f-event', 'Vigil in Davao');
      await page.fill('#f-collectedOn', '2026-11-30');
      await page.fill('#f-consentVersion', 'paper form 2026-11, version 2');
      await Promise.all([page.waitForNavigation(), page.click('form[action="?/paper"] button[type=submit]')]);
      expect(await page.locator('.panel-error[role=alert]').innerText()).toContain('line 3: line');
      // the corrected file: a preview, with the repeat shown, then counted
      const good = join(tmpdir(), `paper-good-${tag}.csv`);
      writeFileSync(good, `sheet,line,first_name,country\nT${tag},1,Ana,PH\nT${tag},2,,PH\nT${tag},2,,PH\n`);
      await page.setInputFiles('#f-file', good);
      await page.fill('#f-event', 'Vigil in Davao');
      await page.fill('#f-collectedOn', '2026-11-30');
      await page.fill('#f-consentVersion', 'paper form 2026-11, version 2');
      await Promise.all([page.waitForNavigation(), page.click('form[action="?/paper"] button[type=submit]')]);
      expect(await page.locator('[role=status]').innerText()).toContain('The file is checked');
      const row = page.locator('section[aria-labelledby="paper-heading"] tr[data-state="PREVIEW"]').first();
      expect(await row.innerText()).toContain('Preview: 2 would count');
      expect(await row.innerText()).toContain('1 repeat');
      await Promise.all([page.waitForNavigation(), row.locator('form[action="?/paperCount"] button').click()]);
      expect(await page.locator('[role=status]').innerText()).toContain('Counted.');
      const after = (await (await fetch(`${platform.baseUrl}/api/actions/${DEMO_PAPER_ACTION}`)).json()) as { paperCount: number };
      expect(after.paperCount).toBe(before.paperCount + 2);
    } finally {
      await admin.close();
    }
  });
});
