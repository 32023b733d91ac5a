// Answers from officials, reviewed by staff, over HTTP against the real test database, Redis
// and an SMTP sink: roles and hostile input, attachments (safe types only, served as
// downloads), publishing shows the answer publicly and emails each opted-in signer exactly
// once in their language, and nobody else; rejecting hides it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { asStaff, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness, confirmSignatures, startTestMail } from '../testing/harness.ts';
import { owedAnswerNotifications, sendAnswerNotification } from './answer.service.ts';
import { buildBatch } from './batch.service.ts';
import { packetToken } from './packet.service.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
let campaigner: { id: string; cookie: string };
let viewer: { cookie: string };
const MAIL_FROM = 'Chorus <actions@chorus.example.org>';

beforeAll(async () => {
  h = await createHarness();
  ({ mailbox, mailer } = await startTestMail());
  campaigner = await staffSession(h.db, 'CAMPAIGNER');
  viewer = await staffSession(h.db, 'VIEWER');
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});
beforeEach(() => mailbox.clear());

const mailDeps = () => ({ pool: h.db.pool, mailer, secret: h.secret, clock: () => new Date(), publicBaseUrl: 'http://chorus.test', mailFrom: MAIL_FROM });

async function signAndConfirm(slug: string, body: Record<string, unknown>) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: body });
  expect(res.statusCode).toBe(202);
  await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(body.email as string)]);
}

const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');

/** An action delivered to one official, and the packet token of that letter. */
async function deliveredAction() {
  const fx = await createAction(h.db, { deliveryPolicy: 'ON_CLOSE', locales: ['en', 'es', 'fr', 'ru'] });
  await h.cache.refresh();
  const signers = {
    es: { email: uniqueEmail('es'), locale: 'es', consentContact: true },
    ru: { email: uniqueEmail('ru'), locale: 'ru', consentContact: true },
    fr: { email: uniqueEmail('fr'), locale: 'fr', consentContact: true },
    noConsent: { email: uniqueEmail('quiet'), locale: 'en', consentContact: false },
    unsubscribed: { email: uniqueEmail('unsub'), locale: 'en', consentContact: true },
    erased: { email: uniqueEmail('erased'), locale: 'en', consentContact: true },
    pending: { email: uniqueEmail('pending'), locale: 'en', consentContact: true },
  };
  for (const [k, s] of Object.entries(signers)) {
    if (k === 'pending') {
      expect((await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody(s) })).statusCode).toBe(202);
    } else await signAndConfirm(fx.action.slug, signBody(s));
  }
  await h.db.pool.query(`UPDATE supporters SET unsubscribed_at = now() WHERE email_index = $1`, [indexOfEmail(signers.unsubscribed.email)]);
  await h.db.pool.query(`UPDATE supporters SET erased_at = now(), email = NULL WHERE email_index = $1`, [indexOfEmail(signers.erased.email)]);
  // the French signer later withdrew contact consent on the data page
  await h.db.pool.query(
    `INSERT INTO consent_events (supporter_id, purpose, granted, wording_version, created_at)
     SELECT id, 'CONTACT', false, 'test', now() + interval '1 second' FROM supporters WHERE email_index = $1`,
    [indexOfEmail(signers.fr.email)],
  );
  const batch = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
  const letterId = batch!.letterIds[0]!;
  await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = now() - interval '2 hours', attempts = 1 WHERE id = $1`, [letterId]);
  return { fx, signers, letterId, token: packetToken(h.secret, letterId, new Date()) };
}

async function answer(token: string, payload: Record<string, unknown>) {
  return h.app.inject({ method: 'POST', url: `/api/packets/${token}/responses`, payload });
}

async function answerId(actionId: string): Promise<string> {
  const res = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/answers?action=${actionId}` });
  expect(res.statusCode).toBe(200);
  return res.json().answers[0].id;
}

async function drainOutbox(answerId: string) {
  const { rows } = await h.db.pool.query<{ id: string }>(`SELECT id FROM answer_notifications WHERE answer_id = $1`, [answerId]);
  // every row sent by two workers at once: only one of them may send it
  const outcomes = await Promise.all(rows.flatMap((r) => [sendAnswerNotification(mailDeps(), r.id), sendAnswerNotification(mailDeps(), r.id)]));
  return outcomes;
}

describe('attachments on the packet page', () => {
  it('keeps safe files with the answer, refuses unsafe or mislabelled ones, and serves them only as downloads', async () => {
    const { fx, token } = await deliveredAction();
    const bad = [
      { filename: 'x.html', contentType: 'text/html', data: Buffer.from('<script>alert(1)</script>').toString('base64') },
      { filename: 'fake.pdf', contentType: 'application/pdf', data: Buffer.from('<html>not a pdf</html>').toString('base64') },
      { filename: 'a/b.pdf', contentType: 'application/pdf', data: PDF.toString('base64') },
      { filename: 'x.pdf', contentType: 'application/pdf', data: 'not base64!' },
      { filename: 'big.txt', contentType: 'text/plain', data: Buffer.alloc(5 * 1024 * 1024 + 10, 97).toString('base64') },
    ];
    for (const a of bad) {
      const res = await answer(token, { body: 'Our reply', attachments: [a] });
      expect(res.statusCode, a.filename).toBe(422);
    }
    expect((await answer(token, { body: 'x', attachments: [1, 2, 3, 4].map(() => ({ filename: 'a.pdf', contentType: 'application/pdf', data: PDF.toString('base64') })) })).statusCode).toBe(422);
    expect((await h.db.pool.query(`SELECT count(*)::int AS n FROM answers WHERE action_id = $1`, [fx.action.id])).rows[0].n).toBe(0);

    const ok = await answer(token, {
      body: 'We have opened an inquiry.',
      attachments: [
        { filename: 'Décision officielle.pdf', contentType: 'application/pdf', data: PDF.toString('base64') },
        { filename: 'note.txt', contentType: 'text/plain', data: Buffer.from('Note').toString('base64') },
      ],
    });
    expect(ok.statusCode).toBe(201);
    const id = await answerId(fx.action.id);
    const a = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/answers/${id}` })).json();
    expect(a.attachments.map((x: { filename: string; size: number }) => [x.filename, x.size])).toEqual([
      ['Décision officielle.pdf', PDF.length],
      ['note.txt', 4],
    ]);
    const file = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/answers/${id}/attachments/${a.attachments[0].id}` });
    expect(file.statusCode).toBe(200);
    expect(file.rawPayload.equals(PDF)).toBe(true);
    expect(file.headers['content-type']).toBe('application/pdf');
    expect(file.headers['content-disposition']).toMatch(/^attachment; filename="D_cision_officielle.pdf"; filename\*=UTF-8''D%C3%A9cision/);
    expect(file.headers['x-content-type-options']).toBe('nosniff');
    // the official's own packet lists the answer with its files, and gives them back, published or not
    const packet = (await h.app.inject({ url: `/api/packets/${token}` })).json();
    expect(packet.responses[0].attachments.map((x: { filename: string; size: number }) => [x.filename, x.size])).toEqual([
      ['Décision officielle.pdf', PDF.length],
      ['note.txt', 4],
    ]);
    const own = await h.app.inject({ url: `/api/packets/${token}/attachments/${packet.responses[0].attachments[0].id}` });
    expect(own.statusCode).toBe(200);
    expect(own.rawPayload.equals(PDF)).toBe(true);
    expect(own.headers['content-disposition']).toMatch(/^attachment;/);
    // another letter's token does not open it
    const other = await deliveredAction();
    expect((await h.app.inject({ url: `/api/packets/${other.token}/attachments/${packet.responses[0].attachments[0].id}` })).statusCode).toBe(404);
    expect((await h.app.inject({ url: `/api/packets/${token}/attachments/not-an-id` })).statusCode).toBe(404);
    // the public download exists only once published
    const publicUrl = `/api/answers/${id}/attachments/${a.attachments[0].id}`;
    expect((await h.app.inject({ method: 'GET', url: publicUrl })).statusCode).toBe(404);
    expect((await asStaff(h.app, null, { method: 'GET', url: `/api/admin/answers/${id}/attachments/${a.attachments[0].id}` })).statusCode).toBe(401);
    await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: {} });
    const pub = await h.app.inject({ method: 'GET', url: publicUrl });
    expect(pub.statusCode).toBe(200);
    expect(pub.headers['content-disposition']).toMatch(/^attachment;/);
    expect(pub.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('attachment names follow the checked type', () => {
  it('reply.hta (a PDF), evil.html (text), a PNG called .exe: stored and served under the extension of what they are', async () => {
    const { fx, token } = await deliveredAction();
    const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    const res = await answer(token, {
      body: 'See the files.',
      attachments: [
        { filename: 'reply.hta', contentType: 'application/pdf', data: PDF.toString('base64') },
        { filename: 'evil.html', contentType: 'text/plain', data: Buffer.from('<script>alert(1)</script>').toString('base64') },
        { filename: 'photo.png.exe. . ', contentType: 'image/png', data: PNG.toString('base64') },
      ],
    });
    expect(res.statusCode).toBe(201);
    const id = await answerId(fx.action.id);
    const stored = await h.db.pool.query<{ filename: string }>(`SELECT filename FROM answer_attachments WHERE answer_id = $1 ORDER BY created_at, filename`, [id]);
    expect(stored.rows.map((r) => r.filename).sort()).toEqual(['evil.txt', 'photo.png.png', 'reply.pdf']);
    const a = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/answers/${id}` })).json();
    for (const x of a.attachments as { id: string; filename: string }[]) {
      const file = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/answers/${id}/attachments/${x.id}` });
      expect(file.headers['content-disposition']).not.toMatch(/\.(hta|html|exe)\b/i);
      expect(file.headers['content-disposition']).toMatch(/\.(pdf|txt|png)"; filename\*=UTF-8''[^;]+\.(pdf|txt|png)$/);
    }
  });
});

describe('publishing an answer', () => {
  it('emails each opted-in confirmed signer once, in their language, and nobody else, even when published twice', async () => {
    const { fx, signers, token } = await deliveredAction();
    expect((await answer(token, { body: 'We received your letter and will investigate.' })).statusCode).toBe(201);
    const id = await answerId(fx.action.id);
    const listed = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/answers?status=RECEIVED' })).json();
    expect(listed.answers.find((x: { id: string }) => x.id === id)).toMatchObject({
      status: 'RECEIVED',
      responseSeconds: expect.any(Number),
      action: { id: fx.action.id },
    });
    expect(listed.answers.find((x: { id: string }) => x.id === id).responseSeconds).toBeGreaterThanOrEqual(7000);

    // a viewer may not publish; nothing happens
    expect((await asStaff(h.app, viewer.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: {} })).statusCode).toBe(403);
    expect((await asStaff(h.app, null, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: {} })).statusCode).toBe(401);

    const pub = await asStaff(h.app, campaigner.cookie, {
      method: 'POST',
      url: `/api/admin/answers/${id}/publish`,
      payload: { publicSummary: 'The ministry has opened an inquiry.' },
    });
    expect(pub.statusCode).toBe(200);
    expect(pub.json()).toEqual({ status: 'PUBLISHED', notificationsOwed: 2 });
    const audit = (await h.db.pool.query(`SELECT verb, staff_id, after FROM audit_log WHERE entity_id = $1 ORDER BY id`, [id])).rows;
    expect(audit).toEqual([{ verb: 'answer_published', staff_id: campaigner.id, after: expect.objectContaining({ status: 'PUBLISHED', notificationsOwed: 2 }) }]);

    // publishing again (say, to edit the summary) owes nobody a second email
    const again = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: { publicSummary: 'Edited summary.' } });
    expect(again.json()).toEqual({ status: 'PUBLISHED', notificationsOwed: 0 });

    // the sweeper's view: both emails owed (so a lost job or a flushed Redis loses neither)
    const owedIds = (await h.db.pool.query<{ id: string }>(`SELECT id FROM answer_notifications WHERE answer_id = $1`, [id])).rows.map((r) => r.id);
    // one mail job per owed email, carrying the row id only: no address or name in Redis
    for (const nid of owedIds) {
      const job = await h.queues.mail.getJob(`answer-${nid}`);
      expect(job?.data).toEqual({ kind: 'answer', notificationId: nid });
      const raw = JSON.stringify(await h.redis.hgetall(`bull:chorus-mail:answer-${nid}`));
      expect(raw).not.toContain('@');
      await job?.remove().catch(() => {});
    }
    expect(await owedAnswerNotifications(h.db.pool, new Date(Date.now() + 60_000))).toEqual(expect.arrayContaining(owedIds));
    const outcomes = await drainOutbox(id);
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(2);
    expect(await drainOutbox(id)).toEqual(['not-owed', 'not-owed', 'not-owed', 'not-owed']);
    const stillOwed = await owedAnswerNotifications(h.db.pool, new Date(Date.now() + 60_000));
    expect(stillOwed.filter((x) => owedIds.includes(x))).toEqual([]);
    const mails = mailbox.messages();
    expect(mails.map((m) => m.envelope.to[0]).sort()).toEqual([signers.es.email, signers.ru.email].sort());
    const es = mails.find((m) => m.envelope.to[0] === signers.es.email)!;
    const ru = mails.find((m) => m.envelope.to[0] === signers.ru.email)!;
    expect(es.subject).toMatch(/^Una autoridad ha respondido/);
    expect(ru.subject).toMatch(/^Официальный ответ/);
    expect(es.text).toContain('Edited summary.');
    // staff's summary says it is one, in the signer's language: never passed off as the official's words
    expect(es.text).toContain('Nuestro resumen de su respuesta, no sus propias palabras:');
    expect(ru.text).toContain('Наш пересказ ответа');
    // and in another language than the email's, it says which (the action's default language here)
    expect(es.text).toContain('Idioma: inglés.');
    expect(ru.text).toContain('Язык: английский.');
    expect(es.text).toContain('http://chorus.test/es/actions/');
    expect(es.listUnsubscribe).toMatch(/^<http:\/\/chorus\.test\/api\/unsubscribe\/.+>$/);
    expect(es.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    expect(es.messageId).toMatch(/^<answer\.[0-9a-f-]+@chorus\.example\.org>$/);

    // shown on the public action page, as the summary, with the response time on the ledger
    await h.cache.refresh();
    const page = (await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}` })).json();
    expect(page.responses).toEqual([expect.objectContaining({ id, body: 'Edited summary.', summary: true, attachments: [] })]);
    expect(page.ledger[0]).toMatchObject({ answered: true, responseSeconds: expect.any(Number) });
    expect(page.ledger[0].responseSeconds).toBeGreaterThanOrEqual(7000);
    // the language of what is shown: staff's summary is in the action's default language, the
    // official's own words in the official's (a Russian-speaking official here)
    await h.db.pool.query(`UPDATE targets SET language = 'ru' WHERE id = $1`, [fx.targets[0]!.id]);
    await h.cache.refresh();
    const defaultLocale = (await h.db.pool.query<{ default_locale: string }>(`SELECT default_locale FROM actions WHERE id = $1`, [fx.action.id])).rows[0]!.default_locale;
    expect((await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}` })).json().responses[0]).toMatchObject({ body: 'Edited summary.', locale: defaultLocale });
    expect(defaultLocale).not.toBe('ru');
    const unsummarised = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: { publicSummary: '' } });
    expect(unsummarised.json()).toEqual({ status: 'PUBLISHED', notificationsOwed: 0 });
    await h.cache.refresh();
    expect((await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}` })).json().responses[0]).toMatchObject({
      body: 'We received your letter and will investigate.',
      locale: 'ru',
      summary: false,
    });
    await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: { publicSummary: 'Edited summary.' } });

    const staffView = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/answers/${id}` })).json();
    expect(staffView).toMatchObject({ status: 'PUBLISHED', publicSummary: 'Edited summary.', notifications: { owed: 0, sent: 2 } });
    const ledger = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/deliveries/${fx.action.id}` })).json();
    expect(ledger.targets[0]).toMatchObject({ answered: 1, medianResponseSeconds: expect.any(Number) });
    expect(ledger.batches[0].letters[0]).toMatchObject({ answeredAt: expect.any(String), responseSeconds: expect.any(Number) });
  });

  it('an acknowledgement of receipt, published, is shown as one without its mark and emails nobody: it is not an answer', async () => {
    const { fx, token } = await deliveredAction();
    expect((await answer(token, { body: 'We confirm receipt of your letter.', acknowledgeOnly: true })).statusCode).toBe(201);
    const id = await answerId(fx.action.id);
    const pub = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: {} });
    expect(pub.json()).toEqual({ status: 'PUBLISHED', notificationsOwed: 0 });
    expect((await h.db.pool.query(`SELECT count(*)::int AS n FROM answer_notifications WHERE answer_id = $1`, [id])).rows[0].n).toBe(0);
    await h.cache.refresh();
    const page = (await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}` })).json();
    expect(page.responses).toEqual([expect.objectContaining({ id, body: 'We confirm receipt of your letter.', acknowledgement: true, summary: false })]);
    expect(JSON.stringify(page)).not.toContain('[acknowledgement of receipt]');
  });

  it('a signer who unsubscribes after publishing is not emailed; rejecting withdraws the answer and drops what is owed', async () => {
    const { fx, signers, token } = await deliveredAction();
    await answer(token, { body: 'An answer to withdraw.' });
    const id = await answerId(fx.action.id);
    const first = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish` });
    expect(first.json()).toEqual({ status: 'PUBLISHED', notificationsOwed: 2 });
    await h.db.pool.query(`UPDATE supporters SET unsubscribed_at = now() WHERE email_index = $1`, [indexOfEmail(signers.ru.email)]);
    const { rows } = await h.db.pool.query<{ id: string; locale: string }>(`SELECT id, locale FROM answer_notifications WHERE answer_id = $1 ORDER BY locale`, [id]);
    expect(rows.map((r) => r.locale)).toEqual(['es', 'ru']);
    expect(await sendAnswerNotification(mailDeps(), rows[1]!.id)).toBe('dropped');
    expect(mailbox.messages()).toHaveLength(0);

    const rej = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/reject` });
    expect(rej.statusCode).toBe(200);
    expect(await sendAnswerNotification(mailDeps(), rows[0]!.id)).toBe('not-owed');
    expect(mailbox.messages()).toHaveLength(0);
    await h.cache.refresh();
    expect((await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}` })).json().responses).toEqual([]);
    // a rejected answer cannot be published
    const pub = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${id}/publish`, payload: {} });
    expect(pub.statusCode).toBe(409);
    expect((await h.db.pool.query(`SELECT verb FROM audit_log WHERE entity_id = $1 ORDER BY id`, [id])).rows.map((r) => r.verb)).toEqual([
      'answer_published',
      'answer_rejected',
    ]);
  });

  it('answers hostile input with 4xx', async () => {
    const { fx, token } = await deliveredAction();
    await answer(token, { body: 'Short answer' });
    const id = await answerId(fx.action.id);
    const post = (url: string, payload?: unknown) => asStaff(h.app, campaigner.cookie, { method: 'POST', url, payload: payload as object });
    expect((await post(`/api/admin/answers/${id}/publish`, { publicSummary: 'x'.repeat(5001) })).statusCode).toBe(422);
    expect((await post(`/api/admin/answers/${id}/publish`, { publicSummary: 42 })).statusCode).toBe(422);
    expect((await post(`/api/admin/answers/${id}/publish`, { other: 1 })).statusCode).toBe(422);
    expect((await post(`/api/admin/answers/not-an-id/publish`, {})).statusCode).toBe(404);
    expect((await post(`/api/admin/answers/00000000-0000-4000-8000-000000000000/reject`)).statusCode).toBe(404);
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/answers?status=NOPE' })).statusCode).toBe(422);
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/answers?action=%27or%201=1' })).statusCode).toBe(404);
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/answers/${id}/attachments/nope` })).statusCode).toBe(404);
    // nothing of it changed the answer
    expect((await h.db.pool.query(`SELECT status FROM answers WHERE id = $1`, [id])).rows[0].status).toBe('RECEIVED');
  });
});
