// Case updates against the real database and a real SMTP server: published by staff per
// language, shown newest first in the reader's language (else the action's default), told to
// webhooks, and emailed once to the signers who opted in, in their language, with one-click
// unsubscribe; hostile input is refused with what is wrong.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { asStaff, confirmSignatures, createAction, createHarness, signBody, staffSession, startTestMail, uniqueEmail, type Harness } from '../testing/harness.ts';
import { sendMemberNotice } from '../supporter/notice-mail.ts';
import { indexOfEmail } from '../testing/sealed.ts';

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

async function sign(slug: string, body: Record<string, unknown>) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody(body) });
  expect(res.statusCode).toBe(202);
  await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(body.email as string)]);
}

describe('case updates', () => {
  it('are shown newest first in the reader’s language, told to webhooks, and emailed once to the signers who opted in', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, { locales: ['en', 'es'] });
    const spanish = uniqueEmail('es');
    const french = uniqueEmail('fr');
    await sign(fx.action.slug, { email: spanish, locale: 'es', consentContact: true });
    await sign(fx.action.slug, { email: french, locale: 'fr', consentContact: true });
    await sign(fx.action.slug, { email: uniqueEmail('quiet'), consentContact: false });
    const hook = await h.db.pool.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (url, description, events, secret) VALUES ('https://crm.example.org/h', 'test', '{update.published}', 'x') RETURNING id`,
    );

    const url = `/api/admin/actions/${fx.action.id}/updates`;
    const before = await asStaff(h.app, staff.cookie, { method: 'GET', url });
    expect(before.json()).toEqual({ audience: 2, updates: [] });

    const first = await asStaff(h.app, staff.cookie, {
      method: 'POST',
      url,
      payload: { texts: { en: { title: 'Moved to a prison near his family', body: 'He was moved on 3 May.\n\nHis lawyer saw him.' } } },
    });
    expect(first.statusCode).toBe(201);
    expect(first.json().notificationsOwed).toBe(2);
    const second = await asStaff(h.app, staff.cookie, {
      method: 'POST',
      url,
      payload: { texts: { en: { title: 'Released', body: 'He is home.' }, es: { title: 'En libertad', body: 'Está en casa.' } } },
    });
    expect(second.statusCode).toBe(201);

    // the public API: newest first, in Spanish where the update has it, else in the default language
    await h.cache.refresh();
    const es = (await h.app.inject({ method: 'GET', url: `/api/actions/${fx.action.slug}?locale=es` })).json();
    expect(es.updates.map((u: { title: string; locale: string }) => [u.title, u.locale])).toEqual([
      ['En libertad', 'es'],
      ['Moved to a prison near his family', 'en'],
    ]);
    expect(es.updates[1].body).toBe('He was moved on 3 May.\n\nHis lawyer saw him.');

    // the webhook endpoint is owed both events, with ids only
    const events = await h.db.pool.query(`SELECT e.type, e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.endpoint_id = $1 ORDER BY e.created_at`, [hook.rows[0]!.id]);
    expect(events.rows.map((r) => r.type)).toEqual(['update.published', 'update.published']);
    expect(events.rows[1].payload).toEqual({ updateId: second.json().id, actionId: fx.action.id, locales: ['en', 'es'] });
    expect(JSON.stringify(events.rows)).not.toContain('@');

    // the emails: one per signer per update, in the signer's language where the update has it
    const { rows: owed } = await h.db.pool.query<{ id: string; subject_id: string }>(`SELECT id, subject_id FROM member_notices WHERE kind = 'update' AND subject_id = ANY($1::uuid[])`, [[first.json().id, second.json().id]]);
    expect(owed).toHaveLength(4);
    const deps = { pool: h.db.pool, mailer, secret: h.secret, clock: () => new Date(), publicBaseUrl: 'http://chorus.test', mailFrom: 'Chorus <actions@chorus.example.org>' };
    for (const n of owed) expect(await sendMemberNotice(deps, n.id)).toBe('sent');
    for (const n of owed) expect(await sendMemberNotice(deps, n.id)).toBe('not-owed');
    const mails = mailbox.messages();
    expect(mails).toHaveLength(4);
    const toSpanish = mails.filter((m) => m.envelope.to.includes(spanish));
    const released = toSpanish.find((m) => m.subject.startsWith('En libertad'))!;
    expect(released.text).toContain('Está en casa.');
    expect(released.text).toMatch(/http:\/\/chorus\.test\/es\/unsubscribe\//);
    expect(released.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    // an update without the signer's language comes in the action's default language, and says so
    const moved = toSpanish.find((m) => m.subject.startsWith('Moved'))!;
    expect(moved.text).toContain('He was moved on 3 May.');
    expect(moved.text).toContain('inglés');
    expect(mails.filter((m) => m.envelope.to.includes(french))).toHaveLength(2);
  });

  it('refuses hostile or empty input with what is wrong, and unknown actions', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, {});
    const url = `/api/admin/actions/${fx.action.id}/updates`;
    for (const bad of [
      {},
      { texts: {} },
      { texts: { en: { title: '', body: 'x' } } },
      { texts: { en: { title: 'T', body: '' } } },
      { texts: { en: { title: 'T'.repeat(201), body: 'x' } } },
      { texts: { en: { title: '<script>', body: 'x' } } },
      { texts: { en: { title: 'T\u202e', body: 'x' } } },
      { texts: { en: { title: 'T', body: 'x'.repeat(10_001) } } },
      { texts: { xx: { title: 'T', body: 'x' } } },
      { texts: { en: { title: 'T', body: 'x', extra: 1 } } },
      { texts: { en: 'T' } },
      { texts: [] },
    ]) {
      const res = await asStaff(h.app, staff.cookie, { method: 'POST', url, payload: bad as Record<string, unknown> });
      expect([400, 422], JSON.stringify(bad).slice(0, 80)).toContain(res.statusCode);
      expect(res.json().message).toBeTruthy();
    }
    const { rows } = await h.db.pool.query(`SELECT count(*)::int AS n FROM action_updates WHERE action_id = $1`, [fx.action.id]);
    expect(rows[0].n).toBe(0);
    for (const id of ['nope', '00000000-0000-4000-8000-000000000000']) {
      const res = await asStaff(h.app, staff.cookie, { method: 'POST', url: `/api/admin/actions/${id}/updates`, payload: { texts: { en: { title: 'T', body: 'B' } } } });
      expect([404, 422]).toContain(res.statusCode);
    }
    // a viewer may read but not publish; nobody without a session may do either
    const viewer = await staffSession(h.db, 'VIEWER');
    expect((await asStaff(h.app, viewer.cookie, { method: 'POST', url, payload: { texts: { en: { title: 'T', body: 'B' } } } })).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(401);
  });
});
