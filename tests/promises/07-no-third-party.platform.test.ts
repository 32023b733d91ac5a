// Promise 7: no page loads anything from a third party; pages work without JavaScript.
// Every page a member, an official or a staff member can reach is crawled over HTTP from the
// entry points (home in each language, every action, the pages behind emailed links, the packet,
// the embed, every console page with an admin session), following every same-origin link. Staff
// texts and an official's published answer are first filled with markup that would load from a
// tracker if it were ever rendered as HTML. On every page: a Content-Security-Policy that allows
// no other host and no inline script; no <script> at all; no src, srcset, poster, data,
// <link href>, <form action>, formaction, meta refresh or inline style pointing elsewhere; and
// every stylesheet free of url() and @import to another origin. Whether pages work without
// JavaScript is shown by tests/e2e/member-pages.test.ts, sign-to-delivery.test.ts and
// admin-console.test.ts, which sign, confirm, unsubscribe, erase and run the console in Chromium
// with JavaScript off and record every request to another origin.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../prisma/seed.ts';
import { actions } from '../../prisma/seed-data.ts';
import { packetToken } from '../../server/src/delivery/packet.service.ts';
import { createSession } from '../../server/src/staff/session.ts';
import { insertUser } from '../../server/src/staff/staff.repository.ts';
import { myDataToken, unsubscribeToken } from '../../server/src/supporter/supporter.service.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const TRACKER = 'tracker.example';
const HOSTILE = [
  `<img src="https://${TRACKER}/a.png">`,
  `<link rel="stylesheet" href="//${TRACKER}/b.css">`,
  `<style>@import url(https://${TRACKER}/c.css)</style>`,
  `<script src="https://${TRACKER}/d.js"></script>`,
  `![x](https://${TRACKER}/e.png)`,
  `<iframe src="https://${TRACKER}/f"></iframe>`,
].join(' ');

let platform: Platform;
let pool: pg.Pool;
let staffCookie: string;
let restore: (() => Promise<void>) | undefined;
const secret = () => process.env.SECRET_KEY!;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  const user = await insertUser(pool, { email: `p7.${Date.now()}@chorus.example.org`, name: 'Promise Seven', role: 'ADMIN', passwordHash: 'not-a-login-hash', createdAt: new Date() });
  staffCookie = `chorus_staff=${await createSession({ pool, clock: () => new Date() }, user!.id)}`;
});
afterAll(async () => {
  await restore?.();
  await pool?.end();
  await platform?.stop();
});

/** Attribute values that make a browser fetch something, with the tag they are on. */
function loadingUrls(html: string): { where: string; url: string }[] {
  const found: { where: string; url: string }[] = [];
  for (const tag of html.matchAll(/<([a-zA-Z][\w-]*)\b([^>]*)>/g)) {
    const name = tag[1]!.toLowerCase();
    const attrs = tag[2]!;
    for (const a of attrs.matchAll(/\b([\w:-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/g)) {
      const attr = a[1]!.toLowerCase();
      const value = (a[3] ?? a[4] ?? a[5] ?? '').replace(/&amp;/g, '&');
      const loads =
        ['src', 'srcset', 'poster', 'data', 'formaction', 'background', 'ping', 'action', 'xlink:href'].includes(attr) ||
        (attr === 'href' && name !== 'a' && name !== 'area') ||
        (attr === 'content' && /http-equiv\s*=\s*["']?refresh/i.test(attrs));
      if (loads) for (const url of value.split(/,\s*/).map((v) => v.trim().split(/\s+/)[0]!)) found.push({ where: `<${name} ${attr}>`, url });
      if (attr === 'style') for (const u of cssUrls(value)) found.push({ where: `<${name} style>`, url: u });
    }
  }
  for (const block of html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)) for (const u of cssUrls(block[1]!)) found.push({ where: '<style>', url: u });
  return found;
}

function cssUrls(css: string): string[] {
  const urls = [...css.matchAll(/url\(\s*(['"]?)([^'")]+)\1\s*\)/gi)].map((m) => m[2]!);
  for (const m of css.matchAll(/@import\s+(['"])([^'"]+)\1/gi)) urls.push(m[2]!);
  return urls;
}

function offsite(url: string, base: string): boolean {
  if (/^(data|about|mailto|tel):/i.test(url) || url.startsWith('#') || url === '') return false;
  try {
    return new URL(url, base).origin !== new URL(base).origin;
  } catch {
    return true;
  }
}

function cspProblems(csp: string | null, path: string): string[] {
  if (!csp) return [`${path}: no Content-Security-Policy`];
  const problems: string[] = [];
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map((d) => [d[0]!.toLowerCase(), d.slice(1)]));
  const scripts = directives.get('script-src') ?? directives.get('default-src');
  if (!scripts) problems.push(`${path}: CSP without script-src or default-src`);
  if (scripts?.some((s) => /unsafe-inline|unsafe-eval|\*|https?:|data:/i.test(s))) problems.push(`${path}: scripts allowed from ${scripts.join(' ')}`);
  for (const [name, sources] of directives) {
    if (name === 'frame-ancestors' || name === 'form-action' || name === 'report-uri' || name === 'report-to') continue;
    const foreign = sources.filter((s) => /^(https?:|\*|\/\/)|\.[a-z]{2,}$/i.test(s) && !s.startsWith(`${new URL(platform.baseUrl).origin}`));
    if (foreign.length) problems.push(`${path}: ${name} allows ${foreign.join(' ')}`);
  }
  return problems;
}

/** Crawls from `start`, following same-origin links; every page's problems. */
async function crawl(start: string[], cookie?: string, limit = 400): Promise<{ pages: number; problems: string[]; stylesheets: Set<string> }> {
  const seen = new Set<string>();
  const queue = [...start];
  const problems: string[] = [];
  const stylesheets = new Set<string>();
  let pages = 0;
  while (queue.length && pages < limit) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const res = await fetch(`${platform.baseUrl}${path}`, { headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) }, redirect: 'manual' });
    const type = res.headers.get('content-type') ?? '';
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.get('location') ?? '';
      if (offsite(to, platform.baseUrl)) problems.push(`${path}: redirects to ${to}`);
      else queue.push(new URL(to, `${platform.baseUrl}${path}`).pathname);
      continue;
    }
    if (!type.startsWith('text/html')) {
      await res.arrayBuffer();
      continue;
    }
    pages++;
    const html = await res.text();
    expect(res.status, path).toBeLessThan(500);
    problems.push(...cspProblems(res.headers.get('content-security-policy'), path));
    if (/<script\b/i.test(html)) problems.push(`${path}: has a <script>`);
    if (html.includes(TRACKER) && /<(img|link|iframe|script|style)\b[^>]*tracker\.example/i.test(html)) problems.push(`${path}: renders the hostile markup as HTML`);
    for (const { where, url } of loadingUrls(html)) {
      if (offsite(url, `${platform.baseUrl}${path}`)) problems.push(`${path}: ${where} ${url}`);
      else if (/<link /.test(where) && /\.css(\?|$)/.test(url)) stylesheets.add(new URL(url, `${platform.baseUrl}${path}`).pathname);
    }
    for (const m of html.matchAll(/<a\b[^>]*\bhref="([^"#]*)/g)) {
      const href = m[1]!.replace(/&amp;/g, '&');
      if (!href || offsite(href, platform.baseUrl)) continue;
      const u = new URL(href, `${platform.baseUrl}${path}`);
      // the console's own sign-out, downloads and the API are not pages
      if (/\/logout|\/api\/|\.csv$|\.pdf$|\.json$/.test(u.pathname)) continue;
      queue.push(u.pathname + u.search);
    }
  }
  for (const sheet of stylesheets) {
    const css = await (await fetch(`${platform.baseUrl}${sheet}`)).text();
    for (const u of cssUrls(css)) if (offsite(u, `${platform.baseUrl}${sheet}`)) problems.push(`${sheet}: ${u}`);
  }
  return { pages, problems, stylesheets };
}

async function waitForRow<T extends pg.QueryResultRow>(sql: string, params: unknown[], timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<T>(sql, params);
    if (rows[0]) return rows[0];
    if (Date.now() > until) throw new Error(`no row for ${sql}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('promise 7: nothing from a third party', () => {
  it('no page, public or staff, loads or allows anything from another origin, even with hostile staff and official text', async () => {
    const slug = actions[0]!.slug;
    // staff text and an official's answer that would load from a tracker if rendered as HTML
    // (put back afterwards: later files of the suite read the seeded texts)
    const { rows: texts } = await pool.query<{ action_id: string; locale: string; summary: string; body: string }>(
      `SELECT t.action_id, t.locale, t.summary, t.body FROM action_texts t JOIN actions a ON a.id = t.action_id WHERE a.slug = $1`,
      [slug],
    );
    restore = async () => {
      for (const t of texts) await pool.query(`UPDATE action_texts SET summary = $3, body = $4 WHERE action_id = $1 AND locale = $2`, [t.action_id, t.locale, t.summary, t.body]);
      await pool.query(`DELETE FROM answers WHERE body LIKE $1`, [`%${TRACKER}%`]);
    };
    await pool.query(
      `UPDATE action_texts SET summary = left(summary, 600) || $3, body = body || $1 WHERE action_id = (SELECT id FROM actions WHERE slug = $2)`,
      [` ${HOSTILE}`, slug, ` <img src="https://${TRACKER}/s.png">`],
    );
    await pool.query(
      `INSERT INTO answers (action_id, target_id, status, body, public_summary, published_at)
       SELECT a.id, t.target_id, 'PUBLISHED', $1, $1, now() FROM actions a JOIN action_targets t ON t.action_id = a.id WHERE a.slug = $2 LIMIT 1`,
      [`Our answer. ${HOSTILE}`, slug],
    );

    // a signer with every emailed link, and a delivered letter with its packet
    const email = `seven.${Date.now()}@example.org`;
    const signed = await fetch(`${platform.baseUrl}/api/actions/${slug}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Seven', lastName: 'Crawler', email, country: 'NO', consentCount: true, consentNamed: true, consentWall: true }),
    });
    expect(signed.status).toBe(202);
    const sig = await waitForRow<{ id: string; supporter_id: string }>(
      `SELECT s.id, s.supporter_id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
      [indexOfEmail(email)],
    );
    const deps = { secret: secret(), clock: () => new Date(), confirmLinkTtlHours: 24 };
    const confirmToken = confirmationToken(deps, sig.id);
    const letter = await waitForRow<{ id: string }>(`SELECT id FROM letters ORDER BY created_at DESC LIMIT 1`, [], 5_000).catch(() => null);

    const start = ['/', '/admin/login', '/no-such-page', '/widget.js'];
    for (const l of ['en', 'es', 'fr', 'ru']) {
      start.push(`/${l}`, `/${l}/my-data`, `/${l}/my-data/sent`, `/${l}/my-data/erased`, `/${l}/confirm/${confirmToken}`);
      start.push(`/${l}/unsubscribe/${unsubscribeToken(deps, sig.supporter_id)}`, `/${l}/my-data/${myDataToken(deps, sig.supporter_id)}`);
      for (const a of actions) start.push(`/${l}/actions/${a.slug}`, `/${l}/actions/${a.slug}/check-email`, `/${l}/actions/${a.slug}/thanks`, `/${l}/embed/${a.slug}`, `/${l}/embed/${a.slug}/check-email`);
      if (letter) start.push(`/${l}/packet/${packetToken(secret(), letter.id, new Date())}`);
    }
    const visitor = await crawl(start);
    const staff = await crawl(['/admin'], staffCookie);
    console.log(`[promise 7] crawled ${visitor.pages} public and ${staff.pages} console pages; stylesheets ${[...visitor.stylesheets, ...staff.stylesheets].join(', ')}`);
    expect(visitor.pages).toBeGreaterThan(50);
    expect(staff.pages).toBeGreaterThan(10);
    expect(visitor.stylesheets.size).toBeGreaterThan(0);
    expect([...visitor.problems, ...staff.problems]).toEqual([]);
  }, 300_000);
});
