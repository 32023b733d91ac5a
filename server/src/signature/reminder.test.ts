// The one reminder to pending signers, against the real test database and a real SMTP server
// (the development mailbox on a free port). Time is moved through the deps, not by waiting.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMailer, type Mailer } from '../mail/mailer.ts';
import { render } from '../mail/render.ts';
import { signupVars } from '../testing/signup-fixture.ts';
import type { Mailbox, StoredMessage } from '../mailbox/mailbox.service.ts';
import { LOCALES } from '../shared/locales.ts';
import { eraseSupporter } from '../supporter/supporter.repository.ts';
import { confirmationMailDeps, createAction, createHarness, uniqueEmail, type Harness, startTestMail } from '../testing/harness.ts';
import { sendDueReminders, type ReminderDeps } from './reminder.service.ts';
import { insertSupporter } from '../testing/sealed.ts';

const BASE = 'http://chorus.test';
const HOUR = 3_600_000;

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
beforeEach(() => {
  mailbox.clear();
  h.now.value = new Date();
});

const deps = (at: Date, over: Partial<ReminderDeps> = {}): ReminderDeps => ({
  ...confirmationMailDeps(h, mailer, { clock: () => at }),
  ...over,
});
const opts = { afterHours: 24, limit: 10_000 };
/**
 * Each test lives about three years ahead. Pending signatures other tests leave behind are
 * then past the link lifetime, and a worker running against the same database on the real
 * clock (the end-to-end platform) finds nothing of ours due.
 */
const future = () => new Date(Date.now() + 1_000 * 24 * HOUR);

/**
 * A pending signature whose confirmation email went out `sentHoursAgo` before `now`. Written
 * straight to the database: signing through the API would also queue a confirmation job, which
 * a worker running elsewhere on the same Redis could pick up and change the timestamps.
 */
async function pending(slug: string, now: Date, o: { sentHoursAgo: number; createdHoursAgo?: number; locale?: string; sent?: boolean }) {
  const email = uniqueEmail('pending');
  const sentAt = new Date(now.getTime() - o.sentHoursAgo * HOUR);
  const createdAt = new Date(now.getTime() - (o.createdHoursAgo ?? o.sentHoursAgo) * HOUR);
  // the supporter as the signing path stores them: address and name sealed under their data key
  const supporter = await insertSupporter(h.db.pool, { email, firstName: 'Ana', lastName: 'López', country: 'MX', locale: o.locale ?? 'en', createdAt });
  const { rows } = await h.db.pool.query<{ id: string; supporter_id: string }>(
    `WITH s AS (
       INSERT INTO signatures (action_id, supporter_id, country, locale, created_at)
       SELECT a.id, $1::uuid, 'MX', $3, $4 FROM actions a WHERE a.slug = $2
       RETURNING id, supporter_id, action_id
     ), e AS (
       INSERT INTO confirmation_emails (signature_id, supporter_id, action_id, requested_at, sent_at)
       SELECT id, supporter_id, action_id, $5, $6 FROM s
     )
     SELECT id, supporter_id FROM s`,
    [supporter.id, slug, o.locale ?? 'en', createdAt, sentAt, o.sent === false ? null : sentAt],
  );
  return { ...rows[0]!, email };
}

const mailsTo = (email: string): StoredMessage[] => mailbox.messages().filter((m) => m.envelope.to.includes(email));
const reminderAt = async (id: string) => (await h.db.pool.query('SELECT reminder_sent_at FROM confirmation_emails WHERE signature_id = $1', [id])).rows[0].reminder_sent_at;

async function published(locales = ['en']) {
  const fx = await createAction(h.db, { locales });
  await h.cache.refresh();
  return fx.action;
}

describe('sendDueReminders', () => {
  it('sends one reminder after the delay and not before, with a fresh link and the unsubscribe headers', async () => {
    const action = await published(['en', 'es']);
    const now = future();
    const sig = await pending(action.slug, now, { sentHoursAgo: 23, locale: 'es' });

    await sendDueReminders(deps(now), opts);
    expect(mailsTo(sig.email)).toHaveLength(0);
    expect(await reminderAt(sig.id)).toBeNull();

    const later = new Date(now.getTime() + 2 * HOUR);
    const run = await sendDueReminders(deps(later), opts);
    expect(run.sent).toBeGreaterThanOrEqual(1);
    const [mail, ...more] = mailsTo(sig.email);
    expect(more).toHaveLength(0);
    expect(await reminderAt(sig.id)).toEqual(later);
    expect(mail!.messageId).toBe(`<reminder.${sig.id}@chorus.example.org>`);
    expect(mail!.subject).toBe(`Tu firma todavía no cuenta: Title es ${action.slug}`);
    expect(mail!.headers['auto-submitted']).toBe('auto-generated');
    expect(mail!.listUnsubscribe).toMatch(new RegExp(`^<${BASE}/api/unsubscribe/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{32}>$`));
    expect(mail!.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    expect(mail!.text).toMatch(new RegExp(`${BASE}/es/unsubscribe/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{32}`));
    expect(mail!.text).toContain(`${BASE}/es/my-data\n`);

    // later runs never send a second one
    await sendDueReminders(deps(new Date(later.getTime() + 3 * HOUR)), opts);
    expect(mailsTo(sig.email)).toHaveLength(1);

    // the fresh link confirms
    const token = new RegExp(`${BASE}/es/confirm/([A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{32})`).exec(mail!.text)?.[1];
    expect(token).toBeDefined();
    expect(mail!.html).toContain(`href="${BASE}/es/confirm/${token}"`);
    h.now.value = later;
    const confirmed = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` });
    expect(confirmed.json()).toMatchObject({ status: 'confirmed' });
  });

  it('takes the time from deps.clock when no `now` is given', async () => {
    const action = await published();
    const now = future();
    const sig = await pending(action.slug, now, { sentHoursAgo: 30 });
    await sendDueReminders(deps(new Date(now.getTime() - 10 * HOUR)), { afterHours: 24, limit: 10_000 });
    expect(mailsTo(sig.email)).toHaveLength(0);
    await sendDueReminders(deps(now), { afterHours: 24, limit: 10_000 });
    expect(mailsTo(sig.email)).toHaveLength(1);
  });

  it('never sends twice when runs race', async () => {
    const action = await published();
    const now = future();
    const sigs = await Promise.all([0, 1, 2, 3, 4].map(() => pending(action.slug, now, { sentHoursAgo: 25 })));
    await Promise.all([0, 1, 2, 3].map(() => sendDueReminders(deps(now), opts)));
    for (const s of sigs) {
      expect(mailsTo(s.email)).toHaveLength(1);
      expect(await reminderAt(s.id)).toEqual(now);
    }
    await Promise.all([0, 1].map(() => sendDueReminders(deps(new Date(now.getTime() + HOUR)), opts)));
    for (const s of sigs) expect(mailsTo(s.email)).toHaveLength(1);
  });

  it('sends none for confirmed, invalidated, erased or unsubscribed signers, or after the link lifetime', async () => {
    const action = await published();
    const now = future();
    const confirmed = await pending(action.slug, now, { sentHoursAgo: 30 });
    await h.db.pool.query(`UPDATE signatures SET status = 'CONFIRMED', confirmed_at = $2 WHERE id = $1`, [confirmed.id, now]);
    const invalidated = await pending(action.slug, now, { sentHoursAgo: 30 });
    await h.db.pool.query(`UPDATE signatures SET status = 'INVALIDATED', invalidated_at = $2, invalid_reason = 'test' WHERE id = $1`, [invalidated.id, now]);
    const erased = await pending(action.slug, now, { sentHoursAgo: 30 });
    expect(await eraseSupporter(h.db.pool, erased.supporter_id, now)).toBe(true);
    const unsubscribed = await pending(action.slug, now, { sentHoursAgo: 30 });
    await h.db.pool.query('UPDATE supporters SET unsubscribed_at = $2 WHERE id = $1', [unsubscribed.supporter_id, now]);
    const tooOld = await pending(action.slug, now, { sentHoursAgo: 30, createdHoursAgo: 337 });
    const neverSent = await pending(action.slug, now, { sentHoursAgo: 30, sent: false });
    // a repeat sign asked for a fresh confirmation that has not gone out yet: that email comes first
    const owed = await pending(action.slug, now, { sentHoursAgo: 30 });
    await h.db.pool.query('UPDATE confirmation_emails SET requested_at = $2 WHERE signature_id = $1', [owed.id, now]);
    const control = await pending(action.slug, now, { sentHoursAgo: 30 });

    await sendDueReminders(deps(now), opts);
    for (const [label, s] of Object.entries({ confirmed, invalidated, erased, unsubscribed, tooOld, neverSent, owed })) {
      expect({ label, mails: mailsTo(s.email).length, reminded: await reminderAt(s.id) }).toEqual({ label, mails: 0, reminded: null });
    }
    expect(mailsTo(control.email)).toHaveLength(1);
  });

  it('sends none for an action that has closed', async () => {
    const action = await published();
    const now = future();
    const sig = await pending(action.slug, now, { sentHoursAgo: 30 });
    await h.db.pool.query(`UPDATE actions SET status = 'CLOSED', closed_at = $2 WHERE id = $1`, [action.id, now]);
    await sendDueReminders(deps(now), opts);
    expect(mailsTo(sig.email)).toHaveLength(0);
  });

  it('releases the claim after a transient SMTP failure, so a later run sends it', async () => {
    const action = await published();
    const now = future();
    const sig = await pending(action.slug, now, { sentHoursAgo: 30 });
    const down = createMailer({ smtpUrl: 'smtp://127.0.0.1:1?tls=off', pool: false, connectionTimeoutMs: 2_000, dkim: null });
    try {
      const run = await sendDueReminders(deps(now, { mailer: down }), opts);
      expect(run.retry).toBeGreaterThanOrEqual(1);
      expect(run.sent).toBe(0);
    } finally {
      down.close();
    }
    expect(await reminderAt(sig.id)).toBeNull();
    expect(mailsTo(sig.email)).toHaveLength(0);

    const later = new Date(now.getTime() + 60_000);
    await sendDueReminders(deps(later), opts);
    expect(mailsTo(sig.email)).toHaveLength(1);
    expect(await reminderAt(sig.id)).toEqual(later);
  });
});

describe('member email templates', () => {
  it('render the reminder and the my-data link in every locale, with the unsubscribe and my-data footer', () => {
    const footer = { unsubscribeUrl: 'http://x/unsubscribe/TOKEN', myDataUrl: 'http://x/my-data' };
    for (const locale of LOCALES) {
      const r = render('reminder', locale, { signup: signupVars, action: { title: 'T' }, confirmUrl: 'http://x/confirm/abc', expires: '1 Jan', ...footer });
      const m = render('my-data-link', locale, { myDataLinkUrl: 'http://x/my-data/abc', expires: '1 Jan', ...footer });
      for (const mail of [r, m]) {
        expect(mail.locale).toBe(locale);
        expect(mail.text).toContain(footer.unsubscribeUrl);
        expect(mail.text).toContain(footer.myDataUrl);
        expect(mail.html).toContain(`href="${footer.unsubscribeUrl}"`);
        expect(mail.html).toContain(`href="${footer.myDataUrl}"`);
      }
      expect(r.text).toContain('http://x/confirm/abc');
      expect(m.html).toContain('href="http://x/my-data/abc"');
      for (const name of ['confirmation', 'already-signed'] as const) {
        const vars = { firstName: 'Ana', signup: signupVars, action: { title: 'T' }, confirmUrl: 'http://x/c', expires: '1 Jan', actionUrl: 'http://x/a' };
        expect(render(name, locale, { ...vars, ...footer }).text).toContain(footer.unsubscribeUrl);
        expect(render(name, locale, { ...vars, ...footer }).html).toContain(`href="${footer.myDataUrl}"`);
      }
    }
    // strict: a member email without its footer links is an error, not a silent gap
    expect(() => render('reminder', 'en', { signup: signupVars, action: { title: 'T' }, confirmUrl: 'http://x/c', expires: '1 Jan' })).toThrow();
  });
});
