// Answers owed by a date, against the real database and a real SMTP server, with a test clock
// that runs across days: a threshold reached sends every target its formal request and tells
// the signers who opted in; the date passing unanswered makes a target overdue, once, by a
// count of days that grows; an answer stops the clock for its target.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { ActionCache, toPublic } from '../action/action.service.ts';
import { deliverLetter } from '../letter/letter.service.ts';
import { foldConfirmations } from '../signature/counter.service.ts';
import { asStaff, confirmSignatures, createAction, createHarness, letterConfig, signBody, staffSession, startTestMail, uniqueEmail, type Harness } from '../testing/harness.ts';
import { checkThresholds, owedAnswers, publicThresholds, setThresholds } from './threshold.service.ts';
import { sendMemberNotice } from '../supporter/notice-mail.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
const DAY = 86_400_000;

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

const queued = { letters: [] as string[], notices: [] as string[] };
const queues = {
  enqueueLetters: async (l: { id: string }[]) => void queued.letters.push(...l.map((x) => x.id)),
  enqueueNotices: async (ids: string[]) => void queued.notices.push(...ids),
};

async function sign(slug: string, body: Record<string, unknown>) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody(body) });
  expect(res.statusCode).toBe(202);
  await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(body.email as string)]);
}

describe('a threshold with a clock', () => {
  it('asks every target by a letter in its language when the count is reached, tells opted-in signers, and counts the days late', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, { locales: ['en', 'es'], deliveryPolicy: 'ON_CLOSE', targets: [{ country: 'MX', language: 'es' }, { country: null, language: 'en' }] });
    const [mexico, un] = fx.targets as [(typeof fx.targets)[0], (typeof fx.targets)[0]];
    const t0 = new Date('2027-03-01T09:00:00.000Z');
    let now = t0;
    const clock = () => now;
    const deps = { pool: h.db.pool, clock, mailDomain: 'chorus.example.org', queues };
    await setThresholds(deps, staff.id, fx.action.id, { counts: [3, 2], respondWithinDays: 10 });

    const contact = uniqueEmail('contact');
    await sign(fx.action.slug, { email: contact, locale: 'es', consentContact: true });
    await foldConfirmations(h.db.pool);
    // one signature: nothing reached
    expect((await checkThresholds(deps)).reached).toEqual([]);
    await sign(fx.action.slug, { email: uniqueEmail('quiet'), consentContact: false });
    await foldConfirmations(h.db.pool);

    queued.letters.length = 0;
    queued.notices.length = 0;
    const first = await checkThresholds(deps);
    expect(first.reached).toEqual([{ actionId: fx.action.id, count: 2, letters: 2, notices: 1 }]);
    expect(queued.letters).toHaveLength(2);
    expect(queued.notices).toHaveLength(1);
    // reached once: a second look (another worker) finds nothing more
    expect((await checkThresholds(deps)).reached).toEqual([]);

    // the formal requests: each in its target's language, with the count, the date and the packet link
    const letterDeps = { pool: h.db.pool, mailer, mailFrom: 'Chorus <actions@chorus.example.org>', organisation: 'Chorus Test', staleSubmittingMs: 60_000, clock, queues, ...letterConfig(h) };
    now = new Date(t0.getTime() + 60_000);
    for (const id of queued.letters) expect(await deliverLetter(letterDeps, id)).toBe('sent');
    const letters = mailbox.messages();
    const toMexico = letters.find((m) => m.envelope.to.includes(mexico.email))!;
    const toUn = letters.find((m) => m.envelope.to.includes(un.email))!;
    expect(toUn.subject).toBe('Request for a response by March 11, 2027: Subject en');
    expect(toUn.text).toContain('2 people have now signed the following request to you.');
    expect(toUn.text).toContain('We formally ask you to respond within 10 days, by March 11, 2027.');
    expect(toUn.text).toContain('Request to officials en');
    expect(toUn.text).toMatch(/http:\/\/[^/]+\/packet\/\S+/);
    expect(toMexico.text).toContain('Estimado Ministro');
    expect(toMexico.text).toContain('Request to officials es');
    expect(toMexico.text).toContain('11 de marzo de 2027');

    // the signer who opted in is told, in the language they signed in; the other is not
    mailbox.clear();
    for (const id of queued.notices) expect(await sendMemberNotice({ ...deps, mailer, secret: h.secret, publicBaseUrl: 'http://chorus.test', mailFrom: 'Chorus <actions@chorus.example.org>' }, id)).toBe('sent');
    const [reached] = mailbox.messages();
    expect(reached!.envelope.to).toEqual([contact]);
    expect(reached!.text).toContain('11 de marzo de 2027');
    expect(reached!.text).toContain('http://chorus.test/es/actions/');
    expect(reached!.text).toContain('/unsubscribe/');

    // the public view during the days: waiting, then the Mexican office answers on day 4
    const cache = new ActionCache(h.db.pool, { actionsRefreshMs: 60_000, countsRefreshMs: 60_000, now: () => now.getTime() });
    await cache.refresh();
    let view = toPublic(cache, cache.peek(fx.action.slug)!, 'en').thresholds;
    expect(view.map((t) => [t.count, t.reachedAt, t.respondBy])).toEqual([
      [2, t0.toISOString(), new Date(t0.getTime() + 10 * DAY).toISOString()],
      [3, null, null],
    ]);
    expect(view[0]!.targets.map((t) => [t.slug, t.state, t.askedAt, t.overdueDays])).toEqual(
      [
        [mexico.slug, 'waiting', now.toISOString(), 0],
        [un.slug, 'waiting', now.toISOString(), 0],
      ].sort((a, b) => (fx.targets.find((x) => x.slug === a[0])!.name < fx.targets.find((x) => x.slug === b[0])!.name ? -1 : 1)),
    );
    await h.db.pool.query(`INSERT INTO answers (action_id, target_id, body, received_at) VALUES ($1, $2, 'Respuesta', $3)`, [fx.action.id, mexico.id, new Date(t0.getTime() + 4 * DAY)]);

    // an acknowledgement of receipt from the UN office is not an answer: its clock goes on
    await h.db.pool.query(`INSERT INTO answers (action_id, target_id, body, received_at) VALUES ($1, $2, $3, $4)`, [fx.action.id, un.id, '[acknowledgement of receipt]\n\nReceived.', new Date(t0.getTime() + 2 * DAY)]);
    // day 10 and a minute: not late yet; day 11: the UN office is late by one day, once
    now = new Date(t0.getTime() + 10 * DAY - 60_000);
    expect((await checkThresholds(deps)).overdue).toEqual([]);
    queued.notices.length = 0;
    now = new Date(t0.getTime() + 11 * DAY + 60_000);
    const late = await checkThresholds(deps);
    expect(late.overdue).toEqual([{ actionId: fx.action.id, count: 2, targetIds: [un.id], notices: 1 }]);
    expect((await checkThresholds(deps)).overdue).toEqual([]);
    await cache.refresh();
    view = toPublic(cache, cache.peek(fx.action.slug)!, 'en').thresholds;
    const states = Object.fromEntries(view[0]!.targets.map((t) => [t.slug, t]));
    expect(states[mexico.slug]).toMatchObject({ state: 'answered', answeredAt: new Date(t0.getTime() + 4 * DAY).toISOString(), answer: null, overdueDays: 0 });
    expect(states[un.slug]).toMatchObject({ state: 'overdue', answeredAt: null, overdueDays: 1 });
    // the days late keep counting
    now = new Date(t0.getTime() + 40 * DAY);
    await cache.refresh();
    expect(publicThresholds(cache.peek(fx.action.slug)!.thresholds, 10, now, 'en')[0]!.targets.find((t) => t.slug === un.slug)!.overdueDays).toBe(30);

    // the overdue notice names the late office and the date
    mailbox.clear();
    for (const id of queued.notices) await sendMemberNotice({ ...deps, mailer, secret: h.secret, publicBaseUrl: 'http://chorus.test', mailFrom: 'Chorus <actions@chorus.example.org>' }, id);
    const [overdue] = mailbox.messages();
    expect(overdue!.envelope.to).toEqual([contact]);
    expect(overdue!.text).toContain(un.name);
    expect(overdue!.text).toContain('11 de marzo de 2027');

    // staff see the late office first
    const owed = (await owedAnswers(h.db.pool, now, 'en')).filter((o) => o.actionId === fx.action.id);
    expect(owed.map((o) => [o.targetSlug, o.state])).toEqual([
      [un.slug, 'overdue'],
      [mexico.slug, 'answered'],
    ]);

    // an answer after the date stops the clock, and is shown as late by its days
    await h.db.pool.query(`INSERT INTO answers (action_id, target_id, body, received_at) VALUES ($1, $2, 'Our reply', $3)`, [fx.action.id, un.id, new Date(t0.getTime() + 13 * DAY + 3_600_000)]);
    await cache.refresh();
    expect(publicThresholds(cache.peek(fx.action.slug)!.thresholds, 10, now, 'en')[0]!.targets.find((t) => t.slug === un.slug)).toMatchObject({ state: 'answered', late: true, overdueDays: 3 });
    expect(publicThresholds(cache.peek(fx.action.slug)!.thresholds, 10, now, 'en')[0]!.targets.find((t) => t.slug === mexico.slug)).toMatchObject({ state: 'answered', late: false, overdueDays: 0 });

    // the threshold and its requests are not deliveries of signatures: the public ledger leaves them out
    expect(toPublic(cache, cache.peek(fx.action.slug)!, 'en').ledger).toEqual([]);
  });

  it('tells each signer once when several offices let the date pass together, naming each, and not again for one that answered since', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, { locales: ['en', 'es'], deliveryPolicy: 'ON_CLOSE', targets: [{ country: 'MX', language: 'es' }, { country: null, language: 'en' }, { country: 'GT', language: 'es' }] });
    const t0 = new Date('2027-05-01T09:00:00.000Z');
    let now = t0;
    const deps = { pool: h.db.pool, clock: () => now, mailDomain: 'chorus.example.org', queues };
    await setThresholds(deps, staff.id, fx.action.id, { counts: [2], respondWithinDays: 5 });
    const contacts = [uniqueEmail('late-a'), uniqueEmail('late-b')];
    for (const email of contacts) await sign(fx.action.slug, { email, consentContact: true });
    await foldConfirmations(h.db.pool);
    queued.letters.length = 0;
    expect((await checkThresholds(deps)).reached).toEqual([{ actionId: fx.action.id, count: 2, letters: 3, notices: 2 }]);
    const letterDeps = { pool: h.db.pool, mailer, mailFrom: 'Chorus <actions@chorus.example.org>', organisation: 'Chorus Test', staleSubmittingMs: 60_000, clock: () => now, queues, ...letterConfig(h) };
    for (const id of queued.letters) expect(await deliverLetter(letterDeps, id)).toBe('sent');

    // day 6: all three offices are late at the same look: one notice per signer, not three
    now = new Date(t0.getTime() + 6 * DAY);
    queued.notices.length = 0;
    const late = await checkThresholds(deps);
    expect(late.overdue).toEqual([{ actionId: fx.action.id, count: 2, targetIds: fx.targets.map((t) => t.id).sort(), notices: 2 }]);
    expect(queued.notices).toHaveLength(2);
    expect((await checkThresholds(deps)).overdue).toEqual([]);

    // the Guatemalan office answers before the notices go: they name the two still silent
    const [mexico, un, guatemala] = fx.targets as [(typeof fx.targets)[0], (typeof fx.targets)[0], (typeof fx.targets)[0]];
    await h.db.pool.query(`INSERT INTO answers (action_id, target_id, body, received_at) VALUES ($1, $2, 'Respuesta', $3)`, [fx.action.id, guatemala.id, new Date(now.getTime() + 60_000)]);
    mailbox.clear();
    for (const id of queued.notices) expect(await sendMemberNotice({ ...deps, mailer, secret: h.secret, publicBaseUrl: 'http://chorus.test', mailFrom: 'Chorus <actions@chorus.example.org>' }, id)).toBe('sent');
    const sent = mailbox.messages();
    expect(sent.map((m) => m.envelope.to[0]).sort()).toEqual([...contacts].sort());
    for (const m of sent) {
      expect(m.subject).toMatch(/^No answer by May 6, 2027: /);
      const listed = m.text.split('\n').filter((l) => l.startsWith('- '));
      expect(listed).toHaveLength(2);
      expect(listed.some((l) => l.includes(mexico.name))).toBe(true);
      expect(listed.some((l) => l.includes(un.name))).toBe(true);
      expect(m.text).not.toContain(guatemala.name);
      expect(m.html).toContain('<li>');
    }
  });

  it('keeps a reached threshold, and refuses bad input with what is wrong', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const fx = await createAction(h.db, {});
    const url = `/api/admin/actions/${fx.action.id}/thresholds`;
    const put = (payload: unknown) => asStaff(h.app, staff.cookie, { method: 'PUT', url, payload: payload as Record<string, unknown> });
    const ok = await put({ counts: [10, 5], respondWithinDays: 21 });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ respondWithinDays: 21, thresholds: [{ count: 5, reachedAt: null }, { count: 10, reachedAt: null }] });
    for (const bad of [
      { counts: [0], respondWithinDays: 10 },
      { counts: [1.5], respondWithinDays: 10 },
      { counts: ['10'], respondWithinDays: 10 },
      { counts: [10], respondWithinDays: 0 },
      { counts: [10], respondWithinDays: 366 },
      { counts: Array.from({ length: 11 }, (_, i) => i + 1), respondWithinDays: 10 },
      { counts: [10] },
      { counts: [10], respondWithinDays: 10, extra: true },
      { counts: [1e300], respondWithinDays: 10 },
    ]) {
      const res = await put(bad);
      expect([400, 422], JSON.stringify(bad)).toContain(res.statusCode);
      expect(res.json().message, JSON.stringify(bad)).toBeTruthy();
    }
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      const unknown = await asStaff(h.app, staff.cookie, { method: 'PUT', url: `/api/admin/actions/${id}/thresholds`, payload: { counts: [1], respondWithinDays: 1 } });
      expect([404, 422], id).toContain(unknown.statusCode);
      expect(unknown.json().message).toBeTruthy();
    }

    await h.db.pool.query(`UPDATE action_thresholds SET reached_at = now() WHERE action_id = $1 AND count = 5`, [fx.action.id]);
    const removeReached = await put({ counts: [10], respondWithinDays: 21 });
    expect(removeReached.statusCode).toBe(409);
    expect(removeReached.json().message).toContain('5');
    const removeOther = await put({ counts: [5, 50], respondWithinDays: 14 });
    expect(removeOther.statusCode).toBe(200);
    expect(removeOther.json().thresholds.map((t: { count: number }) => t.count)).toEqual([5, 50]);
    const { rows } = await h.db.pool.query(`SELECT verb FROM audit_log WHERE entity_id = $1 ORDER BY id`, [fx.action.id]);
    expect(rows.map((r) => r.verb)).toEqual(['thresholds_set', 'thresholds_set']);
    // readers without a session are refused
    expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(401);
  });
});
