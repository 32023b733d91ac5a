// Promise 4 (with 1, 2 and 3): a forged sign-up with someone's address never renames her or
// speaks for her. Tried as an attacker would: the victim has signed before and confirmed; the
// attacker signs another action with her address, another name, another country, other
// choices and a letter of their own, hoping she presses "confirm" on an email that greets her
// by her own name. Against the real database, Redis and an SMTP server (the mailbox), in process.
import type { QueryResult } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox, StoredMessage } from '../../server/src/mailbox/mailbox.service.ts';
import { sendConfirmation, type ConfirmationMailDeps } from '../../server/src/signature/confirmation.service.ts';
import { sendDueReminders } from '../../server/src/signature/reminder.service.ts';
import { confirmationMailDeps, createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../../server/src/testing/harness.ts';
import { CONSENT_RECORDS } from '../../server/src/testing/consent-records.ts';
import { emailIndex } from '../../server/src/privacy/personal-data.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { expectSignatureSealed, sealedSupporter, sealedSupporterByEmail } from '../support/sealed-checks.ts';

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

const mailDeps = (): ConfirmationMailDeps => confirmationMailDeps(h, mailer, { clock: () => h.now.value });

/** A letter action whose members may write their own letter. */
async function letterAction() {
  const fx = await createAction(h.db, { kind: 'LETTER', locales: ['en', 'fr'] });
  await h.db.pool.query('UPDATE actions SET allow_personalisation = true WHERE id = $1', [fx.action.id]);
  await h.cache.refresh();
  return fx.action;
}

async function petition() {
  const fx = await createAction(h.db);
  await h.cache.refresh();
  return fx.action;
}

const sign = (slug: string, body: Record<string, unknown>, ip = '198.51.100.7') =>
  h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, remoteAddress: ip, payload: body });

/** Every sign-up with the address for the action, oldest first: names and letters opened, and checked to be held only sealed. */
async function openedSignupsOf(actionId: string, email: string) {
  const rows = await openedSignatures(h.db.pool, `s.action_id = $1 AND p.email_index = $2`, [actionId, indexOfEmail(email)]);
  for (const r of rows) expectSignatureSealed(r);
  return rows;
}

/** The newest sign-up with the address for the action. */
async function signatureOf(actionId: string, email: string): Promise<QueryResult['rows'][number]> {
  const rows = await openedSignupsOf(actionId, email);
  // newest first, as ORDER BY s.created_at DESC, s.id
  rows.sort((a, b) => (b.created_at as Date).getTime() - (a.created_at as Date).getTime() || (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0));
  expect(rows.length, `a sign-up with ${email}`).toBeGreaterThan(0);
  const r = rows[0]!;
  return { ...r, sid: r.supporter_id };
}

/** Every sign-up with the address for the action, oldest first. */
async function signupsOf(actionId: string, email: string): Promise<QueryResult['rows']> {
  return (await openedSignupsOf(actionId, email)).map((r) => ({
    id: r.id,
    status: r.status,
    invalid_reason: r.invalid_reason,
    pending_first_name: r.pending_first_name,
    country: r.country,
    letter_body: r.letter_body,
  }));
}

async function supporter(email: string): Promise<QueryResult['rows'][number]> {
  const { rows } = await h.db.pool.query(
    `SELECT p.id, p.country,
            (SELECT c.granted FROM ${CONSENT_RECORDS} c WHERE c.supporter_id = p.id AND c.purpose = 'CONTACT' ORDER BY c.created_at DESC, c.id DESC LIMIT 1) AS contact,
            (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.supporter_id = p.id) AS consents
     FROM supporters p WHERE p.email_index = $1`,
    [indexOfEmail(email)],
  );
  if (!rows[0]) return undefined;
  const { id, country, contact, consents } = rows[0];
  // the name opened, and checked to be held only sealed
  const opened = (await sealedSupporter(h.db.pool, id))!;
  return { first_name: opened.first_name, last_name: opened.last_name, country, contact, consents };
}

/** The confirmation email the worker would send now, and the token of its link. */
async function confirmationMail(actionId: string, email: string, signatureId?: string): Promise<{ mail: StoredMessage; token: string }> {
  const id = signatureId ?? (await signatureOf(actionId, email)).id;
  expect(await sendConfirmation(mailDeps(), id)).toBe('sent');
  const mail = mailbox.messages().filter((m) => m.envelope.to.includes(email)).at(-1)!;
  const token = /\/confirm\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32})/.exec(mail.text)?.[1];
  expect(token, 'a confirmation link').toBeDefined();
  return { mail, token: token! };
}

/** Ana: signed a petition as Ana López from Mexico, agreed to hear from us, and confirmed. */
async function confirmedVictim() {
  const email = uniqueEmail('ana');
  const first = await petition();
  expect((await sign(first.slug, signBody({ email, country: 'MX', consentContact: true }))).statusCode).toBe(202);
  const { token } = await confirmationMail(first.id, email);
  expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` })).json().status).toBe('confirmed');
  expect(await supporter(email)).toMatchObject({ first_name: 'Ana', last_name: 'López', country: 'MX', contact: true });
  return email;
}

const FORGED = {
  firstName: 'Mallory',
  lastName: 'Forger',
  country: 'FR',
  consentNamed: true,
  consentNamedToOwnCountry: true,
  consentWall: true,
  consentContact: false,
  letterSubject: 'Written by someone else',
  letterBody: 'These words were never hers.\n\nA second paragraph.',
};

describe('a forged sign-up with the address of someone who signed before', () => {
  it('changes nothing of hers before confirmation, and its email and page show exactly what it would confirm', async () => {
    const email = await confirmedVictim();
    const before = await supporter(email);
    const action = await letterAction();
    expect((await sign(action.slug, signBody({ ...FORGED, email }), '203.0.113.66')).statusCode).toBe(202);

    // her name, country and choices are untouched by an unconfirmed sign-up
    expect(await supporter(email)).toEqual(before);

    const { mail, token } = await confirmationMail(action.id, email);
    // never greeted by her own stored name: the email shows what the sign-up says instead
    expect(mail.text).not.toContain('Ana');
    for (const shown of [
      'Name: Mallory Forger',
      'Country: France',
      'Count my signature: yes',
      'Include my name in what officials receive: yes',
      'Also include my name for officials of my own country: yes',
      "Show my first name and country on the action's page: yes",
      'Keep me informed by email: no',
      'Subject: Written by someone else',
      'These words were never hers.',
      '“This was not me”',
    ]) {
      expect(mail.text).toContain(shown);
    }
    expect(mail.html).toContain('Mallory Forger');
    expect(mail.html).toContain('<p>These words were never hers.</p>');

    // the page (read through the API it is built on) shows the same, and reading changes nothing
    const view = await h.app.inject({ url: `/api/confirmations/${token}` });
    expect(view.json()).toMatchObject({
      status: 'pending',
      signup: {
        firstName: 'Mallory',
        lastName: 'Forger',
        country: 'FR',
        consents: { count: true, named: true, namedToOwnCountry: true, wall: true, contact: false },
        letter: { subject: 'Written by someone else', body: FORGED.letterBody },
      },
    });
    expect((await signatureOf(action.id, email)).status).toBe('PENDING');
  });

  it('"This was not me" discards it: never confirmed, counted, reminded of or emailed again, and nothing of it stays in her name', async () => {
    const email = await confirmedVictim();
    const before = await supporter(email);
    const action = await letterAction();
    await sign(action.slug, signBody({ ...FORGED, email }), '203.0.113.67');
    const { token } = await confirmationMail(action.id, email);

    const discarded = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}/discard` });
    expect(discarded.statusCode).toBe(200);
    expect(discarded.json()).toMatchObject({ status: 'discarded', action: { slug: action.slug } });
    // pressing it twice is answered, not repeated
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}/discard` })).json().status).toBe('discarded');

    const sig = await signatureOf(action.id, email);
    expect(sig).toMatchObject({
      status: 'INVALIDATED',
      invalid_reason: 'not_me',
      confirmed_at: null,
      pending_first_name: null,
      pending_last_name: null,
      pending_contact: null,
      letter_subject: null,
      letter_body: null,
    });
    expect(await supporter(email)).toEqual(before);

    // the link now only says so; confirming is refused
    expect((await h.app.inject({ url: `/api/confirmations/${token}` })).json()).toMatchObject({ status: 'discarded' });
    const late = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` });
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('signup_discarded');

    // no further email for it: neither a repeated confirmation job nor the reminder
    mailbox.clear();
    expect(await sendConfirmation(mailDeps(), sig.id)).toBe('nothing-owed');
    // as if its email went out long ago, far ahead (other tests' pending rows are then past the
    // link lifetime, so the run looks at this one only)
    const future = new Date(Date.now() + 1_000 * 24 * HOUR);
    await h.db.pool.query('UPDATE signatures SET created_at = $2 WHERE id = $1', [sig.id, future]);
    await h.db.pool.query('UPDATE confirmation_emails SET sent_at = $2, requested_at = $2 WHERE signature_id = $1', [sig.id, future]);
    await sendDueReminders({ ...mailDeps(), clock: () => new Date(future.getTime() + 48 * HOUR) }, { afterHours: 24, limit: 10_000 });
    expect(mailbox.messages().filter((m) => m.envelope.to.includes(email))).toHaveLength(0);
    expect(await supporter(email)).toEqual(before);
  });

  it('her own sign-up after a forged one waits beside it with its own email; she confirms hers, and the forged one is set aside', async () => {
    const email = await confirmedVictim();
    const action = await petition();
    await sign(action.slug, signBody({ ...FORGED, email }), '203.0.113.68');
    const forged = await confirmationMail(action.id, email);
    expect(forged.mail.text).toContain('Mallory');

    // she signs herself, with her details: a sign-up of its own, with its own email
    await sign(action.slug, signBody({ email, country: 'MX', consentContact: true }));
    const own = await confirmationMail(action.id, email);
    expect(own.mail.text).toContain('Name: Ana López');
    expect(own.mail.text).not.toContain('Mallory');
    expect((await signupsOf(action.id, email)).map((r) => [r.status, r.pending_first_name])).toEqual([
      ['PENDING', 'Mallory'],
      ['PENDING', 'Ana'],
    ]);
    // each link opens its own sign-up, showing exactly its details
    const forgedView = (await h.app.inject({ url: `/api/confirmations/${forged.token}` })).json();
    expect(forgedView).toMatchObject({ status: 'pending', signup: { firstName: 'Mallory', country: 'FR' } });
    expect((await h.app.inject({ url: `/api/confirmations/${own.token}` })).json()).toMatchObject({ status: 'pending', signup: { firstName: 'Ana', country: 'MX' } });
    // a page showing other details cannot confirm hers
    const stale = await h.app.inject({ method: 'POST', url: `/api/confirmations/${own.token}`, payload: { version: forgedView.version } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().code).toBe('signup_replaced');
    // nor can an empty version skip the check (it is refused, not read as none)
    const empty = await h.app.inject({ method: 'POST', url: `/api/confirmations/${own.token}`, payload: { version: '' } });
    expect(empty.statusCode).toBe(422);
    expect((await signupsOf(action.id, email)).map((r) => r.status)).toEqual(['PENDING', 'PENDING']);

    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${own.token}` })).json().status).toBe('confirmed');
    const sig = await signupsOf(action.id, email);
    expect(sig.map((r) => [r.status, r.invalid_reason, r.pending_first_name, r.country])).toEqual([
      // what the forged sign-up said in her name is gone; the row stays for staff
      ['INVALIDATED', 'superseded', null, 'FR'],
      ['CONFIRMED', null, null, 'MX'],
    ]);
    expect(await supporter(email)).toMatchObject({ first_name: 'Ana', last_name: 'López', country: 'MX' });
    // the forged link now says she has signed, and confirms or discards nothing
    // (and never shows her receipt: the page of a confirmed sign-up may carry a receipt code, and
    // this link's sign-up is not the one confirmed)
    const { receipt, ...forgedNow } = (await h.app.inject({ url: `/api/confirmations/${forged.token}` })).json();
    expect(forgedNow).toEqual({
      status: 'confirmed',
      action: { slug: action.slug, title: `Title en ${action.slug}`, locale: 'en' },
    });
    expect(receipt ?? null).toBeNull();
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${forged.token}` })).json().status).toBe('already_confirmed');
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${forged.token}/discard` })).statusCode).toBe(409);
    expect((await signupsOf(action.id, email)).map((r) => r.status)).toEqual(['INVALIDATED', 'CONFIRMED']);
  });

  it('a forged sign-up after hers, before she confirms, leaves her link and her details as they were', async () => {
    const email = uniqueEmail('ana');
    const action = await letterAction();
    await sign(action.slug, signBody({ email, country: 'MX', letterBody: 'My own words, in my own letter.' }));
    const own = await confirmationMail(action.id, email);
    // the attacker, timing it before she clicks
    await sign(action.slug, signBody({ ...FORGED, email }), '203.0.113.69');
    const forged = await confirmationMail(action.id, email);
    expect(forged.mail.text).toContain('Mallory');
    expect(own.mail.text).not.toContain('Mallory');

    // "This was not me" on the forged one touches only that one
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${forged.token}/discard` })).json().status).toBe('discarded');
    const view = (await h.app.inject({ url: `/api/confirmations/${own.token}` })).json();
    expect(view).toMatchObject({ status: 'pending', signup: { firstName: 'Ana', country: 'MX', letter: { body: 'My own words, in my own letter.' } } });
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${own.token}` })).json().status).toBe('confirmed');
    expect((await signupsOf(action.id, email)).map((r) => [r.status, r.invalid_reason, r.pending_first_name, r.letter_body])).toEqual([
      ['CONFIRMED', null, null, 'My own words, in my own letter.'],
      ['INVALIDATED', 'not_me', null, null],
    ]);
    expect(await supporter(email)).toMatchObject({ first_name: 'Ana', last_name: 'López', country: 'MX' });
  });

  it('her sign-up after many forged ones is never held back: the page of any email about the action lists it, and she confirms it from there', async () => {
    const email = uniqueEmail('ana');
    const action = await petition();
    for (let i = 1; i <= 7; i++) {
      expect((await sign(action.slug, signBody({ ...FORGED, lastName: `Forger${i}`, email }), `100.${64 + i}.1.1`)).statusCode).toBe(202);
    }
    // she signs too; one email about the action is still waiting to go (the first forged one's):
    // hers owes none of its own, the waiting email's page will list it
    expect((await sign(action.slug, signBody({ email, country: 'MX' }))).statusCode).toBe(202);
    const rows = await signupsOf(action.id, email);
    expect(rows.map((r) => r.status)).toEqual(Array(8).fill('PENDING'));
    const forged = await confirmationMail(action.id, email, rows[0].id);
    expect(forged.mail.text).toContain('Forger1');
    // every other sign-up owes nothing: at most one email per action waits for her address
    const { rows: owed } = await h.db.pool.query(
      `SELECT count(*)::int AS n FROM confirmation_emails WHERE action_id = $1 AND (sent_at IS NULL OR requested_at > sent_at)`,
      [action.id],
    );
    expect(owed[0].n).toBe(0);

    // the page of that one email lists the seven others, hers among them, each with a link of its own
    const view = (await h.app.inject({ url: `/api/confirmations/${forged.token}` })).json();
    // oldest first: a sign-up made later can never push an earlier one off the list
    expect(view.others.map((o: { signup: { lastName: string } }) => o.signup.lastName)).toEqual(['Forger2', 'Forger3', 'Forger4', 'Forger5', 'Forger6', 'Forger7', 'López']);
    const mine = view.others.find((o: { signup: { firstName: string } }) => o.signup.firstName === 'Ana');
    expect(mine.signup).toMatchObject({ firstName: 'Ana', lastName: 'López', country: 'MX' });
    expect((await h.app.inject({ url: `/api/confirmations/${mine.token}` })).json()).toMatchObject({ status: 'pending', signup: { firstName: 'Ana', country: 'MX' } });
    // after "This was not me" on the forged one, its page still lists hers
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${forged.token}/discard` })).json().status).toBe('discarded');
    expect((await h.app.inject({ url: `/api/confirmations/${forged.token}` })).json().others).toHaveLength(7);
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${mine.token}` })).json().status).toBe('confirmed');
    const after = await signupsOf(action.id, email);
    expect(after.filter((r) => r.status === 'CONFIRMED').map((r) => [r.id, r.country])).toEqual([[rows[7].id, 'MX']]);
    expect(after.filter((r) => r.status === 'INVALIDATED')).toHaveLength(7);
    expect(await supporter(email)).toMatchObject({ first_name: 'Ana', last_name: 'López', country: 'MX' });
  });

  it('a +tag variant of her address, where the provider may deliver it to another mailbox, is another address: signing with it first takes none of her emails', async () => {
    const local = `vy.${Date.now()}`;
    const hers = `${local}@example.org`;
    const variant = `${local}+x@example.org`;
    const first = await petition();
    const second = await petition();
    // the attacker signs first, with the variant; then she signs another action with her own
    await sign(first.slug, signBody({ ...FORGED, email: variant }), '203.0.113.70');
    await sign(second.slug, signBody({ email: hers, country: 'MX' }));
    const own = await confirmationMail(second.id, hers);
    expect(own.mail.envelope.to).toEqual([hers]);
    expect(own.mail.text).toContain('Name: Ana López');
    // two supporters, each keyed by the blind index of its own address as typed (the +tag is not
    // folded away), each address stored sealed
    const rows = [await sealedSupporterByEmail(h.db.pool, variant), await sealedSupporterByEmail(h.db.pool, hers)];
    expect(rows.map((r) => r && { email_index: r.email_index, email: r.email })).toEqual([
      { email_index: emailIndex(variant), email: variant },
      { email_index: emailIndex(hers), email: hers },
    ]);
    expect(rows[0]!.id).not.toBe(rows[1]!.id);
    expect(emailIndex(variant)).not.toBe(emailIndex(hers));
    // (and so her data links go to her own address: tests/promises/03-who-signed.test.ts)
  });

  it('when the sign-up whose email would have listed hers is set aside before it goes, hers is emailed itself', async () => {
    const email = uniqueEmail('ana');
    const action = await petition();
    await sign(action.slug, signBody({ ...FORGED, email }), '203.0.113.71');
    await sign(action.slug, signBody({ email, country: 'MX' }));
    const [forged, hers] = await signupsOf(action.id, email);
    // staff set the forged one aside (a flood from its client address, say) before its email went
    await h.db.pool.query(`UPDATE signatures SET status = 'INVALIDATED', invalidated_at = now(), invalid_reason = 'staff: flood' WHERE id = $1`, [forged.id]);
    expect(await sendConfirmation(mailDeps(), forged.id)).toBe('nothing-owed');
    const own = await confirmationMail(action.id, email, hers.id);
    expect(own.mail.text).toContain('Name: Ana López');
  });

  it('the same sign-up sent again and again while its email waits is one email job, never a second email', async () => {
    const email = uniqueEmail('ana');
    const action = await petition();
    const body = signBody({ email, country: 'MX' });
    for (let i = 0; i < 10; i++) expect((await sign(action.slug, body, `100.80.${i}.1`)).statusCode).toBe(202);
    const [row] = await signupsOf(action.id, email);
    const jobs = (await h.queues.mail.getJobs(['waiting', 'delayed', 'active', 'completed', 'prioritized'])).filter((j) => j.data.kind === 'confirmation' && j.data.signatureId === row.id);
    expect(jobs).toHaveLength(1);
  });

  it('what the owner confirms becomes hers at confirmation: name, country and choices', async () => {
    const email = await confirmedVictim();
    const action = await petition();
    await sign(action.slug, signBody({ email, firstName: 'Ana María', lastName: 'López', country: 'ES', consentContact: false }));
    expect(await supporter(email)).toMatchObject({ first_name: 'Ana', country: 'MX', contact: true });
    const { token } = await confirmationMail(action.id, email);
    // (the harness clock stands still within a test: the second confirmation comes a second later)
    h.now.value = new Date(h.now.value.getTime() + 1000);
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` })).json().status).toBe('confirmed');
    expect(await supporter(email)).toMatchObject({ first_name: 'Ana María', last_name: 'López', country: 'ES', contact: false });
  });
});

describe('promise 3: the answer to a sign-up says nothing about the address', () => {
  it('is the same for a new address, one with a confirmed signature, one with a pending, a flagged and a discarded sign-up', async () => {
    const action = await petition();
    const confirmed = await confirmedVictim();
    const pending = uniqueEmail('pending');
    await sign(action.slug, signBody({ email: pending }));
    const flagged = uniqueEmail('flagged');
    await sign(action.slug, signBody({ email: flagged, website: 'bot' }));
    const discarded = uniqueEmail('discarded');
    await sign(action.slug, signBody({ email: discarded }));
    const { token } = await confirmationMail(action.id, discarded);
    await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}/discard` });
    await h.db.pool.query(
      `INSERT INTO signatures (action_id, supporter_id, country, status, confirmed_at)
       SELECT $1, id, 'MX', 'CONFIRMED', now() FROM supporters WHERE email_index = $2`,
      [action.id, indexOfEmail(confirmed)],
    );

    const answers = [];
    for (const email of [uniqueEmail('new'), confirmed, pending, flagged, discarded]) {
      const res = await sign(action.slug, signBody({ email, firstName: 'Probe' }), '192.0.2.1');
      answers.push({ status: res.statusCode, body: res.body, type: res.headers['content-type'] });
      const form = await h.app.inject({
        method: 'POST',
        url: `/api/actions/${action.slug}/signatures`,
        remoteAddress: '192.0.2.2',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ firstName: 'Probe', lastName: 'P', email, country: 'FR', consentCount: 'on' }).toString(),
      });
      answers.push({ status: form.statusCode, body: form.headers.location, type: form.headers['content-type'] });
    }
    expect(new Set(answers.filter((_, i) => i % 2 === 0).map((a) => JSON.stringify(a))).size).toBe(1);
    expect(new Set(answers.filter((_, i) => i % 2 === 1).map((a) => JSON.stringify(a))).size).toBe(1);
    // and the probes renamed nobody
    expect(await supporter(confirmed)).toMatchObject({ first_name: 'Ana', country: 'MX' });
  });
});
