// The staff console in real Chromium with JavaScript OFF, against the running platform: a
// campaigner signs in through the login form, adds two officials to the directory (one by
// the form, one by CSV upload), creates a letter action, writes it in English and Spanish
// (the Spanish beside the English), chooses the two targets, previews each one's letter in
// its own language, publishes it behind a confirmation, finds it on the public site in both
// languages, and closes it. Every console page visited passes axe (WCAG 2.2 AA tags).
import { AxeBuilder } from '@axe-core/playwright';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../prisma/seed.ts';
import { createStaff } from '../../server/src/staff/staff.service.ts';
import { createSession } from '../../server/src/staff/session.ts';
import { launchChromium, watchOffsite } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const DESKTOP = { width: 1280, height: 900 };
const tag = randomUUID().slice(0, 8);
const EMAIL = `campaigner.${tag}@example.org`;
const PASSWORD = `correct horse battery ${tag}`;
const SLUG = `e2e-forensics-${tag}`;

let platform: Platform;
let browser: Browser;
let pool: pg.Pool;
let context: BrowserContext;
let page: Page;
const offsite: string[] = [];
const audited: string[] = [];

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  // a real account with a real argon2id hash, signed in through the real form below
  await createStaff({ pool, clock: () => new Date() }, null, { email: EMAIL, name: 'Elena Campaigner', role: 'CAMPAIGNER', password: PASSWORD });
  platform = await startPlatform();
  browser = await launchChromium();
  context = watch(await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP }));
  page = await context.newPage();
}, 120_000);

afterAll(async () => {
  if (audited.length) console.log(`[axe] audited ${audited.length} console pages: ${audited.join('; ')}`);
  await context?.close();
  await browser?.close();
  await platform?.stop();
  await pool?.end();
});

const watch = (context: BrowserContext) => watchOffsite(context, platform.baseUrl, offsite);

/**
 * axe runs inside the page, so it needs JavaScript: the exact HTML the JavaScript-less page
 * got is served again, at its own address, to a context with JavaScript and the same session.
 */
async function audit(label: string): Promise<void> {
  const html = await page.content();
  const address = page.url().replace(/#.*$/, '');
  const js = watch(await browser.newContext({ viewport: DESKTOP }));
  try {
    await js.addCookies(await context.cookies());
    const p = await js.newPage();
    await p.route(
      (url) => url.href === address,
      (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }),
    );
    await p.goto(address);
    const result = await new AxeBuilder({ page: p }).withTags(AXE_TAGS).analyze();
    audited.push(label);
    const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect.soft(violations, `axe on ${label}`).toEqual([]);
  } finally {
    await js.close();
  }
}

/** Navigates and returns the HTTP status of the page. */
async function go(path: string): Promise<number> {
  const res = await page.goto(`${platform.baseUrl}${path}`);
  return res?.status() ?? 0;
}

/** Presses a submit button (no JavaScript: a real form post) and waits for the page that follows. */
async function press(selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

const text = (selector = 'main') => page.locator(selector).innerText();
let actionUrl = '';

// each step is several page loads on a shared two-core machine, each audited by axe (the target
// form has a name, title and organisation field for each of the seven languages besides English)
describe('a campaigner launches a two-language letter action from the console', { timeout: 360_000 }, () => {
  it('signs in through the login form', async () => {
    expect(await go('/admin/actions')).toBe(200);
    expect(page.url()).toContain('/admin/login?next=%2Fadmin%2Factions');
    await audit('login');
    await page.fill('#f-email', EMAIL);
    await page.fill('#f-password', PASSWORD);
    await press('main button[type=submit]');
    expect(new URL(page.url()).pathname).toBe('/admin/actions');
    expect(await text('h1')).toBe('Actions');
    await audit('actions list');
  });

  it('adds one official with the form and one by CSV upload', async () => {
    expect(await go('/admin/targets/new')).toBe(200);
    await audit('new target');
    // a bad timezone first: the form comes back with the problem named, nothing stored
    await page.fill('#f-name', `Fiscalía General ${tag}`);
    await page.fill('#f-title', 'Fiscal General');
    await page.fill('#f-organisation', 'Fiscalía General de la República');
    await page.selectOption('#f-kind', 'PROSECUTOR');
    await page.fill('#f-email', `fiscal.${tag}@gob.example`);
    await page.fill('#f-salutation', 'Estimado Fiscal General');
    await page.fill('#f-country', 'MX');
    await page.fill('#f-language', 'es');
    await page.fill('#f-timezone', 'Mexico/Nowhere');
    await press('main form button[type=submit]');
    expect(await text('.error-summary')).toContain('Timezone: Give a time zone name, such as America/Mexico_City.');
    await audit('new target with errors');
    await page.fill('#f-timezone', 'America/Mexico_City');
    await press('main form button[type=submit]');
    expect(page.url()).toMatch(/\/admin\/targets\/[0-9a-f-]{36}\?done=created$/);
    expect(await text()).toContain('Target added.');
    await audit('target');

    const dir = mkdtempSync(join(tmpdir(), 'chorus-e2e-'));
    const file = join(dir, 'targets.csv');
    writeFileSync(
      file,
      `name,title,organisation,kind,country,email,language,timezone,office_hours,salutation\n` +
        `"Special Rapporteur on torture ${tag}",Special Rapporteur,OHCHR,un_mechanism,,sr.${tag}@un.example,en,Europe/Zurich,09:00-17:00,Dear Special Rapporteur\n`,
    );
    expect(await go('/admin/targets')).toBe(200);
    await page.setInputFiles('#f-file', file);
    await press('form[action="?/import"] button[type=submit]');
    expect(await text()).toContain('Imported: 1 new, 0 updated, 0 unchanged.');
    await go(`/admin/targets?q=${tag}`);
    expect(await page.locator('table.console-table tbody tr').count()).toBe(2);
    await audit('targets directory');
  });

  it('refuses a bad new action in Russian, each error in the form’s order and next to its field', async () => {
    // the console speaks the browser's language: the same session, a Russian browser
    const ru = watch(await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP, locale: 'ru-RU', extraHTTPHeaders: { 'accept-language': 'ru' } }));
    try {
      await ru.addCookies(await context.cookies());
      const p = await ru.newPage();
      await p.goto(`${platform.baseUrl}/admin/actions/new`);
      expect(await p.locator('h1').innerText()).toBe('Новая акция');
      await p.fill('#f-title', '');
      await p.fill('#f-slug', 'A');
      await p.check('input[name=kind][value=LETTER]');
      await p.fill('#f-goal', 'много');
      await p.fill('#f-milestones', '100, двести');
      await Promise.all([p.waitForNavigation(), p.click('main form button[type=submit]')]);
      const items = await p.locator('.error-summary li').allInnerTexts();
      // the summary: one line per field, in the order the form shows them, in Russian
      expect(items).toEqual([
        'Заголовок: Это поле обязательно.',
        'Веб-адрес (slug): Слишком коротко: не меньше 3 символов.',
        'Цель (подписей): Введите целое число.',
        'Этапы: Введите целые числа по возрастанию через запятую.',
      ]);
      expect(await p.locator('.error-summary').innerText()).not.toMatch(/must|characters|required/);
      // each field says it too, and keeps what was typed; the summary links to the field
      expect(await p.locator('#f-slug-error').innerText()).toBe('Слишком коротко: не меньше 3 символов.');
      expect(await p.locator('#f-milestones-error').innerText()).toBe('Введите целые числа по возрастанию через запятую.');
      expect(await p.locator('#f-milestones').getAttribute('aria-describedby')).toBe('f-milestones-hint f-milestones-error');
      expect(await p.locator('#f-milestones').inputValue()).toBe('100, двести');
      expect(await p.locator('.error-summary a').first().getAttribute('href')).toBe('#f-title');
      expect(await pool.query('SELECT 1 FROM actions WHERE slug = $1', ['a']).then((r) => r.rowCount)).toBe(0);
    } finally {
      await ru.close();
    }
  });

  it('creates a letter action and writes it in English', async () => {
    expect(await go('/admin/actions/new')).toBe(200);
    await audit('new action');
    await page.fill('#f-title', 'Independent forensic services for Mexico');
    await page.fill('#f-slug', SLUG);
    await page.check('input[name=kind][value=LETTER]');
    await page.fill('#f-goal', '5000');
    await page.fill('#f-milestones', '1000, 2500');
    await press('main form button[type=submit]');
    expect(page.url()).toMatch(/\/admin\/actions\/[0-9a-f-]{36}\?created=1$/);
    actionUrl = new URL(page.url()).pathname;
    expect(await text()).toContain('Draft');
    await audit('action editor (draft)');

    await go(`${actionUrl}/texts/en`);
    await audit('texts (default language)');
    await page.fill('#f-summary', 'Forensic services must be independent from prosecutors.');
    await page.fill('#f-body', 'Victims of torture need forensic examinations that nobody can bend.');
    await page.fill('#f-letterSubject', 'Guarantee independent forensic services');
    // one letter text: what officials receive and the draft on the page, labelled as the letter
    expect(await page.locator('label[for="f-officialRequest"]').textContent()).toContain('Letter text');
    expect(await page.locator('#f-letterBody').count()).toBe(0);
    await page.fill('#f-officialRequest', 'We ask you to guarantee the independence of the forensic services that examine torture victims.');
    await press('main form[action="?/save"] button[type=submit]');
    expect(await text()).toContain('Saved.');
  });

  it('translates it into Spanish beside the English text', async () => {
    await go(`${actionUrl}/texts/es`);
    // the English letter is shown next to the Spanish field being written
    const source = page.locator('.console-translate-source[lang=en]').filter({ hasText: 'We ask you to guarantee the independence' });
    expect(await source.count()).toBe(1);
    expect(await page.locator('#f-officialRequest[lang=es]').count()).toBe(1);
    await audit('texts (translation side by side)');
    await page.fill('#f-title', 'Servicios forenses independientes para México');
    await page.fill('#f-summary', 'Los servicios forenses deben ser independientes de la fiscalía.');
    await page.fill('#f-letterSubject', 'Garantice servicios forenses independientes');
    await page.fill('#f-officialRequest', 'Le pedimos garantizar la independencia de los servicios forenses que examinan a las víctimas de tortura.');
    await press('main form[action="?/save"] button[type=submit]');
    expect(await text()).toContain('Saved.');
    expect(await text()).toContain('Spanish');
  });

  it('saves a petition’s settings (its form has no letter fields, and sends none)', async () => {
    expect(await go('/admin/actions/new')).toBe(200);
    await page.fill('#f-title', 'End incommunicado detention');
    await page.fill('#f-slug', `${SLUG}-petition`);
    await page.check('input[name=kind][value=PETITION]');
    await page.fill('#f-goal', '2000');
    await press('main form button[type=submit]');
    const petitionUrl = new URL(page.url()).pathname;
    expect(await page.locator('#f-maxLetterLength').count()).toBe(0);
    await page.fill('#f-goal', '3000');
    await press('main form[action="?/settings"] button[type=submit]');
    expect(await text()).toContain('Saved.');
    const { rows } = await pool.query<{ goal: number }>('SELECT goal FROM actions WHERE slug = $1', [`${SLUG}-petition`]);
    expect(rows[0]!.goal).toBe(3000);
    expect(petitionUrl).toMatch(/\/admin\/actions\/[0-9a-f-]{36}$/);
  });

  it('chooses the two officials from the directory', async () => {
    await go(`${actionUrl}/targets?q=${tag}`);
    await audit('target picker');
    const boxes = page.locator('input[name=targetId]');
    expect(await boxes.count()).toBe(2);
    for (const box of await boxes.all()) await box.check();
    await press('main form[method=POST] button[type=submit]');
    expect(await text()).toContain('Targets saved.');
    expect(await text()).toContain(`Fiscalía General ${tag}`);
    expect(await text()).toContain(`Special Rapporteur on torture ${tag}`);
  });

  it('previews exactly what each official will receive, in each one’s language', async () => {
    await go(`${actionUrl}/preview`);
    await audit('letter preview');
    const letters = page.locator('pre.console-letter');
    expect(await letters.count()).toBe(2);
    const es = page.locator('pre.console-letter[lang=es]');
    expect(await es.innerText()).toMatch(/^Estimado Fiscal General:\s+Le pedimos garantizar la independencia/);
    expect(await text()).toContain('Garantice servicios forenses independientes');
    const en = page.locator('pre.console-letter[lang=en]');
    expect(await en.innerText()).toMatch(/^Dear Special Rapporteur,\s+We ask you to guarantee the independence/);
    expect(await en.innerText()).toContain('Respectfully');
  });

  it('publishes it after a confirmation, and it is on the public site in both languages', async () => {
    await go(actionUrl);
    await page.click('a[href="?confirm=publish"]');
    await page.waitForURL(/confirm=publish/);
    expect(await text()).toContain('Publish this action?');
    await audit('publish confirmation');
    await press('form[action="?/publish"] button[type=submit]');
    expect(await text()).toContain('Published.');
    await audit('action editor (published)');

    expect(await go(`/actions/${SLUG}`)).toBe(200);
    expect(await text('h1')).toBe('Independent forensic services for Mexico');
    expect(await go(`/es/actions/${SLUG}`)).toBe(200);
    expect(await text('h1')).toBe('Servicios forenses independientes para México');
    expect(await page.locator('form[action*="sign"]').count()).toBeGreaterThan(0);
  });

  it('pauses signing on this action, then on every action, and the public page says so', async () => {
    try {
      await go(actionUrl);
      await page.click('a[href="?confirm=pause"]');
      await press('form[action="?/pause"] button[type=submit]');
      expect(await text()).toContain('Signing is paused on this action.');
      await go(`/actions/${SLUG}`);
      expect(await text()).toContain('Signing is paused');
      await go(actionUrl);
      await page.click('a[href="?confirm=resume"]');
      await press('form[action="?/resume"] button[type=submit]');
      await go(`/actions/${SLUG}`);
      expect(await text()).not.toContain('Signing is paused');

      await go('/admin/actions');
      await page.click('a[href="?confirm=pause-all"]');
      await page.waitForURL(/confirm=pause-all/);
      await audit('pause-all confirmation');
      await press('form[action="?/pauseAll"] button[type=submit]');
      expect(await text()).toContain('Signing is now paused on every action.');
      await go(`/es/actions/${SLUG}`);
      expect(await text()).toContain('La firma está en pausa');

      await go('/admin/actions');
      expect(await text()).toContain('Signing is paused on every action.');
      await page.click('a[href="?confirm=resume-all"]');
      await press('form[action="?/resumeAll"] button[type=submit]');
      expect(await text()).toContain('Signing has resumed.');
      await go(`/es/actions/${SLUG}`);
      expect(await text()).not.toContain('La firma está en pausa');
    } finally {
      // never leave the platform paused for the tests that follow
      await pool.query(`DELETE FROM platform_settings WHERE key = 'signing_paused'`);
    }
  });

  it('closes it after a confirmation, and the public page says signing has ended', async () => {
    await go(actionUrl);
    await page.click('a[href="?confirm=close"]');
    await page.waitForURL(/confirm=close/);
    await press('form[action="?/close"] button[type=submit]');
    expect(await text()).toContain('Closed. Signing has ended.');
    expect(await go(`/actions/${SLUG}`)).toBe(200);
    expect(await text()).toContain('This action is closed');
    const { rows } = await pool.query(
      `SELECT verb FROM audit_log WHERE entity = 'action' AND entity_id = (SELECT id::text FROM actions WHERE slug = $1) ORDER BY id`,
      [SLUG],
    );
    expect(rows.map((r) => r.verb)).toEqual(['create', 'update_text', 'update_text', 'set_targets', 'publish', 'pause_signing', 'resume_signing', 'close']);
  });

  it('downloads the directory as CSV through the console, and refuses it without a session', async () => {
    const res = await context.request.get(`${platform.baseUrl}/admin/targets/export.csv`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('text/csv');
    expect(await res.text()).toContain(`sr.${tag}@un.example`);
    const anonymous = await fetch(`${platform.baseUrl}/admin/targets/export.csv`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toContain('/admin/login');
  });

  it('refuses every page of these areas without a session, and the pages that change things to a viewer', async () => {
    const actionId = actionUrl.split('/').pop()!;
    const { rows } = await pool.query(`SELECT id FROM targets WHERE email = $1`, [`sr.${tag}@un.example`]);
    const targetId = rows[0].id as string;
    const viewer = await createStaff({ pool, clock: () => new Date() }, null, {
      email: `viewer.${tag}@example.org`,
      name: 'Vera Viewer',
      role: 'VIEWER',
      password: `viewer passphrase ${tag}`,
    });
    const viewerCookie = `chorus_staff=${await createSession({ pool, clock: () => new Date() }, viewer.id)}`;
    const pages: [string, 'READ' | 'WRITE'][] = [
      ['/admin/actions', 'READ'],
      ['/admin/actions/new', 'WRITE'],
      [`/admin/actions/${actionId}`, 'READ'],
      [`/admin/actions/${actionId}/texts/es`, 'WRITE'],
      [`/admin/actions/${actionId}/targets`, 'WRITE'],
      [`/admin/actions/${actionId}/preview`, 'READ'],
      ['/admin/targets', 'READ'],
      ['/admin/targets/new', 'WRITE'],
      [`/admin/targets/${targetId}`, 'READ'],
      ['/admin/targets/export.csv', 'READ'],
    ];
    for (const [path, roles] of pages) {
      const anonymous = await fetch(`${platform.baseUrl}${path}`, { redirect: 'manual' });
      expect(anonymous.status, `${path} without a session`).toBe(303);
      expect(anonymous.headers.get('location'), path).toMatch(/^\/admin\/login\?next=/);
      const asViewer = await fetch(`${platform.baseUrl}${path}`, { redirect: 'manual', headers: { cookie: viewerCookie } });
      expect(asViewer.status, `${path} as a viewer`).toBe(roles === 'READ' ? 200 : 403);
      await asViewer.body?.cancel();
    }
    // a viewer reads the action but gets no buttons that change it
    const html = await (await fetch(`${platform.baseUrl}/admin/actions/${actionId}`, { headers: { cookie: viewerCookie } })).text();
    expect(html).not.toContain('?confirm=');
    expect(html).not.toContain('action="?/settings"');
  });

  it('loaded nothing from another origin', () => {
    expect(offsite).toEqual([]);
  });
});
