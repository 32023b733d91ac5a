// Staff delivery controls over HTTP, against the real test database, Redis and an SMTP sink:
// roles, hostile input, pause/resume against the batcher, send now exactly once, a preview
// that writes nothing and matches what is then sent, the ledger and the retry of a failed letter.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { deliverLetter } from '../letter/letter.service.ts';
import { asStaff, createAction, createHarness, letterConfig, signBody, staffSession, uniqueEmail, type Harness, confirmSignatures, startTestMail } from '../testing/harness.ts';
import { buildBatch, buildDueBatches } from './batch.service.ts';
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

const noQueue = { enqueueLetters: async () => {} };
const letterDeps = () => ({
  pool: h.db.pool,
  mailer,
  mailFrom: MAIL_FROM,
  // as the worker runs it: the organisation and the packet link from the configuration
  organisation: h.config.ORG_NAME,
  staleSubmittingMs: 60_000,
  clock: () => new Date(),
  queues: noQueue,
  random: () => 1,
  ...letterConfig(h),
});

async function signAndConfirm(slug: string, body: Record<string, unknown>) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: body });
  expect(res.statusCode).toBe(202);
  await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(body.email as string)]);
}

async function actionWithSigners(n: number, opts: Parameters<typeof createAction>[1] = {}) {
  const fx = await createAction(h.db, { deliveryPolicy: 'ON_CLOSE', ...opts });
  await h.cache.refresh();
  for (let i = 0; i < n; i++) {
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail(`s${i}`), country: i % 2 ? 'FR' : 'MX', firstName: `Ana${i}`, consentNamed: true }));
  }
  return fx;
}

const counts = async (actionId: string) => {
  const { rows } = await h.db.pool.query(
    `SELECT (SELECT count(*)::int FROM delivery_batches WHERE action_id = $1) AS batches,
            (SELECT count(*)::int FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE b.action_id = $1) AS letters,
            (SELECT count(*)::int FROM signatures WHERE action_id = $1 AND batch_id IS NOT NULL) AS batched,
            (SELECT count(*)::int FROM audit_log WHERE entity_id = $1::text) AS audit`,
    [actionId],
  );
  return rows[0] as { batches: number; letters: number; batched: number; audit: number };
};

const lastAudit = async (entityId: string) =>
  (await h.db.pool.query(`SELECT verb, staff_id, before, after FROM audit_log WHERE entity_id = $1 ORDER BY id DESC LIMIT 1`, [entityId])).rows[0];

describe('delivery routes: who may call them', () => {
  it('refuses without a session (401) and refuses a viewer every change (403), but lets a viewer read', async () => {
    const fx = await actionWithSigners(1);
    const id = fx.action.id;
    for (const [method, url] of [
      ['GET', '/api/admin/deliveries'],
      ['GET', `/api/admin/deliveries/${id}`],
      ['GET', `/api/admin/deliveries/${id}/preview`],
      ['PUT', `/api/admin/deliveries/${id}/policy`],
      ['POST', `/api/admin/deliveries/${id}/pause`],
      ['POST', `/api/admin/deliveries/${id}/resume`],
      ['POST', `/api/admin/deliveries/${id}/send-now`],
      ['POST', `/api/admin/deliveries/letters/${id}/retry`],
    ] as const) {
      const res = await asStaff(h.app, null, { method, url, payload: method === 'PUT' ? { policy: 'IMMEDIATE' } : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
    for (const [method, url] of [
      ['PUT', `/api/admin/deliveries/${id}/policy`],
      ['POST', `/api/admin/deliveries/${id}/pause`],
      ['POST', `/api/admin/deliveries/${id}/send-now`],
      ['POST', `/api/admin/deliveries/letters/${id}/retry`],
    ] as const) {
      const res = await asStaff(h.app, viewer.cookie, { method, url, payload: method === 'PUT' ? { policy: 'IMMEDIATE' } : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
    }
    expect((await counts(id)).batches).toBe(0);
    const list = await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/deliveries' });
    expect(list.statusCode).toBe(200);
    const row = list.json().actions.find((a: { id: string }) => a.id === id);
    expect(row).toMatchObject({ owed: 1, paused: false, failedLetters: 0, policy: 'ON_CLOSE' });
    // the preview shows named signers and members' own letters: not for viewers (promise 17)
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/deliveries/${id}/preview` })).statusCode).toBe(403);
  });

  it('refuses a state change without the console CSRF header', async () => {
    const fx = await actionWithSigners(0);
    const res = await h.app.inject({ method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/pause`, headers: { cookie: campaigner.cookie } });
    expect(res.statusCode).toBe(403);
  });
});

describe('delivery policy', () => {
  it('sets each policy, audited, and answers hostile input with 4xx', async () => {
    const fx = await actionWithSigners(0);
    const url = `/api/admin/deliveries/${fx.action.id}/policy`;
    const put = (payload: unknown) => asStaff(h.app, campaigner.cookie, { method: 'PUT', url, payload: payload as object });

    const digest = await put({ policy: 'DAILY_DIGEST' });
    expect(digest.statusCode).toBe(200);
    expect(digest.json()).toMatchObject({ policy: 'DAILY_DIGEST' });
    expect(await lastAudit(fx.action.id)).toMatchObject({ verb: 'delivery_policy_set', staff_id: campaigner.id, before: { policy: 'ON_CLOSE' } });

    expect((await put({ policy: 'EVERY_N', everyN: 25 })).json()).toMatchObject({ policy: 'EVERY_N', everyN: 25 });
    expect((await put({ policy: 'MILESTONES', milestones: [500, 100, 100] })).json()).toMatchObject({ milestones: [100, 500] });
    const row = (await h.db.pool.query(`SELECT delivery_policy, delivery_every_n, milestones FROM actions WHERE id = $1`, [fx.action.id])).rows[0];
    expect(row).toEqual({ delivery_policy: 'MILESTONES', delivery_every_n: 25, milestones: [100, 500] });

    for (const bad of [
      { policy: 'HOURLY' },
      { policy: 'EVERY_N' },
      { policy: 'EVERY_N', everyN: 0 },
      { policy: 'EVERY_N', everyN: 'x' },
      { policy: 'MILESTONES', milestones: [] },
      { policy: 'MILESTONES', milestones: [-5] },
      { policy: 'IMMEDIATE', extra: 1 },
      {},
    ]) {
      const res = await put(bad);
      expect(res.statusCode, JSON.stringify(bad)).toBe(422);
      expect(res.json()).toMatchObject({ statusCode: 422, code: expect.any(String) });
    }
    expect((await asStaff(h.app, campaigner.cookie, { method: 'PUT', url: '/api/admin/deliveries/not-a-uuid/policy', payload: { policy: 'IMMEDIATE' } })).statusCode).toBe(404);
    expect(
      (await asStaff(h.app, campaigner.cookie, { method: 'PUT', url: '/api/admin/deliveries/00000000-0000-4000-8000-000000000000/policy', payload: { policy: 'IMMEDIATE' } }))
        .statusCode,
    ).toBe(404);
  });
});

describe('pause and resume', () => {
  it('a paused action gets no batch from the batcher; resuming lets the next run take what is owed', async () => {
    const fx = await actionWithSigners(3, { deliveryPolicy: 'IMMEDIATE' });
    const pause = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/pause` });
    expect(pause.statusCode).toBe(200);
    expect(pause.json()).toEqual({ paused: true });
    expect(await lastAudit(fx.action.id)).toMatchObject({ verb: 'delivery_paused', after: { paused: true } });

    const deps = { pool: h.db.pool, queues: noQueue, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN };
    const built = await buildDueBatches(deps);
    expect(built.map((b) => b.actionId)).not.toContain(fx.action.id);
    expect(await counts(fx.action.id)).toMatchObject({ batches: 0, batched: 0 });

    const resume = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/resume` });
    expect(resume.json()).toEqual({ paused: false });
    expect(await lastAudit(fx.action.id)).toMatchObject({ verb: 'delivery_resumed' });
    const again = await buildDueBatches(deps);
    expect(again.filter((b) => b.actionId === fx.action.id)).toHaveLength(1);
    expect(await counts(fx.action.id)).toMatchObject({ batches: 1, batched: 3, letters: 1 });
  });
});

describe('preview and send now', () => {
  it('the preview writes nothing, and matches the letter that send now then delivers exactly once', async () => {
    const fx = await actionWithSigners(4, { targets: [{ country: 'UZ', language: 'en' }, { country: null, language: 'es' }], locales: ['en', 'es'] });
    const before = await counts(fx.action.id);
    const preview = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/deliveries/${fx.action.id}/preview` });
    expect(preview.statusCode).toBe(200);
    const p = preview.json();
    expect(p).toMatchObject({ owed: true, signatureCount: 4, totalCount: 4, policy: 'ON_CLOSE' });
    expect(p.countries).toEqual([
      { country: 'FR', count: 2 },
      { country: 'MX', count: 2 },
    ]);
    expect(p.letters).toHaveLength(2);
    expect(p.letters.map((l: { locale: string }) => l.locale).sort()).toEqual(['en', 'es']);
    // nothing written: no batch, no letter, no signature claimed; only the look itself is
    // audited, since the letters show named signers and their own letters (promise 17)
    expect(await counts(fx.action.id)).toEqual({ ...before, audit: before.audit + 1 });
    expect(await lastAudit(fx.action.id)).toMatchObject({ verb: 'delivery_previewed', staff_id: campaigner.id, after: { signatureCount: 4, letters: 2 } });
    // a second preview is the same preview
    const p2 = (await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/deliveries/${fx.action.id}/preview` })).json();
    const strip = (s: string) => s.replace(/\/packet\/[A-Za-z0-9._-]+/g, '/packet/TOKEN');
    expect(p2.letters.map((l: { text: string }) => strip(l.text))).toEqual(p.letters.map((l: { text: string }) => strip(l.text)));

    const send = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/send-now` });
    expect(send.statusCode).toBe(200);
    const sent = send.json();
    expect(sent.signatureCount).toBe(4);
    expect(sent.letterIds).toHaveLength(2);
    expect(await lastAudit(fx.action.id)).toMatchObject({ verb: 'delivery_sent_now', staff_id: campaigner.id, after: { batchId: sent.batchId, signatureCount: 4 } });
    const batch = (await h.db.pool.query(`SELECT reason FROM delivery_batches WHERE id = $1`, [sent.batchId])).rows[0];
    expect(batch.reason).toBe('send-now');

    // pressing again: nothing owed, nothing built
    const twice = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/send-now` });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe('nothing_owed');
    expect((await counts(fx.action.id)).batches).toBe(1);

    for (const id of sent.letterIds) {
      expect(await deliverLetter(letterDeps(), id)).toBe('sent');
      expect(await deliverLetter(letterDeps(), id)).toBe('not-owed');
    }
    const mails = mailbox.messages();
    expect(mails).toHaveLength(2);
    // the letter sent is the letter previewed, but for the packet link (a token for the real letter)
    for (const pl of p.letters as { target: { email: string }; subject: string; text: string }[]) {
      const m = mails.find((x) => x.envelope.to[0] === pl.target.email)!;
      expect(m.subject).toBe(pl.subject);
      expect(strip(m.text.trim())).toBe(strip(pl.text.trim()));
    }

    // and now the preview says nothing is owed
    const empty = (await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/deliveries/${fx.action.id}/preview` })).json();
    expect(empty).toMatchObject({ owed: false, signatureCount: 0, letters: [] });
  });

  it('two presses of send now at once build one batch', async () => {
    const fx = await actionWithSigners(2);
    const results = await Promise.all(
      [0, 1, 2].map(() => asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/send-now` })),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);
    expect(await counts(fx.action.id)).toMatchObject({ batches: 1, batched: 2 });
  });

  it('refuses to send for an action that is not live', async () => {
    const fx = await actionWithSigners(1);
    await h.db.pool.query(`UPDATE actions SET status = 'ARCHIVED' WHERE id = $1`, [fx.action.id]);
    const res = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/send-now` });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('action_not_live');
    expect((await counts(fx.action.id)).batches).toBe(0);
  });

  it('answers unknown and malformed ids with 404', async () => {
    for (const url of ['/api/admin/deliveries/x%27%3B--', '/api/admin/deliveries/00000000-0000-4000-8000-000000000000', '/api/admin/deliveries/zzz/preview']) {
      expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url })).statusCode, url).toBe(404);
    }
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/deliveries/zzz/send-now' })).statusCode).toBe(404);
  });
});

describe('ledger and retry', () => {
  it('shows each letter with its state and classified error, lists failures apart, and retries a FAILED letter once', async () => {
    const fx = await actionWithSigners(1, { targets: [{ country: 'UZ', language: 'en' }] });
    const sent = (await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/send-now` })).json();
    const letterId = sent.letterIds[0];
    await h.db.pool.query(`UPDATE letters SET status = 'FAILED', attempts = 1, last_error = '550 5.1.1 mailbox unavailable' WHERE id = $1`, [letterId]);

    const detail = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/deliveries/${fx.action.id}` });
    expect(detail.statusCode).toBe(200);
    const d = detail.json();
    expect(d.action).toMatchObject({ id: fx.action.id, failedLetters: 1 });
    expect(d.batches).toHaveLength(1);
    expect(d.batches[0].letters[0]).toMatchObject({
      id: letterId,
      status: 'FAILED',
      attempts: 1,
      errorClass: 'smtp-permanent',
      messageId: expect.stringMatching(/^<letter\..+@chorus\.example\.org>$/),
      nextAttemptAt: null,
    });
    expect(d.failures.map((f: { id: string }) => f.id)).toEqual([letterId]);

    expect((await asStaff(h.app, viewer.cookie, { method: 'POST', url: `/api/admin/deliveries/letters/${letterId}/retry` })).statusCode).toBe(403);
    const retry = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/letters/${letterId}/retry` });
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toEqual({ status: 'PENDING', actionId: fx.action.id });
    expect(await lastAudit(letterId)).toMatchObject({ verb: 'letter_retried', before: { status: 'FAILED', lastError: '550 5.1.1 mailbox unavailable' } });
    // not FAILED any more: a second retry is refused
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/letters/${letterId}/retry` })).statusCode).toBe(409);
    expect(await deliverLetter(letterDeps(), letterId)).toBe('sent');
    expect(mailbox.messages()).toHaveLength(1);
    const after = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/deliveries/${fx.action.id}` })).json();
    expect(after.batches[0].letters[0]).toMatchObject({ status: 'SENT', sentAt: expect.any(String) });
    expect(after.failures).toEqual([]);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/letters/nope/retry` })).statusCode).toBe(404);
  });
  it('"send now" also sends the action\'s earlier letters still held for office hours, so no official reads a lower total after a higher one', async () => {
    const fx = await actionWithSigners(1, { targets: [{ country: null, language: 'en' }] });
    // an office open one minute a day, a few hours from now: the first delivery's letter waits
    const opens = (new Date().getUTCHours() * 60 + 180) % 1440;
    await h.db.pool.query('UPDATE targets SET timezone = $2, office_opens_at = $3, office_closes_at = $4 WHERE id = $1', [fx.targets[0]!.id, 'UTC', opens, opens + 1]);
    const held = await buildBatch({ pool: h.db.pool, queues: noQueue, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test', { officeHours: true });
    const heldLetter = held!.letterIds[0]!;
    const due = async (id: string) => (await h.db.pool.query<{ due: boolean }>('SELECT next_attempt_at <= now() AS due FROM letters WHERE id = $1', [id])).rows[0]!.due;
    expect(await due(heldLetter)).toBe(false);
    expect(await deliverLetter(letterDeps(), heldLetter)).toBe('not-owed');
    // one more signer, and staff press "send now"
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('late'), country: 'FR' }));
    const send = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/deliveries/${fx.action.id}/send-now` });
    expect(send.statusCode, send.body).toBe(200);
    expect(await lastAudit(fx.action.id)).toMatchObject({ verb: 'delivery_sent_now', after: { earlierLettersReleased: 1 } });
    // both are due now: neither waits for the office to open
    expect(await due(heldLetter)).toBe(true);
    expect(await deliverLetter(letterDeps(), heldLetter)).toBe('sent');
    expect(await deliverLetter(letterDeps(), send.json().letterIds[0])).toBe('sent');
  });

  it('tells the public a letter held until the office opens apart from one being sent', async () => {
    const fx = await actionWithSigners(1, { targets: [{ country: 'UZ', language: 'en' }] });
    // an office open one minute a day, a few hours from now in UTC: closed now, whenever the test runs
    const opens = (new Date().getUTCHours() * 60 + 180) % 1440;
    await h.db.pool.query('UPDATE targets SET timezone = $2, office_opens_at = $3, office_closes_at = $4 WHERE id = $1', [fx.targets[0]!.id, 'UTC', opens, opens + 1]);
    const built = await buildBatch({ pool: h.db.pool, queues: noQueue, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test', { officeHours: true });
    expect(built?.letterIds).toHaveLength(1);
    const ledger = async () => {
      await h.cache.refresh();
      const res = await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}` });
      expect(res.statusCode).toBe(200);
      return res.json().ledger as { status: string; heldForOfficeHours: boolean; accepted: boolean }[];
    };
    expect(await ledger()).toEqual([expect.objectContaining({ status: 'PENDING', heldForOfficeHours: true, accepted: false })]);
    // tried once and waiting to be tried again: being sent, not held
    await h.db.pool.query('UPDATE letters SET attempts = 1 WHERE id = $1', [built!.letterIds[0]]);
    expect(await ledger()).toEqual([expect.objectContaining({ status: 'PENDING', heldForOfficeHours: false })]);
    // due now (the office opened): being sent
    await h.db.pool.query('UPDATE letters SET attempts = 0, next_attempt_at = now() WHERE id = $1', [built!.letterIds[0]]);
    expect(await ledger()).toEqual([expect.objectContaining({ status: 'PENDING', heldForOfficeHours: false })]);
  });
});
