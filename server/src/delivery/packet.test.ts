// The delivery packet behind the link in every letter, against the real test database and a
// real SMTP server: who is named to whom, opened_at, CSV and PDF, tokens, answers, ledger.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { deliverLetter } from '../letter/letter.service.ts';
import { signToken } from '../shared/tokens.ts';
import { createAction, createHarness, signBody, uniqueEmail, type Harness, confirmSignatures, startTestMail } from '../testing/harness.ts';
import { buildBatch } from './batch.service.ts';
import { neutraliseCell, packetToken } from './packet.service.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
const queues = { enqueueLetters: async () => {} };

beforeAll(async () => {
  h = await createHarness();
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});

const letterDeps = () => ({
  pool: h.db.pool,
  mailer,
  mailFrom: 'Chorus <actions@chorus.example.org>',
  organisation: 'Chorus Test',
  staleSubmittingMs: 60_000,
  clock: () => new Date(),
  queues,
  random: () => 1,
  packetSecret: h.secret,
  publicBaseUrl: 'http://chorus.test',
  countryMin: h.config.PUBLIC_COUNTRY_MIN,
});

async function signAndConfirm(slug: string, body: Record<string, unknown>) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: body });
  expect(res.statusCode).toBe(202);
  const [id] = await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(body.email as string)]);
  return id as string;
}

/** An action to Uzbekistan's minister (and a Spanish-speaking one), signed by a mix of people, delivered. */
async function deliveredFixture() {
  const fx = await createAction(h.db, {
    kind: 'LETTER',
    locales: ['en', 'es'],
    targets: [
      { country: 'UZ', language: 'en' },
      { country: 'MX', language: 'es' },
    ],
  });
  await h.cache.refresh();
  const emails = {
    abroad: uniqueEmail('abroad'),
    home: uniqueEmail('home'),
    homeExplicit: uniqueEmail('explicit'),
    quiet: uniqueEmail('quiet'),
  };
  await signAndConfirm(fx.action.slug, signBody({ email: emails.abroad, firstName: 'Named', lastName: 'Abroad', country: 'FR', consentNamed: true }));
  await signAndConfirm(fx.action.slug, signBody({ email: emails.home, firstName: 'Hidden', lastName: 'AtHome', country: 'UZ', consentNamed: true }));
  await signAndConfirm(
    fx.action.slug,
    signBody({ email: emails.homeExplicit, firstName: 'Brave', lastName: 'AtHome', country: 'UZ', consentNamed: true, consentNamedToOwnCountry: true }),
  );
  await signAndConfirm(fx.action.slug, signBody({ email: emails.quiet, firstName: 'Quiet', lastName: 'Person', country: 'FR' }));
  for (const name of ['=HYPERLINK("x")', '+cmd', '-1+1', '@SUM']) {
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('formula'), firstName: name, lastName: 'Z', country: 'DE', consentNamed: true }));
  }
  const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
  expect(built).toMatchObject({ signatureCount: 8 });
  const letters = await h.db.pool.query<{ id: string; target_id: string }>(`SELECT id, target_id FROM letters WHERE batch_id = $1`, [built!.batchId]);
  const uzLetter = letters.rows.find((l) => l.target_id === fx.targets[0]!.id)!.id;
  const mxLetter = letters.rows.find((l) => l.target_id === fx.targets[1]!.id)!.id;
  for (const l of letters.rows) expect(await deliverLetter(letterDeps(), l.id)).toBe('sent');
  const uzMail = mailbox.messages().find((m) => m.envelope.to[0] === fx.targets[0]!.email)!;
  const mxMail = mailbox.messages().find((m) => m.envelope.to[0] === fx.targets[1]!.email)!;
  return { fx, emails, uzLetter, mxLetter, uzMail, mxMail };
}

/** The text of each page of a PDF, as poppler's pdftotext reads it (pages end with a form feed). */
function pdfText(pdf: Buffer): string[] {
  const text = execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', '-', '-'], { input: pdf, encoding: 'utf8' });
  return text.split('\f').filter((p) => p.trim() !== '');
}

let f: Awaited<ReturnType<typeof deliveredFixture>>;
let token: string;

describe('delivery packet', () => {
  beforeAll(async () => {
    f = await deliveredFixture();
    const m = /http:\/\/chorus\.test\/packet\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32})/.exec(f.uzMail.text ?? '');
    expect(m, 'the English letter carries the packet link').not.toBeNull();
    token = m![1]!;
  });

  it('puts a signed link in each letter, with the letter’s language prefix', () => {
    expect(f.uzMail.text).toContain('The full delivery, with every signature it carries, is at: http://chorus.test/packet/');
    expect(f.uzMail.html).toMatch(/<a href="http:\/\/chorus\.test\/packet\/[^"]+">/);
    expect(f.mxMail.text).toMatch(/La entrega completa.*http:\/\/chorus\.test\/es\/packet\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32}/);
  });

  it('lists every signature, names only those allowed for this target, and carries no email', async () => {
    const before = await h.db.pool.query(`SELECT opened_at FROM letters WHERE id = $1`, [f.uzLetter]);
    expect(before.rows[0].opened_at).toBeNull();

    const res = await h.app.inject({ url: `/api/packets/${token}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body.letter).toMatchObject({ id: f.uzLetter, status: 'SENT', locale: 'en', signatureCount: 8 });
    expect(body.target.name).toBe(f.fx.targets[0]!.name);
    expect(body.action.slug).toBe(f.fx.action.slug);
    expect(body.signers).toHaveLength(8);
    const names = body.signers.map((s: { name: string | null }) => s.name);
    expect(names).toContain('Named Abroad');
    expect(names).toContain('Brave AtHome');
    expect(names).not.toContain('Hidden AtHome');
    expect(names).not.toContain('Quiet Person');
    // the unnamed signer from the target's own country is not placed in that country either, nor
    // is the lone unnamed French signer (fewer than PUBLIC_COUNTRY_MIN unnamed from France):
    // both are "country not shown", so that bucket never means "from your own country"
    expect(body.signers.filter((s: { name: string | null; country: string | null }) => s.name === null && s.country === null)).toHaveLength(2);
    expect(body.signers).toContainEqual({ name: null, country: null, confirmedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    expect(body.signers).toContainEqual({ name: 'Brave AtHome', country: 'UZ', confirmedAt: expect.any(String) });
    expect(body.countries).toEqual([{ country: 'DE', count: 4 }, { country: 'FR', count: 1 }, { country: 'UZ', count: 1 }]);
    expect(body.countryNotShown).toBe(2);
    const raw = res.body;
    expect(raw).not.toContain('@example.org');
    expect(raw).not.toContain('Hidden');
    expect(raw).not.toContain('Quiet');
    for (const email of Object.values(f.emails)) expect(raw).not.toContain(email);
    expect(raw).not.toMatch(/supporter|ip_?hash/i);

    // the Mexican minister sees the UZ signer who consented to be named abroad
    const mxToken = packetToken(h.secret, f.mxLetter, new Date());
    const mx = (await h.app.inject({ url: `/api/packets/${mxToken}` })).json();
    expect(mx.letter.locale).toBe('es');
    expect(mx.signers.map((s: { name: string | null }) => s.name)).toContain('Hidden AtHome');
  });

  it('records the first opening only', async () => {
    const first = await h.db.pool.query(`SELECT opened_at FROM letters WHERE id = $1`, [f.uzLetter]);
    expect(first.rows[0].opened_at).toBeInstanceOf(Date);
    await new Promise((r) => setTimeout(r, 20));
    await h.app.inject({ url: `/api/packets/${token}` });
    await h.app.inject({ method: 'HEAD', url: `/api/packets/${token}` });
    const again = await h.db.pool.query(`SELECT opened_at FROM letters WHERE id = $1`, [f.uzLetter]);
    expect(again.rows[0].opened_at.getTime()).toBe(first.rows[0].opened_at.getTime());
  });

  it('gives the CSV as an attachment with formulas neutralised', async () => {
    const res = await h.app.inject({ url: `/api/packets/${token}/packet.csv` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="[^"]+\.csv"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const lines = res.body.trim().split('\n');
    expect(lines[0]).toBe('name,country,confirmed_at');
    expect(lines).toHaveLength(9);
    expect(res.body).toContain(`"'=HYPERLINK(""x"") Z",DE,`);
    expect(res.body).toContain(`'+cmd Z,DE,`);
    expect(res.body).toContain(`'-1+1 Z,DE,`);
    expect(res.body).toContain(`'@SUM Z,DE,`);
    expect(res.body).toContain('Named Abroad,FR,');
    expect(res.body).not.toContain('Hidden');
    expect(res.body).not.toContain('@example.org');
    for (const line of lines.slice(1)) expect(line).not.toMatch(/^[=+\-@\t\r]/);
    expect(neutraliseCell('\tx')).toBe("'\tx");
    expect(neutraliseCell('\rx')).toBe("'\rx");
    expect(neutraliseCell('Ana')).toBe('Ana');
  });

  it('gives a PDF in the letter’s language, Cyrillic included', async () => {
    const res = await h.app.inject({ url: `/api/packets/${token}/packet.pdf` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="[^"]+\.pdf"$/);
    expect(res.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    expect(res.rawPayload.length).toBeGreaterThan(1500);

    await h.db.pool.query(`UPDATE letters SET locale = 'ru' WHERE id = $1`, [f.mxLetter]);
    try {
      const ru = await h.app.inject({ url: `/api/packets/${packetToken(h.secret, f.mxLetter, new Date())}/packet.pdf` });
      expect(ru.statusCode).toBe(200);
      expect(ru.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
      expect(ru.rawPayload.length).toBeGreaterThan(1500);
    } finally {
      await h.db.pool.query(`UPDATE letters SET locale = 'es' WHERE id = $1`, [f.mxLetter]);
    }
  });

  it('prints the request, counts, countries, member letters and consenting names, with date, action, organisation and page numbers on every page', async () => {
    const fx = await createAction(h.db, { kind: 'LETTER', locales: ['en', 'ru'], targets: [{ country: 'UZ', language: 'ru' }] });
    await h.db.pool.query(`UPDATE actions SET allow_personalisation = true WHERE id = $1`, [fx.action.id]);
    await h.cache.refresh();
    await signAndConfirm(
      fx.action.slug,
      signBody({ email: uniqueEmail('pdf-writer'), firstName: 'Writer', lastName: 'Abroad', country: 'FR', consentNamed: true, letterSubject: 'From Lyon', letterBody: 'Please let the Rapporteur in.' }),
    );
    // enough named signers for several pages
    for (let i = 0; i < 70; i++) {
      await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail(`pdf${i}`), firstName: `Signer${i}`, lastName: 'Named', country: 'DE', consentNamed: true }));
    }
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('pdf-home'), firstName: 'Hidden', lastName: 'AtHome', country: 'UZ', consentNamed: true }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const letterId = built!.letterIds[0]!;
    expect(await deliverLetter(letterDeps(), letterId)).toBe('sent');
    const res = await h.app.inject({ url: `/api/packets/${packetToken(h.secret, letterId, new Date())}/packet.pdf` });
    expect(res.statusCode).toBe(200);
    const pages = pdfText(res.rawPayload);
    expect(pages.length).toBeGreaterThan(1);
    const all = pages.join('\n');
    // in the letter's language (Russian), Cyrillic included
    expect(all).toContain('Наша просьба');
    expect(all).toContain('Request to officials ru');
    expect(all).toMatch(/Подписей в этой доставке: 72/);
    expect(all).toContain('Германия: 70');
    // a member's own letter, in the language it was written in
    expect(all).toContain('From Lyon');
    expect(all).toContain('Please let the Rapporteur in.');
    expect(all).toContain('Writer Abroad');
    expect(all).toContain('Signer69 Named');
    // never named to their own country's official, and nothing of the page's copy
    expect(all).not.toContain('Hidden');
    for (const pageCopy of ['Summary ru', 'Body ru', 'Summary en', 'Body en']) expect(all).not.toContain(pageCopy);
    // on every page: date, action, organisation and "Page n of m"
    const title = `Title ru ${fx.action.slug}`;
    pages.forEach((page, i) => {
      const flat = page.replace(/\s+/g, ' ');
      expect(flat, `page ${i + 1}`).toContain(`Страница ${i + 1} из ${pages.length}`);
      expect(flat, `page ${i + 1}`).toContain(title);
      expect(flat, `page ${i + 1}`).toContain(h.config.ORG_NAME);
      expect(flat, `page ${i + 1}`).toMatch(/\d{4} г\./);
    });
  });

  it('answers 410 for an expired link and 404 for a forged or foreign one, on every packet path', async () => {
    const expired = signToken(h.secret, 'packet', f.uzLetter, new Date(h.now.value.getTime() - 2000));
    const forged = signToken('another-secret-another-secret-0123456789', 'packet', f.uzLetter, new Date(Date.now() + 86_400_000));
    const otherPurpose = signToken(h.secret, 'confirm-signature', f.uzLetter, new Date(Date.now() + 86_400_000));
    const unknown = signToken(h.secret, 'packet', '00000000-0000-0000-0000-000000000000', new Date(Date.now() + 86_400_000));
    for (const suffix of ['', '/packet.csv', '/packet.pdf']) {
      expect((await h.app.inject({ url: `/api/packets/${expired}${suffix}` })).json()).toMatchObject({ statusCode: 410, code: 'link_expired' });
      for (const bad of [forged, otherPurpose, unknown, 'not-a-token', `${token.slice(0, -2)}xx`]) {
        const res = await h.app.inject({ url: `/api/packets/${bad}${suffix}` });
        expect(res.statusCode, `${bad}${suffix}`).toBe(404);
        expect(res.json().code).toBe('invalid_link');
      }
    }
    const post = await h.app.inject({ method: 'POST', url: `/api/packets/${expired}/responses`, payload: { body: 'Late' } });
    expect(post.json()).toMatchObject({ statusCode: 410, code: 'link_expired' });
    const postForged = await h.app.inject({ method: 'POST', url: `/api/packets/${forged}/responses`, payload: { body: 'Forged' } });
    expect(postForged.statusCode).toBe(404);
  });

  it('refuses hostile answers without writing anything', async () => {
    const count = async () => (await h.db.pool.query(`SELECT count(*)::int AS n FROM answers WHERE letter_id = $1`, [f.uzLetter])).rows[0].n as number;
    const before = await count();
    const url = `/api/packets/${token}/responses`;
    const hostile: [string, unknown, string?][] = [
      ['number body', { body: 42 }],
      ['array body', { body: ['a'] }],
      ['missing body', {}],
      ['empty body', { body: '   ' }],
      ['100 KB', { body: 'x'.repeat(100_000) }],
      ['control char', { body: 'Hello\u0007 there' }],
      ['NUL', { body: 'Hello\u0000' }],
      ['bidi override', { body: 'Hello \u202Eereh' }],
      ['unknown field', { body: 'Hello', publish: true }],
      ['wrong flag type', { body: 'Hello', acknowledgeOnly: 'yes please' }],
      ['json array', [{ body: 'Hello' }]],
      ['not json', 'body=<script>', 'text/plain'],
    ];
    for (const [label, payload, type] of hostile) {
      const res = await h.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': type ?? 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      expect(res.statusCode, label).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, label).toBeLessThan(500);
    }
    expect(await count()).toBe(before);
  });

  it('keeps a valid answer as one RECEIVED row, and stops at 10 per letter', async () => {
    const url = `/api/packets/${token}/responses`;
    const res = await h.app.inject({ method: 'POST', url, payload: { body: 'We have received the letter.\nThe ministry will reply.' } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ status: 'received' });
    const { rows } = await h.db.pool.query(`SELECT action_id, target_id, letter_id, status, body FROM answers WHERE letter_id = $1`, [f.uzLetter]);
    expect(rows).toEqual([
      { action_id: f.fx.action.id, target_id: f.fx.targets[0]!.id, letter_id: f.uzLetter, status: 'RECEIVED', body: 'We have received the letter.\nThe ministry will reply.' },
    ]);
    const ack = await h.app.inject({ method: 'POST', url, payload: { body: 'Receipt acknowledged.', acknowledgeOnly: true } });
    expect(ack.statusCode).toBe(201);
    // the official sees what they sent; the public sees nothing until staff publish
    const packet = (await h.app.inject({ url: `/api/packets/${token}` })).json();
    expect(packet.responses).toHaveLength(2);
    expect(packet.responses[0]).toMatchObject({ status: 'RECEIVED', body: 'We have received the letter.\nThe ministry will reply.' });

    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => h.app.inject({ method: 'POST', url, payload: { body: `Answer ${i}` } }).then((r) => r.statusCode)),
    );
    expect(results.filter((s) => s === 201)).toHaveLength(8);
    expect(results.filter((s) => s === 409)).toHaveLength(4);
    const n = await h.db.pool.query(`SELECT count(*)::int AS n FROM answers WHERE letter_id = $1`, [f.uzLetter]);
    expect(n.rows[0].n).toBe(10);
  });
});

describe('public ledger', () => {
  it('shows each letter of the action with accepted, bounced, opened and answered right', async () => {
    const g = await deliveredFixture();
    const uzToken = packetToken(h.secret, g.uzLetter, new Date());
    await h.app.inject({ url: `/api/packets/${uzToken}` });
    await h.db.pool.query(`UPDATE letters SET status = 'BOUNCED', bounced_at = now() WHERE id = $1`, [g.mxLetter]);
    await h.app.inject({ method: 'POST', url: `/api/packets/${uzToken}/responses`, payload: { body: 'Our answer.' } });
    await h.db.pool.query(`UPDATE answers SET status = 'PUBLISHED', published_at = now() WHERE letter_id = $1`, [g.uzLetter]);
    // a pending letter of a later batch: made, not accepted
    await signAndConfirm(g.fx.action.slug, signBody({ email: uniqueEmail('later'), country: 'FR' }));
    const later = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, g.fx.action.id, 'test');
    expect(later!.letterIds).toHaveLength(2);
    await h.cache.refresh();

    const res = await h.app.inject({ url: `/api/actions/${g.fx.action.slug}` });
    expect(res.statusCode).toBe(200);
    const ledger = res.json().ledger as { date: string; target: { name: string }; count: number; accepted: boolean; bounced: boolean; opened: boolean; answered: boolean; status: string }[];
    expect(ledger).toHaveLength(4);
    expect(ledger.slice(0, 2).every((e) => e.status === 'PENDING' && !e.accepted && !e.opened && e.count === 1)).toBe(true);
    const uz = ledger.find((e) => e.target.name === g.fx.targets[0]!.name && e.count === 8)!;
    const mx = ledger.find((e) => e.target.name === g.fx.targets[1]!.name && e.count === 8)!;
    expect(uz).toMatchObject({ accepted: true, bounced: false, opened: true, answered: true, status: 'SENT' });
    expect(mx).toMatchObject({ accepted: true, bounced: true, opened: false, answered: false, status: 'BOUNCED' });
    expect(new Date(uz.date).getTime()).not.toBeNaN();
    const dates = ledger.map((e) => new Date(e.date).getTime());
    expect([...dates].sort((a, b) => b - a)).toEqual(dates);
    expect(JSON.stringify(ledger)).not.toMatch(/@/);
  });
});
