// Promise 4: a forged sign-up with someone's address never blocks that person. Tried as the
// attacker who found it did: from one address, sign the five demo actions with the victim's
// email, using up the emails one address may get in ten minutes (SIGN_LIMIT_PER_EMAIL, 5); then
// the victim, from her own address, signs another action. She got the usual 202 and never an
// email: her signature was stored INVALIDATED (rate_limit_email), the attacker could do it again
// every window, and "This was not me" on the forged ones did not lift it.
//
// Now the limit caps the emails an address receives, not the sign-ups: hers stays pending and its
// email waits for the address's budget, oldest request first, so it goes in the next window at
// worst, ahead of anything the attacker asks for after her. Against the real database, Redis and
// an SMTP server (the mailbox); the worker's part (sendConfirmation, as the mail queue's processor
// calls it, with the budget) is run here with a clock the test moves from window to window.
import type { QueryResult } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox, StoredMessage } from '../../server/src/mailbox/mailbox.service.ts';
import { sendConfirmation, type ConfirmationMailDeps } from '../../server/src/signature/confirmation.service.ts';
import { confirmationMailDeps, createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../../server/src/testing/harness.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';

const WINDOW = 10 * 60_000;
const LIMIT = 5;
/** windows are counted from the epoch, like every limit's */
const windowStart = (d: Date) => new Date(Math.floor(d.getTime() / WINDOW) * WINDOW);

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
const clock = { value: new Date() };

beforeAll(async () => {
  // the default limits of a real installation (the suite's own are lifted: see vitest.config.ts)
  h = await createHarness({ env: { SIGN_LIMIT_PER_EMAIL: String(LIMIT), SIGN_LIMIT_PER_IP: '100' } });
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});
beforeEach(() => {
  mailbox.clear();
  // a minute into a window, so that the test decides when the next one begins
  clock.value = new Date(windowStart(new Date()).getTime() + 60_000);
});

const mailDeps = (): ConfirmationMailDeps => confirmationMailDeps(h, mailer, { clock: () => clock.value, budget: { perWindow: LIMIT, windowMs: WINDOW } });

const ATTACKER_IP = '203.0.113.77';
const VICTIM_IP = '198.51.100.30';
const FORGED = { firstName: 'Mallory', lastName: 'Forger', country: 'FR', consentNamed: true, consentWall: true };

async function petitions(n: number) {
  const actions = [];
  for (let i = 0; i < n; i++) actions.push((await createAction(h.db)).action);
  await h.cache.refresh();
  return actions;
}

const sign = (slug: string, body: Record<string, unknown>, ip: string) =>
  h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, remoteAddress: ip, payload: body });

/** Every sign-up with the address for the action, oldest first. */
async function rowsOf(actionId: string, email: string): Promise<QueryResult['rows']> {
  // the sign-up's name and letter opened, and checked to be held only sealed
  const opened = await openedSignatures(h.db.pool, `s.action_id = $1 AND p.email_index = $2`, [actionId, indexOfEmail(email)]);
  const { rows } = await h.db.pool.query(
    `SELECT e.signature_id AS id, e.requested_at AS confirmation_requested_at, e.sent_at AS confirmation_sent_at, e.released_at AS confirmation_released_at, e.reminder_sent_at
     FROM confirmation_emails e WHERE e.signature_id = ANY($1::uuid[])`,
    [opened.map((r) => r.id)],
  );
  const emails = new Map(rows.map((r) => [r.id, r]));
  const none = { confirmation_requested_at: null, confirmation_sent_at: null, confirmation_released_at: null, reminder_sent_at: null };
  return opened.map((r) => {
    expectSignatureSealed(r);
    return { ...r, ...(emails.get(r.id) ?? none) };
  });
}

/** The newest sign-up with the address for the action. */
async function rowOf(actionId: string, email: string) {
  const rows = await rowsOf(actionId, email);
  expect(rows.length).toBeGreaterThan(0);
  return rows.at(-1);
}

/**
 * The mail worker's turn: every email the address is owed is tried now, newest request first
 * (the order the jobs run in is not what decides who goes first: the budget's release is).
 */
async function workerRuns(email: string): Promise<{ sent: number; deferred: number }> {
  const { rows } = await h.db.pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN confirmation_emails e ON e.signature_id = s.id
     WHERE p.email_index = $1 AND s.status <> 'INVALIDATED'
       AND (e.sent_at IS NULL OR e.requested_at > e.sent_at)
     ORDER BY e.requested_at DESC`,
    [indexOfEmail(email)],
  );
  const outcomes = [];
  for (const r of rows) outcomes.push(await sendConfirmation(mailDeps(), r.id));
  return { sent: outcomes.filter((o) => o === 'sent').length, deferred: outcomes.filter((o) => o === 'deferred').length };
}

const mailsTo = (email: string) => mailbox.messages().filter((m) => m.envelope.to.includes(email));
const tokenOf = (mail: StoredMessage) => /\/confirm\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32})/.exec(mail.text)![1]!;
const nextWindow = () => (clock.value = new Date(windowStart(clock.value).getTime() + WINDOW + 1_000));

describe('the emails of an address used up by someone else', () => {
  it('her own sign-up is kept pending and emailed in the next window, ahead of what the attacker asks for after her; the address never gets more than the limit', async () => {
    const actions = await petitions(6);
    const demo = actions.slice(0, 5);
    const hers = actions[5]!;
    const victim = uniqueEmail('victim');

    // the attacker uses up her budget: five forged sign-ups, five emails to her
    const attackerAnswers = [];
    for (const a of demo) attackerAnswers.push((await sign(a.slug, signBody({ ...FORGED, email: victim }), ATTACKER_IP)).body);
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 0 });

    // she signs another action with her own details, from her own address
    const res = await sign(hers.slug, signBody({ email: victim, firstName: 'Ana', lastName: 'López', country: 'MX' }), VICTIM_IP);
    expect(res.statusCode).toBe(202);
    // the same answer as anyone's (promise 3): the limit is not told
    expect(res.body).toBe(attackerAnswers[0]);
    expect(new Set(attackerAnswers).size).toBe(1);
    // kept, pending, with her details: never invalidated for the address's limit
    expect(await rowOf(hers.id, victim)).toMatchObject({ status: 'PENDING', invalid_reason: null, invalidated_at: null, pending_first_name: 'Ana', country: 'MX' });

    // this window's five emails are gone: hers waits
    clock.value = new Date(clock.value.getTime() + 1_000);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 1 });
    expect(mailsTo(victim)).toHaveLength(5);

    // the attacker asks again, for all five, after her
    for (const a of demo) expect((await sign(a.slug, signBody({ ...FORGED, email: victim, firstName: 'Mallory2' }), ATTACKER_IP)).statusCode).toBe(202);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 6 });
    expect(mailsTo(victim)).toHaveLength(5);

    // next window: five go, hers first (the oldest request), whatever order the jobs run in
    nextWindow();
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 1 });
    const second = mailsTo(victim).slice(5);
    expect(second).toHaveLength(5);
    const mine = second.filter((m) => m.text.includes('Name: Ana López'));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.text).toContain('Country: Mexico');
    expect(mine[0]!.text).not.toMatch(/Mallory|Forger/);

    // she confirms exactly what she signed
    const confirmed = await h.app.inject({ method: 'POST', url: `/api/confirmations/${tokenOf(mine[0]!)}` });
    expect(confirmed.json().status).toBe('confirmed');
    expect(await rowOf(hers.id, victim)).toMatchObject({ status: 'CONFIRMED', country: 'MX' });

    // and the last forged one the window after: never more than five in a window, nothing lost
    nextWindow();
    expect(await workerRuns(victim)).toEqual({ sent: 1, deferred: 0 });
    expect(mailsTo(victim)).toHaveLength(11);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 0 });
  });

  it('the worst case: the attacker asks again before her and then every window; hers goes in the second window', async () => {
    const actions = await petitions(6);
    const demo = actions.slice(0, 5);
    const hers = actions[5]!;
    const victim = uniqueEmail('victim');
    const forgeAll = async (round: number) => {
      for (const a of demo) expect((await sign(a.slug, signBody({ ...FORGED, email: victim, firstName: `Round${round}` }), ATTACKER_IP)).statusCode).toBe(202);
    };
    await forgeAll(0);
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 0 });
    // five more requests wait before she signs: they are older than hers
    await forgeAll(1);
    await sign(hers.slug, signBody({ email: victim, firstName: 'Ana', country: 'MX' }), VICTIM_IP);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 6 });
    // next window: the five older ones go; then the attacker asks again at once, to stay ahead
    nextWindow();
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 1 });
    expect(mailsTo(victim).filter((m) => m.text.includes('Name: Ana'))).toHaveLength(0);
    await forgeAll(2);
    // ... but a repeat is a newer request: it queues behind her
    nextWindow();
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 1 });
    const third = mailsTo(victim).slice(10);
    expect(third.filter((m) => m.text.includes('Name: Ana'))).toHaveLength(1);
    expect(mailsTo(victim)).toHaveLength(15);
  });

  it('"This was not me" on the forged sign-ups stops their waiting emails, and hers goes first', async () => {
    const actions = await petitions(6);
    const demo = actions.slice(0, 5);
    const hers = actions[5]!;
    const victim = uniqueEmail('victim');
    for (const a of demo) await sign(a.slug, signBody({ ...FORGED, email: victim }), ATTACKER_IP);
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 0 });
    const links = mailsTo(victim).map(tokenOf);

    // the attacker asks again, the same sign-ups, and she signs after them
    for (const a of demo) await sign(a.slug, signBody({ ...FORGED, email: victim }), ATTACKER_IP);
    await sign(hers.slug, signBody({ email: victim, firstName: 'Ana', country: 'MX' }), VICTIM_IP);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 6 });

    // she discards the forged ones from the emails she got
    for (const token of links) {
      const res = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}/discard`, payload: {} });
      expect(res.json().status).toBe('discarded');
    }
    for (const a of demo) expect(await rowOf(a.id, victim)).toMatchObject({ status: 'INVALIDATED', invalid_reason: 'not_me' });

    // next window: only hers is owed, and it goes; the discarded ones are never emailed again
    nextWindow();
    expect(await workerRuns(victim)).toEqual({ sent: 1, deferred: 0 });
    const last = mailsTo(victim).slice(5);
    expect(last).toHaveLength(1);
    expect(last[0]!.text).toContain('Name: Ana');
    for (const a of demo) expect(await sendConfirmation(mailDeps(), (await rowOf(a.id, victim)).id)).toBe('nothing-owed');
    expect(mailsTo(victim)).toHaveLength(6);
  });

  it('a flood of sign-ups with one address from many client addresses: every one kept waiting, one email owed per action at a time, at most the limit per window', async () => {
    const actions = await petitions(5);
    const victim = uniqueEmail('flooded');
    const answers = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const res = await sign(actions[i % 5]!.slug, signBody({ ...FORGED, email: victim, firstName: `Flood${i}` }), `198.18.7.${i + 1}`);
      expect(res.statusCode).toBe(202);
      answers.add(res.body);
    }
    // every sign-up is answered alike and kept, waiting
    expect(answers.size).toBe(1);
    for (const a of actions) expect((await rowsOf(a.id, victim)).map((r) => r.status)).toEqual(Array(6).fill('PENDING'));
    // one email per action: the first sign-up's, whose page lists the five others, which then
    // owe none of their own (the jobs tried before it went were deferred)
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 25 });
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 0 });
    const first = mailsTo(victim);
    expect(first.map((m) => /Name: (\S+)/.exec(m.text)![1]).sort()).toEqual(['Flood0', 'Flood1', 'Flood2', 'Flood3', 'Flood4']);
    for (const m of first) {
      expect(m.text).toContain('5 other sign-ups with this email address are waiting for this action too.');
      expect((await h.app.inject({ url: `/api/confirmations/${tokenOf(m)}` })).json().others).toHaveLength(5);
    }
    // ten more, made after those emails went: each owes one; this window's five are gone
    for (let i = 0; i < 10; i++) await sign(actions[i % 5]!.slug, signBody({ ...FORGED, email: victim, firstName: `Again${i}` }), `198.18.8.${i + 1}`);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 10 });
    expect(mailsTo(victim)).toHaveLength(5);
    // next window: one per action, the oldest, whose page lists the other
    nextWindow();
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 5 });
    expect(mailsTo(victim).slice(5).map((m) => /Name: (\S+)/.exec(m.text)![1]).sort()).toEqual(['Again0', 'Again1', 'Again2', 'Again3', 'Again4']);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 0 });
  });

  it('sending her own sign-up again, with her details, leaves her waiting email its place in the queue', async () => {
    const actions = await petitions(7);
    const forgedOn = actions.slice(0, 6);
    const hers = actions[6]!;
    const victim = uniqueEmail('pushed');
    for (const [i, a] of forgedOn.entries()) await sign(a.slug, signBody({ ...FORGED, email: victim, firstName: `F${i}` }), ATTACKER_IP);
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 1 });
    const own = signBody({ email: victim, firstName: 'Ana', lastName: 'López', country: 'MX' });
    await sign(hers.slug, own, VICTIM_IP);
    const before = await rowOf(hers.id, victim);
    clock.value = new Date(clock.value.getTime() + 1_000);
    expect(await workerRuns(victim)).toEqual({ sent: 0, deferred: 2 });
    // just before the window turns, the attacker sends the five forged sign-ups whose emails went
    // (they are owed again, behind her) and hers, exactly as she sent it
    for (const [i, a] of forgedOn.slice(0, 5).entries()) await sign(a.slug, signBody({ ...FORGED, email: victim, firstName: `F${i}` }), ATTACKER_IP);
    await sign(hers.slug, own, ATTACKER_IP);
    const after = await rowOf(hers.id, victim);
    expect(after.id).toBe(before.id);
    expect(after.confirmation_requested_at).toEqual(before.confirmation_requested_at);
    nextWindow();
    expect(await workerRuns(victim)).toEqual({ sent: 5, deferred: 2 });
    const second = mailsTo(victim).slice(5);
    expect(second.filter((m) => m.text.includes('Name: Ana López'))).toHaveLength(1);
    expect(second.filter((m) => m.text.includes('Name: F5'))).toHaveLength(1);
  });
});
