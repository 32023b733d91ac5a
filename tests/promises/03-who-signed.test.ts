// Promise 3: nobody learns from Chorus whether an address has signed.
// An attacker who knows (or guesses) an address signs with it, through the JSON API and as an
// HTML form, and through the "my data" request, and compares what comes back for an address
// that never signed, one that signed and did not confirm, one that confirmed, one that
// unsubscribed, one that erased its data and one that signed another action. Every answer must
// be the same, byte for byte, headers included; and every email the sign-ups cause goes to the
// address's owner only, never to the attacker's variant of it.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config/config.ts';
import { buildApp } from '../../server/src/http/app.ts';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox } from '../../server/src/mailbox/mailbox.service.ts';
import { sendConfirmation } from '../../server/src/signature/confirmation.service.ts';
import { SignatureWriter } from '../../server/src/signature/signature.repository.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { myDataToken, unsubscribeToken } from '../../server/src/supporter/supporter.service.ts';
import { createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../../server/src/testing/harness.ts';
import { indexOfEmail, supporterByEmail } from '../../server/src/testing/sealed.ts';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
let app: FastifyInstance;

beforeAll(async () => {
  h = await createHarness();
  ({ mailbox, mailer } = await startTestMail());
  // the harness app, with a mailer for the "my data" links (sent by the request itself); the
  // confirmation emails are sent below by sendConfirmation, as the worker would
  app = await buildApp({
    config: { ...loadConfig(), LOG_LEVEL: 'silent', PUBLIC_BASE_URL: 'http://chorus.test' },
    pool: h.db.pool,
    redis: h.redis,
    cache: h.cache,
    internalSecret: 'internal-secret-for-tests',
    logger: false,
    signatures: {
      pool: h.db.pool,
      cache: h.cache,
      writer: new SignatureWriter(h.db.pool),
      queues: { enqueueConfirmations: async () => {} },
      secret: h.secret,
      clock: () => new Date(),
      confirmLinkTtlHours: 24,
    },
    members: { mailer, mailFrom: 'Chorus <actions@chorus.example.org>' },
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});

const tokenDeps = () => ({ secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 24 });
const mailDeps = () => ({
  pool: h.db.pool,
  mailer,
  secret: h.secret,
  clock: () => new Date(),
  confirmLinkTtlHours: 24,
  publicBaseUrl: 'http://chorus.test',
  mailFrom: 'Chorus <actions@chorus.example.org>',
});

/** What an attacker can observe of an answer: status, every header but the date, the body. */
function observed(res: LightMyRequestResponse) {
  const headers = { ...res.headers };
  delete headers.date;
  return { status: res.statusCode, headers, body: res.body };
}

const json = (slug: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload });
const form = (slug: string, fields: Record<string, string>) =>
  app.inject({
    method: 'POST',
    url: `/api/actions/${slug}/signatures`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });

async function supporterOf(email: string) {
  return (await supporterByEmail(h.db.pool, email))!;
}
async function signatureOf(slug: string, email: string) {
  const { rows } = await h.db.pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     WHERE a.slug = $1 AND p.email_index = $2`,
    [slug, indexOfEmail(email)],
  );
  return rows[0]?.id;
}

/** A unique address at Gmail, which delivers every +tag and dot spelling to one mailbox. */
const gmail = (name: string) => uniqueEmail(name).replace('@example.org', '@gmail.com');

describe('promise 3: whether an address has signed', () => {
  it('the sign-up and "my data" answers are the same for a new, pending, confirmed, unsubscribed, erased and elsewhere-signed address', async () => {
    const { action } = await createAction(h.db, { locales: ['en', 'es'] });
    const other = await createAction(h.db);
    await h.cache.refresh();
    const slug = action.slug;

    // at Gmail, whose +tags reach the same mailbox: the canonical form folds them into one address
    const addresses = {
      fresh: gmail('fresh'),
      pending: gmail('pending'),
      confirmed: gmail('confirmed'),
      unsubscribed: gmail('unsubscribed'),
      erased: gmail('erased'),
      elsewhere: gmail('elsewhere'),
    };
    // the victims' own history
    for (const k of ['pending', 'confirmed', 'unsubscribed', 'erased'] as const) {
      expect((await json(slug, signBody({ email: addresses[k], firstName: 'Victim' }))).statusCode).toBe(202);
    }
    expect((await json(other.action.slug, signBody({ email: addresses.elsewhere }))).statusCode).toBe(202);
    for (const k of ['confirmed', 'unsubscribed', 'erased'] as const) {
      const token = confirmationToken(tokenDeps(), (await signatureOf(slug, addresses[k]))!);
      expect((await app.inject({ method: 'POST', url: `/api/confirmations/${token}`, payload: {} })).statusCode).toBe(200);
    }
    const unsub = unsubscribeToken(tokenDeps(), (await supporterOf(addresses.unsubscribed)).id);
    expect((await app.inject({ method: 'POST', url: `/api/unsubscribe/${unsub}`, payload: {} })).statusCode).toBe(200);
    const erase = myDataToken(tokenDeps(), (await supporterOf(addresses.erased)).id);
    expect((await app.inject({ method: 'POST', url: `/api/my-data/${erase}/erase`, payload: { confirm: true } })).statusCode).toBe(200);

    // the attacker's probes: the same body but for the address, as JSON, as a form, and the my-data request
    const probe = async (email: string) => ({
      json: observed(await json(slug, { firstName: 'Probe', lastName: 'Probe', email, country: 'FR', consentCount: true, locale: 'es' })),
      form: observed(await form(slug, { firstName: 'Probe', lastName: 'Probe', email, country: 'FR', consentCount: 'on', locale: 'es' })),
      myData: observed(
        await app.inject({ method: 'POST', url: '/api/my-data/requests', payload: { email, locale: 'es' } }),
      ),
    });
    const baseline = await probe(addresses.fresh);
    expect(baseline.json.status).toBe(202);
    expect(baseline.form.status).toBe(303);
    expect(baseline.myData.status).toBeLessThan(300);
    for (const k of ['pending', 'confirmed', 'unsubscribed', 'erased', 'elsewhere'] as const) {
      expect(await probe(addresses[k]), `answers for the ${k} address`).toEqual(baseline);
      // a variant the canonical form folds into the same address answers the same too
      expect(await probe(addresses[k].replace('@', '+probe@').toUpperCase()), `answers for a variant of the ${k} address`).toEqual(baseline);
    }
  });

  it('what the probes cause to be emailed goes to the address on file, never to the variant the prober typed', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const victim = gmail('victim');
    expect((await json(action.slug, signBody({ email: victim }))).statusCode).toBe(202);
    const id = (await signatureOf(action.slug, victim))!;
    const token = confirmationToken(tokenDeps(), id);
    expect((await app.inject({ method: 'POST', url: `/api/confirmations/${token}`, payload: {} })).statusCode).toBe(200);

    mailbox.clear();
    const variant = victim.replace('@', '+attacker@').toUpperCase();
    expect((await json(action.slug, signBody({ email: variant, firstName: 'Mallory' }))).statusCode).toBe(202);
    expect(await sendConfirmation(mailDeps(), id)).toBe('already-signed-sent');
    expect((await app.inject({ method: 'POST', url: '/api/my-data/requests', payload: { email: variant } })).statusCode).toBeLessThan(300);
    // the my-data email is sent by the request itself (no queue): wait for it
    // (the "my data" emails of the test above are sent after its answers and may still arrive:
    // only what went to this victim's address, however spelled, is this test's)
    const local = victim.split('@')[0]!.replaceAll('.', '');
    const mine = () => mailbox.messages().filter((m) => m.envelope.to.some((to) => to.toLowerCase().replaceAll('.', '').includes(local)));
    await expect.poll(() => mine().length, { timeout: 10_000, interval: 25 }).toBeGreaterThanOrEqual(2);
    const recipients = mine().flatMap((m) => m.envelope.to);
    expect(new Set(recipients)).toEqual(new Set([victim]));
    for (const m of mine()) expect(`${m.text}\n${m.html}`).not.toContain('Mallory');
  });
});
