// Hostile input through the member pages' own forms (SvelteKit form actions, as a browser
// without JavaScript posts them) and through the API, against the running platform: every
// answer is a clear 4xx or a re-rendered form, nothing is reflected unescaped, nothing is
// stored half-way, and no email header can be injected.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { seed } from '../../prisma/seed.ts';
import { emailIndex } from '../../server/src/privacy/personal-data.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const SLUG = 'uzbekistan-let-the-rapporteur-in';
const LETTER_SLUG = 'kazakhstan-independent-investigations';
let platform: Platform;
let pool: pg.Pool;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await platform?.stop();
});

const SCRIPT = '<script>alert(1)</script>';
const hostileValues: [string, string][] = [
  ['markup', SCRIPT],
  ['CR/LF header injection', 'Ana\r\nBcc: victim@example.org'],
  ['a right-to-left override', 'Ana\u202Egnp.exe'],
  ['a NUL byte', 'Ana\u0000'],
  ['100 KB', 'a'.repeat(100_000)],
];

function form(fields: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) params.append(k, one);
  return params.toString();
}

const valid = () => ({
  firstName: 'Ana',
  lastName: 'López',
  email: `hostile.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`,
  country: 'MX',
  consentCount: 'yes',
  website: '',
});

async function postPageForm(path: string, body: string) {
  return fetch(`${platform.baseUrl}${path}`, {
    method: 'POST',
    // a browser posting the form without JavaScript asks for HTML
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.baseUrl, accept: 'text/html' },
    body,
    redirect: 'manual',
  });
}

async function signaturesFor(email: string): Promise<number> {
  // the addresses are sealed: a supporter is found by the blind index of the address, as the
  // writer would key it (canonical) and as merely lower-cased
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = ANY($1::text[])`,
    [[indexOfEmail(email), emailIndex(email.toLowerCase()), emailIndex(email.trim().toLowerCase())]],
  );
  return rows[0].n;
}

describe('hostile input on the sign form of the page', () => {
  it.each(hostileValues)('re-renders the form for %s in a name, escaped, and stores nothing', async (_label, value) => {
    const fields = { ...valid(), firstName: value };
    const res = await postPageForm(`/en/actions/${SLUG}?/sign`, form(fields));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const html = await res.text();
    expect(html).not.toContain(SCRIPT);
    expect(await signaturesFor(fields.email)).toBe(0);
  });

  it.each([
    ['an email with CR/LF', { email: 'a@example.org\r\nBcc: victim@example.org' }],
    ['an email with markup', { email: `${SCRIPT}@example.org` }],
    ['a country that is not one', { country: 'ZZ' }],
    ['no consent to be counted', { consentCount: '' }],
    ['a 100 KB letter body', { letterBody: 'x'.repeat(100_000) }],
  ])('refuses %s with a clear error and stores nothing', async (_label, override) => {
    const fields = { ...valid(), ...override };
    const res = await postPageForm(`/en/actions/${LETTER_SLUG}?/sign`, form(fields as Record<string, string | string[]>));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const html = await res.text();
    expect(html).not.toContain(SCRIPT);
    expect(html).toMatch(/role="alert"|aria-invalid="true"/);
    expect(await signaturesFor(valid().email)).toBe(0);
  });

  it('refuses a post from another site (cross-site request forgery)', async () => {
    const res = await fetch(`${platform.baseUrl}/en/actions/${SLUG}?/sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: form(valid()),
      redirect: 'manual',
    });
    expect(res.status).toBe(403);
  });

  it('escapes hostile text on every page that echoes a path segment', async () => {
    for (const path of [`/en/actions/${encodeURIComponent(SCRIPT)}`, `/en/confirm/${encodeURIComponent(SCRIPT)}`, `/en/${encodeURIComponent(SCRIPT)}`]) {
      const res = await fetch(`${platform.baseUrl}${path}`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await res.text()).not.toContain(SCRIPT);
    }
  });
});

describe('hostile input on the other member forms', () => {
  it.each([
    ['CR/LF', 'a@example.org\r\nBcc: victim@example.org'],
    ['markup', `${SCRIPT}@example.org`],
    ['100 KB', `${'a'.repeat(100_000)}@example.org`],
  ])('refuses an email with %s on the my-data request form, escaped, sending nothing', async (_label, email) => {
    const res = await postPageForm('/en/my-data', form({ email }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await res.text()).not.toContain(SCRIPT);
    await new Promise((r) => setTimeout(r, 500));
    const sent = await mailboxClient(platform.mailboxUrl).list();
    expect(sent.filter((m) => m.envelope.to.some((to) => to.includes('victim') || to === 'a@example.org'))).toEqual([]);
  });

  it('escapes a letter with markup in the preview it shows back', async () => {
    const res = await postPageForm(
      `/en/actions/mexico-independent-forensics?/preview`,
      form({ ...valid(), letterSubject: 'Hi', letterBody: `Dear all ${SCRIPT} end` }),
    );
    const html = await res.text();
    expect(html).not.toContain(SCRIPT);
    // shown back as text, escaped
    expect(html).toContain('&lt;script');
  });

  it.each([
    ['/en/unsubscribe/', 'default'],
    ['/en/my-data/', 'consent'],
    ['/en/my-data/', 'erase'],
  ])('answers a forged token on %s (%s) with a 4xx page, escaped', async (path, action) => {
    const res = await postPageForm(`${path}${encodeURIComponent(SCRIPT)}${action === 'default' ? '' : `?/${action}`}`, form({ purpose: 'CONTACT', granted: 'true', confirm: 'true' }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await res.text()).not.toContain(SCRIPT);
  });
});

describe('what reaches mail', () => {
  it('keeps hostile but valid text out of headers and escapes it in HTML', async () => {
    const email = `mail.${Date.now()}@example.org`;
    // apostrophes, ampersands and quotes are valid in names (even one shaped like an attribute
    // breakout); they must arrive intact in text and escaped in HTML
    const firstName = `O'Brien & "Sons" onfocus="alert(1)`;
    const res = await fetch(`${platform.baseUrl}/api/actions/${SLUG}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName, lastName: 'X', email, country: 'IE', consentCount: true }),
    });
    expect(res.status).toBe(202);
    const mail = await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes(email), { timeoutMs: 60_000 });
    // the email lists what the sign-up would confirm, the name as typed among it
    expect(mail.text).toContain(`- Name: ${firstName} X\n`);
    expect(mail.html).toContain('O&#x27;Brien &amp; &quot;Sons&quot; onfocus&#x3D;&quot;alert(1)');
    expect(mail.html).not.toContain('onfocus="');
    expect(Object.keys(mail.headers)).not.toContain('bcc');
  });
});
