// The staff console's frame against the running platform: every console page refuses a
// visitor without a session (to the sign-in page) and every role its entry in ADMIN_PAGES
// does not list (403); an admin turns on two-step sign-in in real Chromium with JavaScript
// off, signs out and back in with a code, creates a colleague's account and finds the change
// in the audit log. Every console page reached is checked with axe.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import * as OTPAuth from 'otpauth';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PAGES } from '../../web/src/lib/admin/pages.ts';
import { createSession } from '../../server/src/staff/session.ts';
import { createStaff } from '../../server/src/staff/staff.service.ts';
import { createActionForStaff, saveText, transition } from '../../server/src/action/action.admin.service.ts';
import { actionTextInput, createActionInput } from '../../server/src/action/action.admin.schema.ts';
import { recordAudit } from '../../server/src/staff/audit.ts';
import { STAFF_ROLES, type StaffRole } from '../../server/src/staff/staff.schema.ts';
import { launchChromium, watchOffsite } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONSOLE = join(ROOT, 'web/src/routes/admin/(console)');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';
const PASSWORD = 'a long and careful passphrase';

let platform: Platform;
let browser: Browser;
let pool: pg.Pool;
const cookies = {} as Record<StaffRole, string>;
const staffIds = {} as Record<StaffRole, string>;
const offsite: string[] = [];

const unique = (name: string) => `${name}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  platform = await startPlatform();
  browser = await launchChromium();
  for (const role of STAFF_ROLES) {
    const user = await createStaff({ pool, clock: () => new Date() }, null, { email: unique(`console-${role.toLowerCase()}`), name: `Console ${role}`, role, password: PASSWORD });
    cookies[role] = `chorus_staff=${await createSession({ pool, clock: () => new Date() }, user.id)}`;
    staffIds[role] = user.id;
  }
});

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await pool?.end();
});

/** Route ids of every +page.svelte under the console group. */
function consolePages(dir = CONSOLE): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...consolePages(path));
    else if (name === '+page.svelte') {
      const rel = relative(CONSOLE, dir).split('\\').join('/');
      found.push(`/admin/(console)${rel ? `/${rel}` : ''}`);
    }
  }
  return found.sort();
}

/** A URL for a route id: groups dropped, parameters given a sample value. */
function urlFor(routeId: string): string {
  return routeId.replace('/(console)', '').replace(/\[\[?\.{0,3}[A-Za-z]+(=[a-z]+)?\]?\]/g, SAMPLE_ID) || '/admin';
}

async function get(path: string, cookie?: string): Promise<Response> {
  return fetch(platform.baseUrl + path, { redirect: 'manual', headers: cookie ? { cookie } : {} });
}

const watch = (context: BrowserContext) => watchOffsite(context, platform.baseUrl, offsite);

/** axe needs JavaScript: the HTML the JavaScript-less browser got, served again to one with it. */
async function axe(label: string, from: Page): Promise<void> {
  const html = await from.content();
  const address = from.url().replace(/#.*$/, '');
  const context = watch(await browser.newContext());
  try {
    const page = await context.newPage();
    await page.route((url) => url.href === address, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
    await page.goto(address);
    const result = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
    expect.soft(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), `axe on ${label}`).toEqual([]);
  } finally {
    await context.close();
  }
}

describe('console pages: who may open them', () => {
  it('lists every console page in ADMIN_PAGES, and nothing that is not a page', () => {
    const pages = consolePages();
    expect(pages.length).toBeGreaterThan(3);
    expect(pages).toEqual(ADMIN_PAGES.map((p) => p.route).sort());
  });

  it('sends a visitor without a session to the sign-in page, from every console page', async () => {
    for (const routeId of consolePages()) {
      const res = await get(urlFor(routeId));
      expect(res.status, routeId).toBe(303);
      expect(res.headers.get('location'), routeId).toBe(`/admin/login?next=${encodeURIComponent(urlFor(routeId))}`);
    }
  });

  for (const role of STAFF_ROLES) {
    it(`answers a ${role.toLowerCase()} as each page's roles say`, async () => {
      for (const page of ADMIN_PAGES) {
        const res = await get(urlFor(page.route), cookies[role]);
        const body = await res.text();
        if (page.roles.includes(role)) {
          // pages with an id answer 404 for the sample id; none may refuse or send to sign-in
          expect([200, 404], `${role} ${page.route}`).toContain(res.status);
        } else {
          expect(res.status, `${role} ${page.route}`).toBe(403);
          expect(body).not.toContain('console-nav');
        }
      }
    });
  }

  it('shows each role only the navigation it may use', async () => {
    const html = await (await get('/admin', cookies.VIEWER)).text();
    expect(html).toContain('href="/admin/deliveries"');
    // the audit log records what staff looked for and found: admins only
    expect(html).not.toContain('href="/admin/audit"');
    expect(html).not.toContain('href="/admin/staff"');
    expect((await get('/admin/audit', cookies.VIEWER)).status).toBe(403);
    const adminHtml = await (await get('/admin', cookies.ADMIN)).text();
    expect(adminHtml).toContain('href="/admin/staff"');
    expect(adminHtml).toContain('href="/admin/audit"');
  });

  it('never redirects sign-in to another site', async () => {
    const form = new URLSearchParams({ email: unique('nobody'), password: 'x' });
    const res = await fetch(`${platform.baseUrl}/admin/login?next=${encodeURIComponent('//evil.example/')}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: platform.baseUrl },
      body: form,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('an admin in the browser, JavaScript off', () => {
  it('turns on two-step sign-in, signs in again with a code, creates an account and finds it in the audit log', async () => {
    const email = unique('first-admin');
    await createStaff({ pool, clock: () => new Date() }, null, { email, name: 'Ana Admin', role: 'ADMIN', password: PASSWORD });
    const context = watch(await browser.newContext({ javaScriptEnabled: false }));
    const page = await context.newPage();

    // sign in with the password: the console asks an admin without two-step sign-in to turn it on
    await page.goto(`${platform.baseUrl}/admin/audit`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await axe('sign-in', page);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password').fill('wrong password entirely');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('not right');
    await axe('sign-in with an error', page);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(new URL(page.url()).pathname).toBe('/admin/audit');
    expect(await page.locator('main').textContent()).toContain('without two-step sign-in');

    // enrol: the key is on the page, next to a QR code drawn by our server
    await page.getByRole('navigation').getByRole('link', { name: 'My account' }).click();
    await axe('my account', page);
    await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
    expect(await page.locator('.console-qr svg').count()).toBe(1);
    await axe('two-step enrolment', page);
    const secret = (await page.locator('.console-key').textContent())!.trim();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await page.getByLabel('Code from your authenticator app').fill(totp.generate());
    await page.getByRole('button', { name: 'Confirm and turn on' }).click();
    expect(await page.getByRole('status').textContent()).toContain('now on');

    // sign out; the password alone is no longer enough
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    expect(await get('/admin', (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ')).then((r) => r.status)).toBe(303);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('six-digit code');
    await page.getByLabel('Password').fill(PASSWORD);
    // the code of the next 30-second step: the one used to enrol cannot be used twice
    await page.getByLabel('Code from your authenticator app').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(new URL(page.url()).pathname).toBe('/admin');
    const cookie = (await context.cookies()).find((c) => c.name === 'chorus_staff')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Strict');
    await axe('overview', page);

    // a colleague's account, then the audit log shows who made it
    await page.getByRole('navigation').getByRole('link', { name: 'Staff accounts' }).click();
    await axe('staff accounts', page);
    const colleague = unique('colleague');
    await page.getByLabel('Name', { exact: true }).fill('Carlos Campaigner');
    await page.getByLabel('Email address').fill(colleague);
    await page.getByLabel('Role').selectOption('CAMPAIGNER');
    await page.getByLabel(/First password/).fill('another long passphrase');
    await page.getByRole('button', { name: 'Create account' }).click();
    expect(await page.getByRole('status').textContent()).toContain(colleague);
    expect(await page.locator('table').textContent()).toContain(colleague);

    await page.getByRole('navigation').getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Kind of record').selectOption('staff_user');
    await page.getByRole('button', { name: 'Filter' }).click();
    const log = await page.locator('table').textContent();
    expect(log).toContain('Ana Admin');
    expect(log).toContain(colleague);
    expect(log).toContain('turned on two-step sign-in for');
    await axe('audit log', page);

    // the queue view: the workers of this platform are connected; pausing and resuming works
    await page.getByRole('navigation').getByRole('link', { name: 'Queues' }).click();
    expect(await page.locator('main').textContent()).toContain('chorus-delivery');
    await axe('queues', page);
    // refreshing itself only when asked to, with the way to stop it on the page
    expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(0);
    await page.getByRole('link', { name: 'Refresh this page every 10 seconds' }).click();
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('10');
    await page.getByRole('link', { name: /Stop refreshing/ }).click();
    await page.getByRole('button', { name: 'Pause chorus-mail' }).click();
    expect(await page.locator('main').textContent()).toContain('Paused');
    await page.getByRole('button', { name: 'Resume chorus-mail' }).click();
    expect(await page.getByRole('button', { name: 'Pause chorus-mail' }).count()).toBe(1);

    await page.goto(`${platform.baseUrl}/admin/audit?from=not-a-date`);
    expect(await page.getByRole('alert').textContent()).toMatch(/date/i);
    await context.close();
    expect(offsite).toEqual([]);
  }, 400_000);

  it('shows the console in Spanish to a browser that asks for it', async () => {
    const res = await fetch(`${platform.baseUrl}/admin/login`, { headers: { 'accept-language': 'es-MX,es;q=0.9' } });
    const html = await res.text();
    expect(html).toContain('Acceso del personal');
    expect(html).toContain('lang="es"');
  });
});

describe('the console in the language staff choose, JavaScript off', () => {
  it('switches language in its header, remembers it on every console page, and shows the action, its campaign, languages, times and the audit log in that language', async () => {
    const deps = { pool, clock: () => new Date() };
    const tag = Math.random().toString(36).slice(2, 8);
    const campaign = `words-campaign-${tag}`;
    const c = await pool.query<{ id: string }>(`INSERT INTO campaigns (slug) VALUES ($1) RETURNING id`, [campaign]);
    await pool.query(`INSERT INTO campaign_texts (campaign_id, locale, name) VALUES ($1, 'en', 'Truth and justice'), ($1, 'es', 'Verdad y justicia')`, [c.rows[0]!.id]);
    const slug = `console-words-${tag}`;
    const action = await createActionForStaff(deps, staffIds.ADMIN, createActionInput.parse({ slug, campaign, kind: 'PETITION', title: 'Independent forensics now' }));
    await saveText(deps, staffIds.ADMIN, action.id, 'es', actionTextInput.parse({ title: 'Peritajes independientes ya' }));
    await transition(deps, staffIds.ADMIN, action.id, 'PUBLISHED');
    // an official's answer published, as answer.service.ts audits it
    await recordAudit(pool, {
      staffId: staffIds.ADMIN,
      verb: 'answer_published',
      entity: 'answer',
      entityId: SAMPLE_ID,
      before: { status: 'RECEIVED', publicSummary: null },
      after: { status: 'PUBLISHED', publicSummary: 'They will reply in writing', notificationsOwed: 3 },
    });

    const context = watch(await browser.newContext({ javaScriptEnabled: false, locale: 'en-US' }));
    const origin = new URL(platform.baseUrl);
    await context.addCookies([{ name: 'chorus_staff', value: cookies.ADMIN.split('=')[1]!, domain: origin.hostname, path: '/', httpOnly: true, sameSite: 'Strict' }]);
    const page = await context.newPage();
    const publicLink = () => page.locator('main dd a[href*="/actions/"]');
    await page.goto(`${platform.baseUrl}/admin/actions/${action.id}`);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('h1').textContent()).toBe('Independent forensics now');
    expect(await publicLink().getAttribute('href')).toBe(`/en/actions/${slug}`);

    // Russian: the action has no Russian text, so its title is the English one, marked as English
    const switcher = page.getByRole('form', { name: 'Console language' });
    await switcher.getByRole('button', { name: 'Русский' }).click();
    expect(new URL(page.url()).pathname).toBe(`/admin/actions/${action.id}`);
    expect(await page.locator('html').getAttribute('lang')).toBe('ru');
    expect(await page.locator('h1').textContent()).toBe('Independent forensics now');
    expect(await page.locator('h1').getAttribute('lang')).toBe('en');
    expect(await publicLink().getAttribute('href')).toBe(`/en/actions/${slug}`);
    expect(await page.getByRole('form', { name: 'Язык консоли' }).getByRole('button', { name: 'Русский' }).getAttribute('aria-current')).toBe('true');
    const cookie = (await context.cookies()).find((k) => k.name === 'chorus_console_locale')!;
    expect(cookie).toMatchObject({ value: 'ru', path: '/admin', httpOnly: true });
    // a language name starts a line capitalised; in a sentence it is written as Russian writes it
    const texts = await page.locator('section[aria-labelledby="texts-heading"]').textContent();
    expect(texts).toContain('Английский (основной)');
    expect(texts).toContain('Испанский');
    expect(texts).toMatch(/французский, русский|русский, французский/);
    await axe('action page in Russian', page);

    // Spanish: the action has a Spanish title and page; its campaign a Spanish name
    await page.getByRole('form', { name: 'Язык консоли' }).getByRole('button', { name: 'Español' }).click();
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    expect(await page.locator('h1').textContent()).toBe('Peritajes independientes ya');
    expect(await page.locator('h1').getAttribute('lang')).toBeNull();
    expect(await publicLink().getAttribute('href')).toBe(`/es/actions/${slug}`);
    expect(await page.locator('title').textContent()).toContain('Peritajes independientes ya');
    const facts = await page.locator('main dl').first().textContent();
    expect(facts).toContain('Verdad y justicia');
    expect(facts).not.toContain(campaign);
    const spanish = (await page.locator('main').textContent())!;
    expect(spanish).toContain('Inglés (principal)');
    expect(spanish).toContain('Editar los textos en inglés');
    expect(spanish).not.toMatch(/ en Inglés| al Inglés| en Español/);
    // the date it was published, as every console page writes dates
    expect(facts).toMatch(/\d{1,2} [a-z]{3,4}\.? \d{4}/);
    await axe('action page in Spanish', page);

    // another console page, reached by a plain link: still Spanish (the cookie, not the page)
    await page.goto(`${platform.baseUrl}/admin/audit?entity=answer`);
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
    const answerLines = (await page.locator('table tbody tr').first().locator('ul').textContent())!;
    expect(answerLines).toContain('Estado: Pendiente de revisión → Publicada');
    expect(answerLines).toContain('Firmantes por avisar: 3');
    expect(answerLines).toContain('They will reply in writing');
    expect(answerLines).not.toMatch(/RECEIVED|PUBLISHED|notificationsOwed|publicSummary/);
    // when: date and time, the zone said as everywhere in the console
    expect(await page.locator('table tbody tr').first().locator('td').first().textContent()).toMatch(/^\d{1,2} [a-z]{3,4}\.? \d{4}, \d{1,2}:\d{2} UTC$/);
    await page.goto(`${platform.baseUrl}/admin/audit?entity=action`);
    const publishLines = (await page.locator('table tbody tr').first().locator('ul').textContent())!;
    expect(publishLines).toContain('Estado: Borrador → Publicada');
    expect(publishLines).not.toContain('PUBLISHED');
    // the record's kind inside the sentence is written as Spanish writes it there: lower case
    expect(await page.locator('table tbody tr').first().locator('td p').first().textContent()).toMatch(/ acción «/);
    await axe('audit log in Spanish', page);

    // a switch back to a page off the console, or off the site, lands on the console's start
    const res = await fetch(`${platform.baseUrl}/admin/language`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: origin.origin, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: cookies.ADMIN },
      body: new URLSearchParams({ locale: 'fr', back: '//evil.example/admin' }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin');
    expect(res.headers.get('set-cookie')).toMatch(/chorus_console_locale=fr;.*Path=\/admin/i);
    await context.close();
    expect(offsite).toEqual([]);
  }, 300_000);
});
