// Promise 14: an official's answer reaches the signers who asked to hear, once each, and is
// published as written or as staff summarised it, never altered.
// "Once each" is attacked in server/src/delivery/answer.api.test.ts (every owed email sent by two
// workers at once, then again; published twice; unsubscribed, erased, pending and non-consenting
// signers). Here the answer's text is what an official might write that a renderer could bend:
// markup, entities, template syntax, scripts of other languages, blank lines. Published without a
// summary, the public answer and the signers' email carry it exactly; a summary replaces it in
// public without touching what the official wrote.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBatch } from '../../server/src/delivery/batch.service.ts';
import { sendAnswerNotification } from '../../server/src/delivery/answer.service.ts';
import { packetToken } from '../../server/src/delivery/packet.service.ts';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox } from '../../server/src/mailbox/mailbox.service.ts';
import { asStaff, confirmSignatures, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness, startTestMail } from '../../server/src/testing/harness.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';

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

const ANSWER = [
  'Dear signers,',
  '',
  'We <b>received</b> your letter &amp; read it. {{publicBaseUrl}} {{{firstName}}} ${secret} <script>alert(1)</script>',
  '   Indented line, "quoted", \'single\', back\\slash, 100% & <3',
  'Арабский: نحن نحقق في الأمر — Русский: мы расследуем. 🕊️',
  '',
  '',
  '*Not markdown*, _not_ either; # not a heading',
  'Minister of Justice',
].join('\n');

/** The text of an HTML part as a reader sees it (tags dropped, entities decoded). */
function visibleText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&#x3D;/g, '=')
    .replace(/&#x60;/g, '`')
    .replace(/&amp;/g, '&');
}

describe('promise 14: an answer as written', () => {
  it('is published and emailed exactly as the official wrote it; a summary shows instead without changing it', async () => {
    const fx = await createAction(h.db, { deliveryPolicy: 'ON_CLOSE' });
    await h.cache.refresh();
    const email = uniqueEmail('hears');
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email, consentContact: true }) })).statusCode).toBe(202);
    await confirmSignatures(h.db.pool, `p.email_index = $1`, [indexOfEmail(email)]);
    const batch = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const letterId = batch!.letterIds[0]!;
    await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = now(), attempts = 1 WHERE id = $1`, [letterId]);
    const token = packetToken(h.secret, letterId, new Date());

    const answered = await h.app.inject({ method: 'POST', url: `/api/packets/${token}/responses`, payload: { body: ANSWER } });
    expect(answered.statusCode, answered.body).toBe(201);
    const campaigner = await staffSession(h.db, 'CAMPAIGNER');
    const list = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/answers?action=${fx.action.id}` });
    const id: string = list.json().answers[0].id;
    const staffView = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/answers/${id}` });
    expect(staffView.json().body).toBe(ANSWER);

    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: {} })).statusCode).toBe(200);
    await h.cache.refresh();
    const published = (await h.app.inject({ url: `/api/actions/${fx.action.slug}` })).json();
    expect(published.responses.map((r: { body: string }) => r.body)).toEqual([ANSWER]);

    mailbox.clear();
    const { rows } = await h.db.pool.query<{ id: string }>(`SELECT id FROM answer_notifications WHERE answer_id = $1`, [id]);
    expect(rows).toHaveLength(1);
    expect(await sendAnswerNotification(
      { pool: h.db.pool, mailer, secret: h.secret, clock: () => new Date(), publicBaseUrl: 'http://chorus.test', mailFrom: 'Chorus <actions@chorus.example.org>' },
      rows[0]!.id,
    )).toBe('sent');
    const [mail] = mailbox.messages();
    expect(mail!.envelope.to).toEqual([email]);
    // the text part carries every line as written, and the HTML part shows the same words
    for (const line of ANSWER.split('\n').filter(Boolean)) {
      expect(mail!.text, 'text part').toContain(line);
      expect(visibleText(mail!.html ?? ''), 'html part').toContain(line.trim());
    }
    expect(mail!.html).not.toContain('<script>alert(1)</script>');
    expect(mail!.html).not.toContain('<b>received</b>');

    // a summary replaces it in public; the official's words stay as they were
    const summary = 'The ministry says it has opened an inquiry <and> will report back.';
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: { publicSummary: summary } })).statusCode).toBe(200);
    await h.cache.refresh();
    // and says it is one: a summary is never passed off as the official's own words
    expect((await h.app.inject({ url: `/api/actions/${fx.action.slug}` })).json().responses.map((r: { body: string; summary: boolean }) => [r.body, r.summary])).toEqual([[summary, true]]);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/answers/${id}` })).json().body).toBe(ANSWER);
    expect((await h.db.pool.query(`SELECT body FROM answers WHERE id = $1`, [id])).rows[0].body).toBe(ANSWER);
  });
});
