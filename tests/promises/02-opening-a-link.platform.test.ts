// Promise 2: opening a link never confirms, unsubscribes or erases anything; a button on the
// page does.
// A mail provider's link scanner, a browser's prefetcher and a curious proxy open every link of
// every email Chorus sends a signer: the confirmation email (confirm, unsubscribe, my-data
// links) and the "my data" email, plus every address the API puts behind them. Each is opened
// with GET and HEAD, with the prefetch headers browsers send, with a scanner's user agent, and as
// SvelteKit's data request; the pages are also loaded in Chromium (whose prefetching of links is
// then free to run). Afterwards the signature is still unconfirmed and uncounted, the address
// subscribed, the data there and the links still valid. Then the buttons are pressed, to show
// the same checks do see each change.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient, type MailboxMessage } from '../../server/src/mailbox/mailbox.client.ts';
import { seed } from '../../prisma/seed.ts';
import { launchChromium } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import type { Browser } from 'playwright-core';
import { CONSENT_RECORDS } from '../../server/src/testing/consent-records.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { sealedSupporter } from '../support/sealed-checks.ts';

const SLUG = 'uzbekistan-let-the-rapporteur-in';
let platform: Platform;
let pool: pg.Pool;
let browser: Browser;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await pool?.end();
  await platform?.stop();
});

const mailbox = () => mailboxClient(platform.mailboxUrl);

/** Every link of the platform in an email, from its text and its HTML part. */
function linksIn(mail: MailboxMessage): string[] {
  const origin = platform.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = new Set<string>();
  for (const part of [mail.text ?? '', (mail.html ?? '').replace(/&amp;/g, '&')]) {
    for (const m of part.matchAll(new RegExp(`${origin}[^\\s"'<>)]*`, 'g'))) found.add(m[0]);
  }
  const header = /<([^>]+)>/.exec(String(mail.headers['list-unsubscribe'] ?? ''));
  if (header) found.add(header[1]!);
  return [...found];
}

/** The API address behind each page link, which a scanner may find as well. */
function apiTwins(link: string): string[] {
  const path = new URL(link).pathname.replace(/^\/[a-z]{2}(?=\/)/, '');
  const m = /^\/(confirm|unsubscribe|my-data)\/([^/]+)$/.exec(path);
  if (!m) return [];
  const api = { confirm: 'confirmations', unsubscribe: 'unsubscribe', 'my-data': 'my-data' }[m[1] as 'confirm'];
  return [`${platform.baseUrl}/api/${api}/${m[2]}`, `${platform.baseUrl}/api/${api}/${m[2]}?download=1`];
}

const SCANNER_HEADERS: Record<string, string>[] = [
  {},
  { purpose: 'prefetch' },
  { 'sec-purpose': 'prefetch' },
  { 'sec-purpose': 'prefetch;prerender' },
  { 'x-moz': 'prefetch' },
  { 'user-agent': 'Mozilla/5.0 (compatible; Barracuda Sentinel link scanner)', accept: '*/*' },
  { accept: 'application/json' },
];

async function openEverywhichWay(link: string): Promise<void> {
  const urls = [link, `${link.replace(/\/$/, '')}/__data.json`, ...apiTwins(link)];
  for (const url of urls) {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      for (const headers of SCANNER_HEADERS) {
        const res = await fetch(url, { method, headers, redirect: 'follow' });
        await res.arrayBuffer().catch(() => undefined);
        expect(res.status, `${method} ${url}`).toBeLessThan(500);
      }
    }
  }
  // a real browser, whose speculative loading may follow what the page offers
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(link, { waitUntil: 'load' });
  await context.close();
}

async function signatureOf(email: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     WHERE a.slug = $1 AND p.email_index = $2`,
    [SLUG, indexOfEmail(email)],
  );
  return rows[0]!.id;
}

async function stateOf(signatureId: string) {
  const { rows } = await pool.query<{
    status: string;
    confirmed_at: Date | null;
    counted_at: Date | null;
    unsubscribed_at: Date | null;
    erased_at: Date | null;
    supporter_id: string;
    consents: number;
  }>(
    `SELECT s.status, s.confirmed_at, s.counted_at, p.unsubscribed_at, p.erased_at, p.id AS supporter_id,
            (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.supporter_id = p.id) AS consents
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE s.id = $1`,
    [signatureId],
  );
  const { supporter_id, ...state } = rows[0]!;
  // the address is stored sealed, never in clear: opened with the supporter's data key
  const { email } = (await sealedSupporter(pool, supporter_id))!;
  return { ...state, email };
}

const post = (url: string, body: string, type = 'application/x-www-form-urlencoded') =>
  fetch(url, { method: 'POST', headers: { 'content-type': type, origin: platform.baseUrl, accept: 'text/html' }, body, redirect: 'manual' });

describe('promise 2: opening a link changes nothing', () => {
  it('every link of the confirmation and "my data" emails, opened every way a scanner or browser does, confirms, unsubscribes and erases nothing; the buttons do', async () => {
    const email = `scanned.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`;
    const signed = await fetch(`${platform.baseUrl}/api/actions/${SLUG}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Scan', lastName: 'Ned', email, country: 'DE', consentCount: true, consentContact: true }),
    });
    expect(signed.status).toBe(202);
    const confirmation = await mailbox().waitFor((m) => m.envelope.to.includes(email) && m.text.includes('/confirm/'), { timeoutMs: 30_000 });
    expect((await fetch(`${platform.baseUrl}/api/my-data/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) })).status).toBe(202);
    const myData = await mailbox().waitFor((m) => m.envelope.to.includes(email) && /\/my-data\/[A-Za-z0-9]/.test(m.text), { timeoutMs: 30_000 });

    const links = [...new Set([...linksIn(confirmation), ...linksIn(myData)])];
    const kinds = (re: RegExp) => links.filter((l) => re.test(new URL(l).pathname));
    expect(kinds(/\/confirm\/./).length, links.join('\n')).toBeGreaterThan(0);
    expect(kinds(/\/unsubscribe\/./).length).toBeGreaterThan(0);
    expect(kinds(/\/my-data\/./).length).toBeGreaterThan(0);

    const id = await signatureOf(email);
    const before = await stateOf(id);
    expect(before).toMatchObject({ status: 'PENDING', confirmed_at: null, unsubscribed_at: null, erased_at: null, email });
    for (const link of links) await openEverywhichWay(link);
    expect(await stateOf(id)).toEqual(before);

    // the links still work: each page still offers its button, and the buttons do what they say
    const confirmLink = kinds(/\/confirm\/./)[0]!;
    const unsubscribeLink = kinds(/^(\/[a-z]{2})?\/unsubscribe\/./)[0]!;
    const myDataLink = kinds(/^(\/[a-z]{2})?\/my-data\/./)[0]!;
    // as the page's button does: its form, with the details version the page showed
    const page = await (await fetch(confirmLink)).text();
    const version = /name="version" value="([^"]*)"/.exec(page)?.[1];
    expect(version, 'the confirm page offers its button').toBeTruthy();
    expect((await post(`${confirmLink}?/confirm`, `version=${encodeURIComponent(version!)}`)).status).toBe(303);
    expect((await stateOf(id)).status).toBe('CONFIRMED');
    expect((await post(unsubscribeLink, '')).status).toBeLessThan(400);
    expect((await stateOf(id)).unsubscribed_at).toBeInstanceOf(Date);

    // with the data page's links opened again every way, the data is still there
    await openEverywhichWay(myDataLink);
    expect((await stateOf(id)).erased_at).toBeNull();
    expect((await post(`${myDataLink}?/erase`, 'confirm=yes')).status).toBe(303);
    expect((await stateOf(id)).erased_at).toBeInstanceOf(Date);
  }, 240_000);
});
