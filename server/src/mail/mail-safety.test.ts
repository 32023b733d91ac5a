// Mail safety against a real SMTP server (the development mailbox on a free port): no header
// injection from any member or staff field, and every member-supplied field escaped in the
// HTML of emails and letters. The hostile values are written straight into the database, as
// an import or a careless staff edit could, so the API's own validation does not hide a gap
// in the mail path.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildBatch } from '../delivery/batch.service.ts';
import { deliverLetter } from '../letter/letter.service.ts';
import type { Mailbox, StoredMessage } from '../mailbox/mailbox.service.ts';
import { sendConfirmation } from '../signature/confirmation.service.ts';
import { createAction, createHarness, letterConfig, signBody, uniqueEmail, type Harness, confirmSignatures, startTestMail } from '../testing/harness.ts';
import type { Mailer } from './mailer.ts';
import { dataKeyOf, indexOfEmail, openedSignatures } from '../testing/sealed.ts';
import { sealLetter, sealName } from '../privacy/personal-data.ts';

const TEMPLATES = fileURLToPath(new URL('../../../templates/', import.meta.url));
const INJECT = '\r\nBcc: evil@evil.example\r\nX-Injected: yes\r\n\r\n<script>alert(1)</script>';
const HTML = '<script>alert(2)</script><img src=x onerror=alert(3)><a href="javascript:alert(4)">x</a> & "quotes"';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;

beforeAll(async () => {
  h = await createHarness();
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});
beforeEach(() => mailbox.clear());

/** The header section of the raw message, as received. */
const headerSection = (m: StoredMessage) => m.raw.split(/\r?\n\r?\n/, 1)[0]!;

function assertNoInjection(m: StoredMessage, intendedTo: string) {
  // the SMTP envelope went to the one intended recipient and nobody else
  expect(m.envelope.to).toEqual([intendedTo]);
  const head = headerSection(m);
  // no header line that a field smuggled in
  expect(head).not.toMatch(/^(bcc|cc|x-injected):/im);
  expect(m.headers['bcc']).toBeUndefined();
  expect(m.headers['x-injected']).toBeUndefined();
  expect(m.subject).not.toMatch(/[\r\n]/);
}

function assertEscaped(html: string) {
  expect(html).not.toMatch(/<script|<img|<a href="javascript|onerror=/i);
}

describe('templates', () => {
  it('use the triple-stash only for content rendered by an escaping template (layout content, member letters)', () => {
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (f.endsWith('.hbs')) for (const m of readFileSync(p, 'utf8').matchAll(/\{\{\{\s*([^}]+?)\s*\}\}\}/g)) found.push(`${f}:${m[1]}`);
      }
    };
    walk(TEMPLATES);
    expect(new Set(found)).toEqual(new Set(['layout.html.hbs:content', 'letter.html.hbs:this.html']));
  });
});

describe('no header injection, member text escaped', () => {
  it('a confirmation email to a supporter whose name carries CR/LF and markup', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('mailsafety');
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email }) })).statusCode).toBe(202);
    // the name the sign-up gave, which its confirmation email shows
    // (sealed under the supporter's data key, as the signing path stores it)
    const [signup] = await openedSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    const key = await dataKeyOf(h.db.pool, signup!.supporter_id);
    const { rows } = await h.db.pool.query<{ id: string }>(`UPDATE signatures SET pending_name = $2 WHERE id = $1 RETURNING id`, [
      signup!.id,
      sealName(key, signup!.supporter_id, `Eve${INJECT}`, HTML),
    ]);
    // an action title with the same, as a careless staff edit could leave it
    await h.db.pool.query(`UPDATE action_texts SET title = $2 WHERE action_id = $1`, [fx.action.id, `Title${INJECT}${HTML}`]);
    expect(await sendConfirmation(mailDeps(), rows[0]!.id)).toBe('sent');
    const [m] = mailbox.messages();
    assertNoInjection(m!, email);
    assertEscaped(m!.html ?? '');
    expect(m!.html).toContain('&lt;script&gt;');
  });

  it('a letter whose staff fields (subject, salutation, target name, reply-to) and member fields (names, own letter) are hostile', async () => {
    const target = `minister.${Date.now()}@gov.example`;
    const fx = await createAction(h.db, { kind: 'LETTER', targets: [{ country: null, language: 'en', email: target }] });
    await h.db.pool.query(`UPDATE action_texts SET letter_subject = $2, official_request = $3 WHERE action_id = $1`, [
      fx.action.id,
      `Subject${INJECT}`,
      `Please act.${INJECT}${HTML}`,
    ]);
    await h.db.pool.query(`UPDATE targets SET name = $2, salutation = $3 WHERE id = $1`, [fx.targets[0]!.id, `Name${INJECT}`, `Dear ${HTML}${INJECT}`]);
    await h.db.pool.query(`UPDATE actions SET reply_to = $2 WHERE id = $1`, [fx.action.id, 'campaigns@chorus.example.org\r\nBcc: evil@evil.example']);
    await h.cache.refresh();
    const email = uniqueEmail('letterwriter');
    const res = await h.app.inject({
      method: 'POST',
      url: `/api/actions/${fx.action.slug}/signatures`,
      payload: signBody({ email, consentNamed: true, letterBody: 'My own words.' }),
    });
    expect(res.statusCode).toBe(202);
    // hostile names on the sign-up become the supporter's when it is confirmed
    // (sealed under the supporter's data key, as the signing path stores them)
    const [signup] = await openedSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    const key = await dataKeyOf(h.db.pool, signup!.supporter_id);
    await h.db.pool.query(`UPDATE signatures SET letter = $2, pending_name = $3 WHERE id = $1`, [
      signup!.id,
      sealLetter(key, signup!.supporter_id, `Mine${INJECT}`, `My words ${HTML}${INJECT}`),
      sealName(key, signup!.supporter_id, `Eve${INJECT}`, HTML),
    ]);
    expect(await openedSignatures(h.db.pool, 's.id = $1', [signup!.id])).toEqual([
      expect.objectContaining({ pending_first_name: `Eve${INJECT}`, pending_last_name: HTML, letter_subject: `Mine${INJECT}`, letter_body: `My words ${HTML}${INJECT}` }),
    ]);
    await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    const built = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    expect(built).not.toBeNull();
    const { rows: letters } = await h.db.pool.query<{ id: string }>('SELECT id FROM letters WHERE batch_id = $1', [built!.batchId]);
    for (const l of letters) {
      const outcome = await deliverLetter(
        { pool: h.db.pool, mailer, mailFrom: 'Chorus <actions@chorus.example.org>', organisation: 'Chorus Test', staleSubmittingMs: 60_000, clock: () => new Date(), queues: { enqueueLetters: async () => {} }, random: () => 1, ...letterConfig(h) },
        l.id,
      );
      expect(['sent', 'retry-scheduled']).toContain(outcome);
    }
    const received = mailbox.messages();
    expect(received.length).toBe(1);
    const m = received[0]!;
    assertNoInjection(m, target);
    assertEscaped(m.html ?? '');
    // the member's words and name arrive, escaped, not dropped
    expect(m.html).toContain('My words &lt;script&gt;');
    expect(m.text).toContain('My words <script>alert(2)</script>');
    expect(m.html).toContain('Eve');
  });
});

function mailDeps() {
  return {
    pool: h.db.pool,
    mailer,
    secret: h.secret,
    clock: () => new Date(),
    confirmLinkTtlHours: 24,
    publicBaseUrl: 'http://chorus.test',
    mailFrom: 'Chorus <actions@chorus.example.org>',
  };
}
