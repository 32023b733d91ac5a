// Every page fits its window: each member page and each console page, in English and Russian,
// on a phone (390x844) and a desktop (1280x800), in real Chromium against the running
// platform, must not scroll sideways (document.scrollingElement.scrollWidth > innerWidth). A
// failure names the page, the size, the language and the elements where the overflow starts.
//
// The pages to visit are listed per route, and the routes are read from web/src/routes: a page
// added without a URL here fails the test, so none is missed. The data is real: seeded actions
// and targets, members who signed with long unbroken words (a letter whose text has no place to
// break, a 90-letter name), a delivered letter with its packet and an official's answer, a
// delivery waiting to go, an export. With LAYOUT_SCREENSHOTS=<folder>, a full-page screenshot of
// every page at every size is kept there, for people to look at.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packetToken } from '../../server/src/delivery/packet.service.ts';
import { receiptOf } from '../../server/src/testing/receipts.ts';
import { createSession } from '../../server/src/staff/session.ts';
import { createStaff } from '../../server/src/staff/staff.service.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { myDataToken, unsubscribeToken } from '../../server/src/supporter/supporter.service.ts';
import { seed } from '../../prisma/seed.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROUTES = join(ROOT, 'web/src/routes');
const SIZES = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1280, height: 800 },
] as const;
const LOCALES = ['en', 'ru'] as const;
type Locale = (typeof LOCALES)[number];

/** a folder to keep a screenshot of every page at every size in, for people to look at (optional) */
const SHOTS = process.env.LAYOUT_SCREENSHOTS;
const PETITION = 'uzbekistan-let-the-rapporteur-in';
const LETTER = 'mexico-independent-forensics';
const stamp = [...randomBytes(8)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
/** what a member may type that has no place to break */
const LONG_NAME = `Wolfeschlegelsteinhausenbergerdorff${stamp}`.padEnd(90, 'x');
const LONG_WORD = `Unbrokenwordwithoutanyspace${stamp}`.padEnd(400, 'y');
const LONG_LETTER = `I write to you about forensic independence. ${LONG_WORD}\n\nThank you for reading ${LONG_WORD.slice(0, 200)}.`;

let platform: Platform;
let browser: Browser;
let pool: pg.Pool;
let staffCookie: string;
const tokens = { pending: '', confirmed: '', myData: '', unsubscribe: '', packet: '', receipt: '' };
const ids = { petition: '', letter: '', target: '', export: '' };

const deps = () => ({ secret: process.env.SECRET_KEY!, clock: () => new Date(), confirmLinkTtlHours: 24 });

async function signatureId(slug: string, email: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     WHERE a.slug = $1 AND p.email_index = $2 ORDER BY s.created_at DESC LIMIT 1`,
    [slug, indexOfEmail(email)],
  );
  expect(rows, `the signature of ${email}`).toHaveLength(1);
  return rows[0]!.id;
}

async function sign(slug: string, email: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ firstName: 'Ines', lastName: LONG_NAME, email, country: 'CA', consentCount: true, consentNamed: true, locale: 'en', ...extra }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
  return signatureId(slug, email);
}

async function confirm(id: string): Promise<string> {
  const token = confirmationToken(deps(), id);
  const res = await fetch(`${platform.baseUrl}/api/confirmations/${token}`, { method: 'POST' });
  expect(res.status, await res.clone().text()).toBe(200);
  return token;
}

async function staffFetch(path: string, body: unknown): Promise<Response> {
  return fetch(platform.baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: staffCookie, origin: new URL(platform.baseUrl).origin },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  await seed(process.env.DATABASE_URL!);
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  platform = await startPlatform();
  browser = await launchChromium();
  const admin = await createStaff({ pool, clock: () => new Date() }, null, {
    email: `layout.${stamp}@chorus.example.org`,
    name: `Layout ${LONG_NAME}`,
    role: 'ADMIN',
    password: `a long and careful passphrase ${stamp}`,
  });
  staffCookie = `chorus_staff=${await createSession({ pool, clock: () => new Date() }, admin.id)}`;

  const { rows: actionRows } = await pool.query<{ id: string; slug: string }>(`SELECT id, slug FROM actions WHERE slug = ANY($1)`, [[PETITION, LETTER]]);
  ids.petition = actionRows.find((r) => r.slug === PETITION)!.id;
  ids.letter = actionRows.find((r) => r.slug === LETTER)!.id;
  ids.target = (await pool.query<{ id: string }>(`SELECT id FROM targets WHERE slug = 'mx-fgr'`)).rows[0]!.id;

  // a delivered petition letter: its packet, and an official's answer with long words. The demo
  // sends this action's letters as a daily digest (its signers live under the government it
  // writes to): here they go at once, whatever the day and hour
  await pool.query(`UPDATE actions SET delivery_policy = 'IMMEDIATE' WHERE id = $1`, [ids.petition]);
  const signer = `ines.${stamp}@example.org`;
  const signed = await sign(PETITION, signer);
  tokens.confirmed = await confirm(signed);
  // the code its signer holds, for the page that checks it (its proof has long hashes)
  tokens.receipt = await receiptOf(pool, signed);
  const supporter = (await pool.query<{ id: string }>(`SELECT id FROM supporters WHERE email_index = $1`, [indexOfEmail(signer)])).rows[0]!.id;
  tokens.myData = myDataToken(deps(), supporter);
  tokens.unsubscribe = unsubscribeToken(deps(), supporter);
  let letterId: string | undefined;
  for (let i = 0; i < 120 && !letterId; i++) {
    const { rows } = await pool.query<{ id: string }>(
      `SELECT l.id FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE b.action_id = $1 ORDER BY l.created_at DESC LIMIT 1`,
      [ids.petition],
    );
    letterId = rows[0]?.id;
    if (!letterId) await new Promise((r) => setTimeout(r, 500));
  }
  expect(letterId, 'a letter of the petition, delivered').toBeTruthy();
  tokens.packet = packetToken(process.env.SECRET_KEY!, letterId!, new Date());
  const answer = await fetch(`${platform.baseUrl}/api/packets/${tokens.packet}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ body: `We received the petition.\n\nOur reference: ${LONG_WORD}` }),
  });
  expect(answer.status, await answer.clone().text()).toBe(201);

  // a pending sign-up, for the confirmation page
  tokens.pending = confirmationToken(deps(), await sign(PETITION, `pending.${stamp}@example.org`));

  // a member's own letter waiting in a paused delivery, for the next-delivery preview
  await pool.query(`UPDATE actions SET delivery_paused = true WHERE id = $1`, [ids.letter]);
  await confirm(
    await sign(LETTER, `writer.${stamp}@example.org`, {
      country: 'MX',
      letterSubject: `Forensic independence ${LONG_WORD.slice(0, 80)}`,
      letterBody: LONG_LETTER,
    }),
  );

  const started = await staffFetch('/api/admin/exports', { kind: 'SIGNATURES', actionId: ids.petition });
  expect(started.status, await started.clone().text()).toBe(202);
  ids.export = ((await started.json()) as { job: { id: string } }).job.id;
}, 180_000);

afterAll(async () => {
  await pool?.query(`UPDATE actions SET delivery_paused = false WHERE id = $1`, [ids.letter]).catch(() => undefined);
  await browser?.close();
  await platform?.stop();
  await pool?.end();
});

/** Route ids of every +page.svelte under a folder of web/src/routes, as SvelteKit names them. */
function routeIds(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...routeIds(path));
    else if (name === '+page.svelte') found.push(`/${relative(ROUTES, dir).split('\\').join('/')}`.replace(/\/$/, '') || '/');
  }
  return found.sort();
}

/** How to reach a page: an address, or an address and what to do there (a form to send). */
interface Visit {
  label: string;
  path: string;
  /** the status the page answers with (200 unless an error page) */
  status?: number;
  /** after loading: what the member or staff does to reach the page to measure */
  act?: (page: Page) => Promise<void>;
  /** what else must hold of the page reached (at the first size, a phone) */
  expect?: (page: Page) => Promise<void>;
}

async function press(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForEvent('load'), page.locator(selector).first().click()]);
}

/** Member pages, per route id, for one language (its prefix in the path). */
function memberVisits(locale: Locale): Record<string, Visit[]> {
  const l = `/${locale}`;
  return {
    '/[[lang=locale]]': [{ label: 'home', path: `${l}` }],
    '/[[lang=locale]]/actions/[slug]': [
      { label: 'petition', path: `${l}/actions/${PETITION}` },
      { label: 'letter', path: `${l}/actions/${LETTER}` },
      { label: 'unknown action (404)', path: `${l}/actions/no-such-action-${stamp}`, status: 404 },
      {
        label: 'petition, signed empty (errors)',
        path: `${l}/actions/${PETITION}`,
        act: (page) => press(page, 'form[action*="sign"] button[type="submit"]:not([formaction])'),
      },
      {
        label: 'letter, signed with errors (a long letter, no name)',
        path: `${l}/actions/${LETTER}`,
        act: async (page) => {
          await page.locator('[name="letterBody"]').fill(LONG_LETTER);
          await page.locator('[name="email"]').fill(`${LONG_WORD.slice(0, 60)}@example.org`);
          await press(page, 'form[action*="sign"] button[type="submit"]:not([formaction])');
        },
      },
      {
        label: 'letter preview (a long unbroken word)',
        path: `${l}/actions/${LETTER}`,
        act: async (page) => {
          await page.locator('[name="letterSubject"]').fill(`Forensic independence ${LONG_WORD.slice(0, 80)}`);
          await page.locator('[name="letterBody"]').fill(LONG_LETTER);
          await page.locator('[name="firstName"]').fill('Ines');
          await page.locator('[name="lastName"]').fill(LONG_NAME);
          await press(page, 'button[formaction*="preview"]');
        },
      },
    ],
    '/[[lang=locale]]/actions/[slug]/check-email': [{ label: 'check your email', path: `${l}/actions/${PETITION}/check-email` }],
    '/[[lang=locale]]/actions/[slug]/thanks': [{ label: 'thanks', path: `${l}/actions/${PETITION}/thanks` }],
    '/[[lang=locale]]/confirm/[token]': [
      { label: 'confirm (pending)', path: `${l}/confirm/${tokens.pending}` },
      { label: 'confirm (already confirmed)', path: `${l}/confirm/${tokens.confirmed}` },
      { label: 'confirm (forged link)', path: `${l}/confirm/forged.${stamp}`, status: 404 },
    ],
    '/[[lang=locale]]/embed/[slug]': [
      { label: 'embed', path: `${l}/embed/${PETITION}` },
      { label: 'embed, signed empty (errors)', path: `${l}/embed/${PETITION}`, act: (page) => press(page, 'form button[type="submit"]') },
    ],
    '/[[lang=locale]]/embed/[slug]/check-email': [{ label: 'embed check your email', path: `${l}/embed/${PETITION}/check-email` }],
    '/[[lang=locale]]/my-data': [{ label: 'my data request', path: `${l}/my-data` }],
    '/[[lang=locale]]/my-data/sent': [{ label: 'my data link sent', path: `${l}/my-data/sent` }],
    '/[[lang=locale]]/my-data/[token]': [{ label: 'my data', path: `${l}/my-data/${tokens.myData}` }],
    '/[[lang=locale]]/my-data/erased': [{ label: 'my data erased', path: `${l}/my-data/erased` }],
    '/[[lang=locale]]/unsubscribe/[token]': [{ label: 'unsubscribe', path: `${l}/unsubscribe/${tokens.unsubscribe}` }],
    '/[[lang=locale]]/verify': [
      { label: 'check a receipt', path: `${l}/verify` },
      { label: 'check a receipt, delivered, with its proof', path: `${l}/verify?code=${tokens.receipt}` },
      { label: 'check a receipt, a code refused', path: `${l}/verify?code=${'X'.repeat(30)}`, status: 400 },
    ],
    '/[[lang=locale]]/packet/[token]': [
      { label: 'packet', path: `${l}/packet/${tokens.packet}` },
      { label: 'packet (forged link)', path: `${l}/packet/forged.${stamp}`, status: 404 },
      {
        label: 'packet, an empty answer refused',
        path: `${l}/packet/${tokens.packet}`,
        act: async (page) => {
          await page.locator('#answer-body').fill('   ');
          await press(page, 'form[action*="answer"] button[type="submit"]');
        },
        // the refusal is said at the top of the page the official lands on, on a phone too
        expect: async (page) => {
          const summary = page.locator('#answer-problem');
          expect(await summary.getAttribute('role')).toBe('alert');
          const box = await summary.boundingBox();
          expect(box, 'the refusal is on the page').toBeTruthy();
          const scrolled = await page.evaluate<number>('window.scrollY');
          expect(box!.y, 'the refusal is in view').toBeGreaterThanOrEqual(0);
          expect(box!.y + box!.height, 'the refusal is in view').toBeLessThanOrEqual(844);
          expect(scrolled + box!.y, 'the refusal comes before the packet').toBeLessThan(Number(await page.evaluate<number>("document.querySelector('article.packet').getBoundingClientRect().top + window.scrollY")));
          expect(await page.evaluate<string>('document.activeElement && document.activeElement.id'), 'the refusal has the focus').toBe('answer-problem');
        },
      },
    ],
  };
}

/** Console pages, per route id (the console's language is the browser's). */
function consoleVisits(): Record<string, Visit[]> {
  const c = '/admin';
  return {
    '/admin/login': [{ label: 'sign in', path: `${c}/login` }],
    '/admin/logout': [{ label: 'sign out', path: `${c}/logout` }],
    // its GET goes back to the overview; its form is in every console page's header
    '/admin/language': [{ label: 'console language', path: `${c}/language` }],
    '/admin/(console)': [{ label: 'overview', path: c }],
    '/admin/(console)/account': [{ label: 'account', path: `${c}/account` }],
    '/admin/(console)/actions': [{ label: 'actions', path: `${c}/actions` }],
    '/admin/(console)/actions/new': [
      { label: 'new action', path: `${c}/actions/new` },
      { label: 'new action, sent empty (errors)', path: `${c}/actions/new`, act: (page) => press(page, 'main form button[type="submit"]') },
    ],
    '/admin/(console)/actions/[id]': [
      { label: 'letter action', path: `${c}/actions/${ids.letter}` },
      {
        label: 'petition action, just created',
        path: `${c}/actions/${ids.petition}?created=1`,
        expect: async (page) => expect(await page.locator('.panel-success[role="status"]').count(), 'a banner says the action was created').toBe(1),
      },
    ],
    '/admin/(console)/actions/[id]/preview': [
      { label: 'letter preview', path: `${c}/actions/${ids.letter}/preview` },
      { label: 'petition preview', path: `${c}/actions/${ids.petition}/preview` },
    ],
    '/admin/(console)/actions/[id]/targets': [{ label: 'action targets', path: `${c}/actions/${ids.letter}/targets` }],
    '/admin/(console)/actions/[id]/texts/[locale]': [
      { label: 'texts side by side (es)', path: `${c}/actions/${ids.letter}/texts/es` },
      { label: 'texts side by side (ru)', path: `${c}/actions/${ids.petition}/texts/ru` },
    ],
    '/admin/(console)/alerts': [{ label: 'alerts', path: `${c}/alerts` }],
    '/admin/(console)/answers': [{ label: 'answers', path: `${c}/answers` }],
    '/admin/(console)/audit': [{ label: 'audit log', path: `${c}/audit` }],
    '/admin/(console)/dashboard/[id]': [
      { label: 'dashboard (petition)', path: `${c}/dashboard/${ids.petition}` },
      { label: 'dashboard (letter)', path: `${c}/dashboard/${ids.letter}` },
    ],
    '/admin/(console)/deliveries': [{ label: 'deliveries', path: `${c}/deliveries` }],
    '/admin/(console)/deliveries/[id]': [
      { label: 'delivery ledger', path: `${c}/deliveries/${ids.petition}` },
      { label: 'next delivery preview', path: `${c}/deliveries/${ids.letter}?preview=1` },
    ],
    '/admin/(console)/exports': [{ label: 'exports', path: `${c}/exports` }],
    '/admin/(console)/exports/[id]': [{ label: 'an export', path: `${c}/exports/${ids.export}` }],
    '/admin/(console)/fraud': [{ label: 'fraud', path: `${c}/fraud` }],
    '/admin/(console)/fraud/wall': [{ label: 'wall moderation', path: `${c}/fraud/wall` }],
    '/admin/(console)/integrations': [{ label: 'integrations', path: `${c}/integrations` }],
    '/admin/(console)/queues': [{ label: 'queues', path: `${c}/queues` }],
    '/admin/(console)/staff': [{ label: 'staff', path: `${c}/staff` }],
    '/admin/(console)/targets': [{ label: 'targets', path: `${c}/targets` }],
    '/admin/(console)/targets/[id]': [{ label: 'a target', path: `${c}/targets/${ids.target}` }],
    '/admin/(console)/targets/new': [{ label: 'new target', path: `${c}/targets/new` }],
  };
}

interface Measure {
  scrollWidth: number;
  innerWidth: number;
  culprits: string[];
}

/**
 * Run in the page: whether it scrolls sideways, and the elements that make it, the widest first
 * (plain JavaScript, as the browser gets it).
 */
const MEASURE = `(() => {
  const vw = window.innerWidth;
  const scrollWidth = document.scrollingElement.scrollWidth;
  const culprits = [];
  if (scrollWidth > vw) {
    const describe = (el) => {
      const box = el.getBoundingClientRect();
      const cls = typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
      const id = el.id ? '#' + el.id : '';
      const text = (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 40);
      return '<' + el.tagName.toLowerCase() + id + cls + '> ' + Math.round(box.width) + 'px wide, to ' + Math.round(box.right) + 'px' + (text ? ' "' + text + '"' : '');
    };
    const clipped = (el) => {
      for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return true;
      }
      return false;
    };
    // the innermost elements past the edge: what will not wrap (the elements around them are
    // past the edge only because of them). Those inside a box that clips them first; if there
    // are none, those too (a positioned element escapes a box that is not its containing block).
    for (const ignoreClip of [false, true]) {
      const past = (el) => el.getBoundingClientRect().right > vw + 0.5 && (ignoreClip || !clipped(el));
      for (const el of document.body.querySelectorAll('*')) {
        if (!past(el) || [...el.children].some(past)) continue;
        culprits.push({ right: el.getBoundingClientRect().right, text: describe(el) });
      }
      if (culprits.length) break;
    }
    culprits.sort((a, b) => b.right - a.right);
  }
  return { scrollWidth, innerWidth: vw, culprits: culprits.slice(0, 4).map((c) => c.text) };
})()`;

/** Loads a page (at the first size), does what the visit says, and measures it at every size. */
async function check(context: BrowserContext, locale: Locale, visit: Visit, overflows: string[]): Promise<void> {
  const page = await context.newPage();
  // a button or field that is not there fails the visit, rather than waiting for ever
  page.setDefaultTimeout(20_000);
  try {
    const response = await page.goto(platform.baseUrl + visit.path);
    expect.soft(response?.status(), `status of ${visit.label} (${locale}) ${visit.path}`).toBe(visit.status ?? 200);
    if (visit.act) await visit.act(page);
    if (visit.expect) await visit.expect(page);
    // words and separators: "UTC· Answered" is two texts glued together
    const text = await page.locator('body').innerText();
    expect.soft(text.match(/[^\s(]·|·[^\s)]/g), `${visit.label} (${locale}): a · without a space beside it`).toBeNull();
    // the same page at each size: without scripts, only the stylesheet's media queries differ
    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height });
      const m = await page.evaluate<Measure>(MEASURE);
      if (SHOTS) await page.screenshot({ path: join(SHOTS, `${visit.label.replace(/[^a-z0-9]+/gi, '-')}-${locale}-${size.name}.png`), fullPage: true });
      if (m.scrollWidth > m.innerWidth) {
        overflows.push(`${visit.label} (${size.name} ${size.width}x${size.height}, ${locale}, ${page.url().replace(platform.baseUrl, '')}): ${m.scrollWidth}px in ${m.innerWidth}px; ${m.culprits.join('; ') || 'no element found'}`);
      }
    }
  } finally {
    await page.close();
  }
}

describe('no page scrolls sideways', () => {
  const memberRoutes = routeIds(ROUTES).filter((r) => !r.startsWith('/admin'));
  const consoleRoutes = routeIds(join(ROUTES, 'admin'));

  it('has a URL to visit for every page of the site', () => {
    expect(memberRoutes.length).toBeGreaterThan(10);
    expect(consoleRoutes.length).toBeGreaterThan(20);
    expect(memberRoutes, 'member routes without a URL in this test').toEqual(Object.keys(memberVisits('en')).sort());
    expect(consoleRoutes, 'console routes without a URL in this test').toEqual(Object.keys(consoleVisits()).sort());
    for (const visits of [...Object.values(memberVisits('en')), ...Object.values(consoleVisits())]) expect(visits.length).toBeGreaterThan(0);
  });

  const sizes = SIZES.map((s) => `${s.width}x${s.height}`).join(' and ');
  const viewport = { width: SIZES[0].width, height: SIZES[0].height };

  for (const locale of LOCALES) {
    it(`member pages fit a phone and a desktop (${sizes}) in ${locale}`, { timeout: 600_000 }, async () => {
      const overflows: string[] = [];
      const context = await browser.newContext({ viewport, javaScriptEnabled: false, locale });
      try {
        for (const visits of Object.values(memberVisits(locale))) {
          for (const visit of visits) await check(context, locale, visit, overflows);
        }
      } finally {
        await context.close();
      }
      expect(overflows).toEqual([]);
    });

    it(`console pages fit a phone and a desktop (${sizes}) in ${locale}`, { timeout: 600_000 }, async () => {
      const overflows: string[] = [];
      // the console speaks the browser's language
      const signedOut = await browser.newContext({ viewport, javaScriptEnabled: false, locale });
      const signedIn = await browser.newContext({ viewport, javaScriptEnabled: false, locale });
      await signedIn.addCookies([{ name: 'chorus_staff', value: staffCookie.split('=')[1]!, domain: new URL(platform.baseUrl).hostname, path: '/', httpOnly: true, sameSite: 'Lax' }]);
      try {
        for (const [route, visits] of Object.entries(consoleVisits())) {
          // the sign-in page is seen signed out (signing out from it would end the session)
          const outside = route === '/admin/login' || route === '/admin/logout';
          for (const visit of visits) await check(outside ? signedOut : signedIn, locale, visit, overflows);
        }
      } finally {
        await signedOut.close();
        await signedIn.close();
      }
      expect(overflows).toEqual([]);
    });
  }
});
