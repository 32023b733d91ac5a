// The abuse limits hold on every path that creates a signature, tried as a careless integrator
// (or whoever holds its key) would: the public form, /api/v1 and the two OSDI record helpers
// share one per-address counter and one address's budget of confirmation emails, and each API
// key has its own budget (SIGN_LIMIT_PER_API_KEY), answered with 429 and nothing stored.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { hashIp } from '../shared/tokens.ts';
import { sendConfirmation, type ConfirmationMailDeps } from '../signature/confirmation.service.ts';
import { confirmationMailDeps, asStaff, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness, startTestMail } from '../testing/harness.ts';
import { DEFAULT_WINDOW_MS } from './abuse.service.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
let admin: { cookie: string };
let mailbox: Mailbox;
let mailer: Mailer;

beforeAll(async () => {
  h = await createHarness({
    env: { SIGN_LIMIT_PER_IP: '3', SIGN_LIMIT_PER_EMAIL: '2', SIGN_LIMIT_PER_API_KEY: '5', PUBLIC_POST_LIMIT_PER_IP: '1000', TRUSTED_PROXIES: '' },
  });
  admin = await staffSession(h.db, 'ADMIN');
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});

const mailDeps = (): ConfirmationMailDeps => confirmationMailDeps(h, mailer);

/** a benchmarking-range address no other test uses */
const freshIp = () => `198.19.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

async function writerKey(): Promise<string> {
  const res = await asStaff(h.app, admin.cookie, { method: 'POST', url: '/api/admin/api-keys', payload: { name: 'Partner site', scopes: ['write_signatures'] } });
  expect(res.statusCode).toBe(201);
  return res.json().secret as string;
}

/** every row the address has, oldest first */
async function rowsOf(email: string) {
  const { rows } = await h.db.pool.query<{ id: string; status: string; invalid_reason: string | null; ip_hash: string | null }>(
    `SELECT s.id, s.status, s.invalid_reason, s.ip_hash FROM signatures s JOIN supporters p ON p.id = s.supporter_id
      WHERE p.email_index = $1 ORDER BY s.created_at, s.id`,
    [indexOfEmail(email)],
  );
  return rows;
}

async function confirmationJobs(signatureIds: string[]): Promise<number> {
  let n = 0;
  for (const id of signatureIds) n += (await h.redis.keys(`bull:chorus-mail:confirmation-${id}-*`)).length;
  return n;
}

const osdiPerson = (email: string) => ({
  person: { given_name: 'Ana', family_name: 'López', email_addresses: [{ address: email, primary: true }], postal_addresses: [{ country: 'MX' }] },
  consents: { count: true },
});

describe('one address, every path', () => {
  it('the per-email limit counts the form, /api/v1 and both OSDI helpers together: one address gets at most 2 confirmation emails a window, the rest wait', async () => {
    const secret = await writerKey();
    const victim = uniqueEmail('victim');
    const petitions = [await createAction(h.db), await createAction(h.db), await createAction(h.db), await createAction(h.db)];
    const letters = [await createAction(h.db, { kind: 'LETTER' }), await createAction(h.db, { kind: 'LETTER' })];
    await h.cache.refresh();
    const auth = { authorization: `Bearer ${secret}` };
    // each from a different address, so only the per-email limit can stop them
    const answers = [
      await h.app.inject({ method: 'POST', url: `/api/actions/${petitions[0]!.action.slug}/signatures`, remoteAddress: freshIp(), payload: signBody({ email: victim }) }),
      await h.app.inject({ method: 'POST', url: `/api/v1/actions/${petitions[1]!.action.slug}/signatures`, remoteAddress: freshIp(), headers: auth, payload: signBody({ email: victim }) }),
      await h.app.inject({ method: 'POST', url: `/api/v1/actions/${petitions[2]!.action.slug}/signatures`, remoteAddress: freshIp(), headers: auth, payload: signBody({ email: victim }) }),
      await h.app.inject({
        method: 'POST',
        url: `/api/osdi/v1/petitions/${petitions[3]!.action.id}/record_signature_helper`,
        remoteAddress: freshIp(),
        headers: { 'osdi-api-token': secret },
        payload: osdiPerson(victim.toUpperCase()),
      }),
      ...(await Promise.all(
        letters.map(({ action }) =>
          h.app.inject({
            method: 'POST',
            url: `/api/osdi/v1/advocacy_campaigns/${action.id}/record_outreach_helper`,
            remoteAddress: freshIp(),
            headers: { 'osdi-api-token': secret },
            payload: osdiPerson(victim),
          }),
        ),
      )),
    ];
    // nobody learns the limit from the answers
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202, 200, 200, 200]);
    const rows = await rowsOf(victim);
    expect(rows).toHaveLength(6);
    // none is dropped: whoever used the address, its owner's own sign-up must not be swallowed
    expect(rows.map((r) => `${r.status} ${r.invalid_reason ?? ''}`)).toEqual(Array(6).fill('PENDING '));
    await expect.poll(() => confirmationJobs(rows.map((r) => r.id))).toBe(6);
    // the mail worker, with the budget it is given (SIGN_LIMIT_PER_EMAIL, 2 here): whichever path
    // asked, two emails go in this window, the oldest requests first, and the others wait
    const { rows: byRequest } = await h.db.pool.query<{ id: string }>(
      `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id LEFT JOIN confirmation_emails e ON e.signature_id = s.id WHERE p.email_index = $1 ORDER BY e.requested_at, s.id`,
      [indexOfEmail(victim)],
    );
    const deps = { ...mailDeps(), budget: { perWindow: 2, windowMs: DEFAULT_WINDOW_MS } };
    const outcomes = [];
    for (const r of [...byRequest].reverse()) outcomes.push({ id: r.id, outcome: await sendConfirmation(deps, r.id) });
    expect(outcomes.filter((o) => o.outcome === 'sent').map((o) => o.id).sort()).toEqual(byRequest.slice(0, 2).map((r) => r.id).sort());
    expect(outcomes.filter((o) => o.outcome === 'deferred')).toHaveLength(4);
    expect(mailbox.messages().filter((m) => m.envelope.to.includes(victim))).toHaveLength(2);
  });
});

describe('the client address of an integrator', () => {
  it("without the signer's address, the integrator's server is the client: its sign-ups share the per-address limit, also with the form", async () => {
    const secret = await writerKey();
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const server = freshIp();
    const emails = Array.from({ length: 4 }, () => uniqueEmail('crm'));
    // one from the public form, three through the API, all from the same address
    await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: server, payload: signBody({ email: emails[0] }) });
    for (const email of emails.slice(1)) {
      const res = await h.app.inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, remoteAddress: server, headers: { authorization: `Bearer ${secret}` }, payload: signBody({ email }) });
      expect(res.statusCode).toBe(202);
    }
    const rows = await Promise.all(emails.map(async (e) => (await rowsOf(e))[0]!));
    expect(rows.map((r) => r.status)).toEqual(['PENDING', 'PENDING', 'PENDING', 'INVALIDATED']);
    expect(rows[3]!.invalid_reason).toBe('rate_limit_ip');
    expect(rows[1]!.ip_hash).toBe(hashIp(h.secret, server));
  });

  it("with the signer's address (signerIp, signer_ip), each signer is counted on their own and only the keyed hash is stored", async () => {
    const secret = await writerKey();
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const server = freshIp();
    // four signers behind one integrator server: all fine
    const signers = Array.from({ length: 4 }, () => ({ ip: freshIp(), email: uniqueEmail('partner') }));
    for (const s of signers) {
      const res = await h.app.inject({
        method: 'POST',
        url: `/api/v1/actions/${action.slug}/signatures`,
        remoteAddress: server,
        headers: { authorization: `Bearer ${secret}` },
        payload: signBody({ email: s.email, signerIp: s.ip }),
      });
      expect(res.statusCode).toBe(202);
    }
    for (const s of signers) expect(await rowsOf(s.email)).toEqual([expect.objectContaining({ status: 'PENDING', ip_hash: hashIp(h.secret, s.ip) })]);
    const stored = await h.db.pool.query(`SELECT count(*)::int AS n FROM signatures WHERE action_id = $1 AND ip_hash = ANY($2)`, [action.id, signers.map((s) => s.ip)]);
    expect(stored.rows[0].n).toBe(0);

    // one signer address seen once on our form and three times through the integrator (v1 and OSDI): the fourth is over
    const secret2 = await writerKey();
    const busy = freshIp();
    const emails = Array.from({ length: 4 }, () => uniqueEmail('busy'));
    await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: busy, payload: signBody({ email: emails[0] }) });
    await h.app.inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, remoteAddress: server, headers: { authorization: `Bearer ${secret2}` }, payload: signBody({ email: emails[1], signerIp: busy }) });
    for (const email of emails.slice(2)) {
      const res = await h.app.inject({
        method: 'POST',
        url: `/api/osdi/v1/petitions/${action.id}/record_signature_helper`,
        remoteAddress: server,
        headers: { 'osdi-api-token': secret2 },
        payload: { ...osdiPerson(email), signer_ip: busy },
      });
      expect(res.statusCode).toBe(200);
    }
    const rows = await Promise.all(emails.map(async (e) => (await rowsOf(e))[0]!));
    expect(rows.map((r) => `${r.status} ${r.invalid_reason ?? ''}`)).toEqual(['PENDING ', 'PENDING ', 'PENDING ', 'INVALIDATED rate_limit_ip']);
  });

  it('a signer address that is not an address is a clear 422, on both APIs', async () => {
    const secret = await writerKey();
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    for (const bad of ['not-an-ip', '999.1.1.1', '1.2.3.4/24', 'x'.repeat(100), 12]) {
      const v1 = await h.app.inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, headers: { authorization: `Bearer ${secret}` }, payload: signBody({ signerIp: bad }) });
      expect(v1.statusCode, String(bad)).toBe(422);
      expect(v1.json().issues[0].path).toBe('signerIp');
      const osdi = await h.app.inject({
        method: 'POST',
        url: `/api/osdi/v1/petitions/${action.id}/record_signature_helper`,
        headers: { 'osdi-api-token': secret },
        payload: { ...osdiPerson(uniqueEmail()), signer_ip: bad },
      });
      expect(osdi.statusCode, String(bad)).toBe(422);
    }
    const { rows } = await h.db.pool.query('SELECT count(*)::int AS n FROM signatures WHERE action_id = $1', [action.id]);
    expect(rows[0].n).toBe(0);
  });
});

describe('the per-key limit', () => {
  it('a key that invents a new signer address each time is stopped at SIGN_LIMIT_PER_API_KEY with 429 and Retry-After; nothing more is stored; other keys go on', async () => {
    const secret = await writerKey();
    const other = await writerKey();
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const results = [];
    for (let i = 0; i < 7; i++) {
      const osdi = i % 2 === 1;
      const email = uniqueEmail(`flood${i}`);
      const res = osdi
        ? await h.app.inject({
            method: 'POST',
            url: `/api/osdi/v1/petitions/${action.id}/record_signature_helper`,
            headers: { 'osdi-api-token': secret },
            payload: { ...osdiPerson(email), signer_ip: freshIp() },
          })
        : await h.app.inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, headers: { authorization: `Bearer ${secret}` }, payload: signBody({ email, signerIp: freshIp() }) });
      results.push({ status: res.statusCode, code: res.statusCode === 429 ? res.json().code : null, retry: res.headers['retry-after'], stored: (await rowsOf(email)).length });
    }
    expect(results.map((r) => r.status)).toEqual([202, 200, 202, 200, 202, 429, 429]);
    expect(results.slice(5).every((r) => r.code === 'signing_rate_limited' && Number(r.retry) >= 1 && Number(r.retry) <= 600)).toBe(true);
    expect(results.map((r) => r.stored)).toEqual([1, 1, 1, 1, 1, 0, 0]);
    // another key is not affected
    const email = uniqueEmail('other-key');
    const res = await h.app.inject({ method: 'POST', url: `/api/v1/actions/${action.slug}/signatures`, headers: { authorization: `Bearer ${other}` }, payload: signBody({ email, signerIp: freshIp() }) });
    expect(res.statusCode).toBe(202);
    expect((await rowsOf(email))[0]!.status).toBe('PENDING');
    // the public form has no key budget
    const form = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, remoteAddress: freshIp(), payload: signBody({ email: `${randomUUID().slice(0, 8)}@example.org` }) });
    expect(form.statusCode).toBe(202);
  });
});
