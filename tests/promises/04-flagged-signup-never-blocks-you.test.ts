// Promise 4: a flagged sign-up with someone's address never blocks that person. Tried as an
// attacker would: sign first with the victim's address and get flagged on purpose (the
// honeypot filled, or past the per-address limit), with another name, country, choices and
// letter, hoping the flagged row wins and her own sign-up is swallowed (a 202 and never an
// email). Against the real database, Redis and an SMTP server (the mailbox), in process.
import type { QueryResult } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox } from '../../server/src/mailbox/mailbox.service.ts';
import { sendConfirmation, type ConfirmationMailDeps } from '../../server/src/signature/confirmation.service.ts';
import { hashIp } from '../../server/src/shared/tokens.ts';
import { confirmationMailDeps, createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../../server/src/testing/harness.ts';
import { CONSENT_RECORDS } from '../../server/src/testing/consent-records.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';


let h: Harness;
/** the same platform with a per-address signing limit of 2 */
let limited: Harness;
let mailbox: Mailbox;
let mailer: Mailer;

beforeAll(async () => {
  h = await createHarness();
  limited = await createHarness({ env: { SIGN_LIMIT_PER_IP: '2' } });
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await limited?.close();
  await h?.close();
});
beforeEach(() => mailbox.clear());

const mailDeps = (): ConfirmationMailDeps => confirmationMailDeps(h, mailer);

async function letterAction(harness: Harness) {
  const fx = await createAction(harness.db, { kind: 'LETTER' });
  await harness.db.pool.query('UPDATE actions SET allow_personalisation = true WHERE id = $1', [fx.action.id]);
  await h.cache.refresh();
  await limited.cache.refresh();
  return fx.action;
}

const sign = (harness: Harness, slug: string, body: Record<string, unknown>, ip: string) =>
  harness.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, remoteAddress: ip, payload: body });

/** Every sign-up with the address for the action, oldest first. */
async function rowsOf(actionId: string, email: string): Promise<QueryResult['rows']> {
  // the sign-up's name and letter and the supporter's name, opened (and checked to be held only sealed)
  const opened = await openedSignatures(h.db.pool, `s.action_id = $1 AND p.email_index = $2`, [actionId, indexOfEmail(email)]);
  const { rows } = await h.db.pool.query(
    `SELECT s.id, e.requested_at AS confirmation_requested_at, e.sent_at AS confirmation_sent_at, e.released_at AS confirmation_released_at, e.reminder_sent_at, p.country AS supporter_country,
            (SELECT count(*)::int FROM ${CONSENT_RECORDS} c WHERE c.signature_id = s.id) AS consents
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id LEFT JOIN confirmation_emails e ON e.signature_id = s.id WHERE s.id = ANY($1::uuid[])`,
    [opened.map((r) => r.id)],
  );
  const more = new Map(rows.map((r) => [r.id, r]));
  return opened.map((r) => {
    expectSignatureSealed(r);
    return { ...r, ...more.get(r.id) };
  });
}

/** The one sign-up with the address for the action. */
async function rowOf(actionId: string, email: string) {
  const rows = await rowsOf(actionId, email);
  expect(rows).toHaveLength(1);
  return rows[0];
}

const ATTACKER = {
  firstName: 'Mallory',
  lastName: 'Forger',
  country: 'FR',
  consentNamed: true,
  consentWall: true,
  consentContact: true,
  source: 'forged-src',
  letterSubject: 'Not her subject',
  letterBody: 'Not her words.',
};
const VICTIM_IP = '198.51.100.20';

/**
 * The victim signs cleanly after the flagged row: her sign-up is a row of its own, hers,
 * emailed and confirmable; the flagged one stays set aside, as it was, for staff.
 */
async function victimTakesOver(actionId: string, slug: string, email: string) {
  const [flagged] = await rowsOf(actionId, email);
  const res = await sign(h, slug, signBody({ email, firstName: 'Ana', lastName: 'López', country: 'MX' }), VICTIM_IP);
  expect(res.statusCode).toBe(202);

  const both = await rowsOf(actionId, email);
  expect(both).toHaveLength(2);
  expect(both[0]).toEqual(flagged);
  const row = both[1];
  // nothing of the flagged sign-up survives into what she is asked to confirm
  expect(row).toMatchObject({
    status: 'PENDING',
    invalid_reason: null,
    invalidated_at: null,
    country: 'MX',
    named_disclosure: false,
    named_to_own_country: false,
    public_wall: false,
    pending_first_name: 'Ana',
    pending_last_name: 'López',
    pending_contact: false,
    letter_subject: null,
    letter_body: null,
    source: null,
    ip_hash: hashIp(h.secret, VICTIM_IP),
    reminder_sent_at: null,
    consents: 0,
    // and the supporter was never named after the attacker
    first_name: null,
  });

  // her confirmation email is owed and sent, showing her details only
  expect(await sendConfirmation(mailDeps(), row.id)).toBe('sent');
  const mail = mailbox.messages().find((m) => m.envelope.to.includes(email))!;
  expect(mail.text).toContain('Name: Ana López');
  expect(mail.text).toContain('Country: Mexico');
  expect(mail.text).toContain('Include my name in what officials receive: no');
  expect(mail.text).not.toMatch(/Mallory|Forger|France|Not her/);

  const token = /\/confirm\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32})/.exec(mail.text)![1]!;
  expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` })).json().status).toBe('confirmed');
  const after = (await rowsOf(actionId, email))[1];
  expect(after.id).toBe(row.id);
  expect(after).toMatchObject({ status: 'CONFIRMED', first_name: 'Ana', last_name: 'López', supporter_country: 'MX', named_disclosure: false, consents: 5 });
  const { rows } = await h.db.pool.query(`SELECT purpose, granted FROM ${CONSENT_RECORDS} c WHERE signature_id = $1 ORDER BY purpose`, [after.id]);
  expect(rows.filter((r) => r.granted).map((r) => r.purpose)).toEqual(['COUNT']);
}

describe('a flagged sign-up with the victim’s address, then her own', () => {
  it('honeypot: her clean sign-up is not held back by the flagged one, is emailed, and confirms her details', async () => {
    const action = await letterAction(h);
    const email = uniqueEmail('victim');
    const flagged = await sign(h, action.slug, signBody({ ...ATTACKER, email, website: 'http://bot.example' }), '203.0.113.9');
    expect(flagged.statusCode).toBe(202);
    expect(await rowOf(action.id, email)).toMatchObject({ status: 'INVALIDATED', invalid_reason: 'honeypot', first_name: null, consents: 0 });
    await victimTakesOver(action.id, action.slug, email);
  });

  it('per-address limit: a sign-up flagged as over the limit does not block her either', async () => {
    const action = await letterAction(limited);
    const email = uniqueEmail('victim');
    const attackerIp = `203.0.113.${10 + Math.floor(Math.random() * 200)}`;
    for (let i = 0; i < 2; i++) await sign(limited, action.slug, signBody({ email: uniqueEmail('filler') }), attackerIp);
    expect((await sign(limited, action.slug, signBody({ ...ATTACKER, email }), attackerIp)).statusCode).toBe(202);
    expect(await rowOf(action.id, email)).toMatchObject({ status: 'INVALIDATED', invalid_reason: 'rate_limit_ip' });
    await victimTakesOver(action.id, action.slug, email);
  });

  it('a flagged sign-up never replaces hers, pending or confirmed, nor asks for another email', async () => {
    const action = await letterAction(h);
    const email = uniqueEmail('victim');
    await sign(h, action.slug, signBody({ email, country: 'MX' }), VICTIM_IP);
    const before = await rowOf(action.id, email);
    await sign(h, action.slug, signBody({ ...ATTACKER, email, website: 'x' }), '203.0.113.99');
    const after = await rowOf(action.id, email);
    expect(after).toMatchObject({ status: 'PENDING', pending_first_name: 'Ana', country: 'MX', letter_body: null });
    expect(after.confirmation_requested_at).toEqual(before.confirmation_requested_at);
  });

  it('a signature confirmed and then set aside by staff is not revived by signing again', async () => {
    const action = await letterAction(h);
    const email = uniqueEmail('revive');
    await sign(h, action.slug, signBody({ email }), VICTIM_IP);
    const row = await rowOf(action.id, email);
    await h.db.pool.query(
      `UPDATE signatures SET status = 'INVALIDATED', confirmed_at = now(), invalidated_at = now(), invalid_reason = 'staff: fraud ring' WHERE id = $1`,
      [row.id],
    );
    const asked = async () => (await h.db.pool.query<{ requested_at: Date }>(`SELECT requested_at FROM confirmation_emails WHERE signature_id = $1`, [row.id])).rows.map((r) => r.requested_at.getTime());
    const before = await asked();
    expect((await sign(h, action.slug, signBody({ email }), VICTIM_IP)).statusCode).toBe(202);
    expect(await rowOf(action.id, email)).toMatchObject({ status: 'INVALIDATED', invalid_reason: 'staff: fraud ring' });
    // nor does signing again ask for an email about it
    expect(await asked()).toEqual(before);
  });
});
