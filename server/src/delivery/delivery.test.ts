// Confirmation emails, batching and letter delivery against the real test database and a
// real SMTP server (the development mailbox, on a free port).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Mailer } from '../mail/mailer.ts';
import type { Mailbox } from '../mailbox/mailbox.service.ts';
import { createBatchSignerCache, deliverLetter, type BatchSignerCache } from '../letter/letter.service.ts';
import { eraseSupporter } from '../supporter/supporter.repository.ts';
import { sendConfirmation } from '../signature/confirmation.service.ts';
import { createAction, createHarness, letterConfig, signBody, uniqueEmail, type Harness, confirmSignatures, startTestMail } from '../testing/harness.ts';
import { buildBatch, buildDueBatches } from './batch.service.ts';
import { bounceAddress } from './bounce.service.ts';
import { sweep } from './sweeper.service.ts';
import { Worker } from 'bullmq';
import { QUEUE_NAMES, letterJobId, redisConnection } from '../queue/queue.ts';
import { indexOfEmail } from '../testing/sealed.ts';

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
const enqueued: { id: string; attempts: number }[] = [];
const queues = { enqueueLetters: async (l: { id: string; attempts: number }[]) => void enqueued.push(...l) };

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
  enqueued.length = 0;
});

const mailDeps = () => ({
  pool: h.db.pool,
  mailer,
  secret: h.secret,
  clock: () => new Date(),
  confirmLinkTtlHours: 24,
  publicBaseUrl: 'http://chorus.test',
  mailFrom: 'Chorus <actions@chorus.example.org>',
});
const letterDeps = () => ({
  pool: h.db.pool,
  mailer,
  mailFrom: 'Chorus <actions@chorus.example.org>',
  organisation: 'Chorus Test',
  staleSubmittingMs: 60_000,
  clock: () => new Date(),
  queues,
  random: () => 1,
  ...letterConfig(h),
});

async function signAndConfirm(slug: string, body: Record<string, unknown>) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: body });
  expect(res.statusCode).toBe(202);
  const [id] = await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(body.email as string)]);
  return id as string;
}

describe('confirmation email', () => {
  it('sends a link that opens the confirm page, once per request, and an "already signed" note to a confirmed signer', async () => {
    const fx = await createAction(h.db, { locales: ['en', 'es'] });
    await h.cache.refresh();
    const email = uniqueEmail('conf');
    await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email, locale: 'es' }) });
    const { rows } = await h.db.pool.query(`SELECT s.id FROM signatures s WHERE s.action_id = $1`, [fx.action.id]);
    const id = rows[0].id;

    expect(await sendConfirmation(mailDeps(), id)).toBe('sent');
    expect(await sendConfirmation(mailDeps(), id)).toBe('nothing-owed');
    const [mail] = mailbox.messages();
    expect(mail!.envelope.to).toEqual([email]);
    expect(mail!.subject).toContain('Confirma tu firma');
    expect(mail!.text).toMatch(/http:\/\/chorus\.test\/es\/confirm\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32}/);
    expect(mail!.messageId).toMatch(new RegExp(`^<confirm\\.${id}\\.\\d+@chorus\\.example\\.org>$`));

    await confirmSignatures(h.db.pool, 's.id = $1', [id]);
    await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email, locale: 'es' }) });
    expect(await sendConfirmation(mailDeps(), id)).toBe('already-signed-sent');
    expect(mailbox.messages()[1]!.subject).toContain('Ya habías firmado');
  });
});

describe('batching and delivery', () => {
  it('builds one batch with a letter per target in its language, and delivers each once with its Message-ID', async () => {
    const fx = await createAction(h.db, {
      locales: ['en', 'es'],
      targets: [
        { country: 'MX', language: 'es' },
        { country: null, language: 'fr' },
      ],
    });
    await h.cache.refresh();
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('a'), country: 'CA' }));
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('b'), country: 'MX' }));

    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    expect(built).toMatchObject({ signatureCount: 2 });
    expect(built!.letterIds).toHaveLength(2);
    expect(enqueued.map((e) => e.id).sort()).toEqual([...built!.letterIds].sort());
    expect(await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test')).toBeNull();

    for (const id of built!.letterIds) {
      expect(await deliverLetter(letterDeps(), id)).toBe('sent');
      expect(await deliverLetter(letterDeps(), id)).toBe('not-owed');
    }
    const letters = await h.db.pool.query(`SELECT id, status, locale, message_id, target_id, attempts, sent_at FROM letters WHERE batch_id = $1`, [built!.batchId]);
    expect(letters.rows.every((l) => l.status === 'SENT' && l.sent_at && l.attempts === 1)).toBe(true);
    const byTarget = new Map(letters.rows.map((l) => [l.target_id, l]));
    expect(byTarget.get(fx.targets[0]!.id)!.locale).toBe('es');
    expect(byTarget.get(fx.targets[1]!.id)!.locale).toBe('en'); // no French text: the default

    const msgs = mailbox.messages();
    expect(msgs).toHaveLength(2);
    const toMx = msgs.find((m) => m.envelope.to[0] === fx.targets[0]!.email)!;
    expect(toMx.messageId).toBe(byTarget.get(fx.targets[0]!.id)!.message_id);
    // VERP return path: a bounce names the letter, with a MAC (bounce.service.ts)
    expect(toMx.envelope.from).toBe(bounceAddress(byTarget.get(fx.targets[0]!.id)!.id, 'chorus.example.org', h.secret));
    expect(toMx.envelope.from).toMatch(new RegExp(`^bounces\\+${byTarget.get(fx.targets[0]!.id)!.id}\\.[0-9a-f]{16}@chorus\\.example\\.org$`));
    expect(toMx.subject).toBe('Subject es');
    expect(toMx.text).toContain('Estimado Ministro');
    // the request to officials, and nothing of the page: its summary, body or the member-facing letter text
    expect(toMx.text).toContain('Request to officials es');
    for (const pageCopy of ['Summary es', 'Body es']) expect(toMx.text).not.toContain(pageCopy);
    expect(toMx.text).toMatch(/2 personas han confirmado/);
    // where signers check their receipts, in the letter's language, as its packet link is
    expect(toMx.text).toMatch(/\/es\/packet\//);
    expect(toMx.text).toContain('/es/verify');
    const toUn = msgs.find((m) => m.envelope.to[0] === fx.targets[1]!.email)!;
    expect(toUn.text).toMatch(/https?:\/\/[^/\s]+\/verify/);
  });

  it('names only signers who consented, and never to their own country’s officials', async () => {
    const fx = await createAction(h.db, { targets: [{ country: 'UZ', language: 'en' }] });
    await h.cache.refresh();
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('n1'), firstName: 'Named', lastName: 'Abroad', country: 'FR', consentNamed: true }));
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('n2'), firstName: 'Named', lastName: 'AtHome', country: 'UZ', consentNamed: true }));
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('n3'), firstName: 'Quiet', lastName: 'Person', country: 'FR' }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    await deliverLetter(letterDeps(), built!.letterIds[0]!);
    const [mail] = mailbox.messages();
    expect(mail!.text).toContain('Named Abroad');
    expect(mail!.text).not.toContain('AtHome');
    expect(mail!.text).not.toContain('Quiet');
    expect(mail!.html).not.toContain('AtHome');
    expect(mail!.text).toContain('2 further signers are counted without their names');
  });

  it('carries personalised letters exactly as previewed, and names signers to their own government only by explicit choice', async () => {
    const fx = await createAction(h.db, { kind: 'LETTER', targets: [{ country: 'MX', language: 'en' }] });
    await h.db.k.updateTable('actions').set({ allow_personalisation: true }).where('id', '=', fx.action.id).execute();
    await h.cache.refresh();
    const writer = { firstName: 'Lucia', lastName: 'Writer', country: 'ES', consentNamed: true, letterSubject: 'From Madrid', letterBody: 'Independent forensics now.' };
    const preview = (await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/letter-preview`, payload: writer })).json();
    await signAndConfirm(fx.action.slug, signBody({ ...writer, email: uniqueEmail('w') }));
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('h1'), firstName: 'HomeNamed', country: 'MX', consentNamed: true }));
    await signAndConfirm(
      fx.action.slug,
      signBody({ email: uniqueEmail('h2'), firstName: 'HomeExplicit', lastName: 'Brave', country: 'MX', consentNamed: true, consentNamedToOwnCountry: true }),
    );
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('h3'), firstName: 'HomeWriter', country: 'MX', letterBody: 'Quiet words from home.' }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    await deliverLetter(letterDeps(), built!.letterIds[0]!);
    const [mail] = mailbox.messages();
    expect(mail!.text).toContain(preview.previews[0].text.trim());
    expect(mail!.text).toContain('HomeExplicit Brave');
    expect(mail!.text).not.toContain('HomeNamed');
    expect(mail!.text).toContain('Quiet words from home.');
    expect(mail!.text).not.toContain('HomeWriter');
    expect(mail!.html).toContain('Independent forensics now.');
  });

  it('greets the official once in a personal letter whose writer typed a greeting of their own, in the preview and in the letter sent', async () => {
    const fx = await createAction(h.db, { kind: 'LETTER', targets: [{ country: 'MX', language: 'en' }] });
    await h.db.k.updateTable('actions').set({ allow_personalisation: true }).where('id', '=', fx.action.id).execute();
    await h.db.k.updateTable('targets').set({ salutation: 'Dear Attorney General' }).where('id', '=', fx.targets[0]!.id).execute();
    await h.cache.refresh();
    const writer = { firstName: 'Lucia', lastName: 'López', country: 'ES', consentNamed: true, letterSubject: 'From Madrid', letterBody: 'Dear Attorney General,\n\nIndependent forensics now.' };
    const preview = (await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/letter-preview`, payload: writer })).json();
    const previewed: string = preview.previews[0].text;
    expect(previewed.match(/Dear Attorney General/g)).toHaveLength(1);
    expect(previewed).toContain('Dear Attorney General,\n\nIndependent forensics now.');
    await signAndConfirm(fx.action.slug, signBody({ ...writer, email: uniqueEmail('greet') }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    await deliverLetter(letterDeps(), built!.letterIds[0]!);
    const [mail] = mailbox.messages();
    expect(mail!.text).toContain(previewed.trim());
    // the letter's own greeting, and the member letter's: one each
    expect(mail!.text.match(/Dear Attorney General/g)).toHaveLength(2);
    expect((mail!.html || '').match(/Dear Attorney General/g)).toHaveLength(2);
  });

  it('reads the signers once per batch, yet never names a signer erased after a letter of the batch went', async () => {
    const fx = await createAction(h.db, {
      targets: [
        { country: 'UZ', language: 'en' },
        { country: 'KZ', language: 'en' },
      ],
    });
    await h.cache.refresh();
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('c1'), firstName: 'Keeps', lastName: 'Name', country: 'FR', consentNamed: true }));
    const leaving = uniqueEmail('c2');
    await signAndConfirm(fx.action.slug, signBody({ email: leaving, firstName: 'Leaves', lastName: 'Soon', country: 'FR', consentNamed: true }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const reads: string[] = [];
    const cache = createBatchSignerCache();
    const counting: BatchSignerCache = { get: (key, stamp, read) => cache.get(key, stamp, () => (reads.push(key), read())) };
    const deps = { ...letterDeps(), signerCache: counting };
    const [first, second] = built!.letterIds;
    expect(await deliverLetter(deps, first!)).toBe('sent');
    expect(mailbox.messages()[0]!.text).toContain('Leaves Soon');
    const { rows } = await h.db.pool.query<{ id: string }>(`SELECT id FROM supporters WHERE email_index = $1`, [indexOfEmail(leaving)]);
    expect(await eraseSupporter(h.db.pool, rows[0]!.id, new Date())).toBe(true);
    expect(await deliverLetter(deps, second!)).toBe('sent');
    const after = mailbox.messages()[1]!;
    expect(after.text).toContain('Keeps Name');
    expect(after.text).not.toContain('Leaves');
    expect(reads).toHaveLength(2); // the erasure changed the batch's signers, so they were read again

    // unchanged signers are read once for every letter of the batch, and a member's letter
    // still signs off as each target may see it (not named to the signer's own government)
    const fx2 = await createAction(h.db, { kind: 'LETTER', targets: ['UZ', 'FR', 'KZ'].map((country) => ({ country, language: 'en' })) });
    await h.db.k.updateTable('actions').set({ allow_personalisation: true }).where('id', '=', fx2.action.id).execute();
    await h.cache.refresh();
    await signAndConfirm(
      fx2.action.slug,
      signBody({ email: uniqueEmail('c3'), firstName: 'Stays', lastName: 'Here', country: 'FR', consentNamed: true, letterBody: 'My own words.' }),
    );
    const built2 = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx2.action.id, 'test');
    reads.length = 0;
    mailbox.clear();
    for (const id of built2!.letterIds) expect(await deliverLetter(deps, id)).toBe('sent');
    expect(reads).toHaveLength(1);
    const texts = mailbox.messages().map((m) => m.text);
    expect(texts).toHaveLength(3);
    for (const t of texts) expect(t).toContain('My own words.');
    expect(texts.filter((t) => t.includes('Stays Here'))).toHaveLength(2);
  });

  it('follows the policy: EVERY_N waits for N, IMMEDIATE does not, drafts never deliver', async () => {
    const everyN = await createAction(h.db, { deliveryPolicy: 'EVERY_N', deliveryEveryN: 3 });
    const immediate = await createAction(h.db, { deliveryPolicy: 'IMMEDIATE' });
    await h.cache.refresh();
    await signAndConfirm(everyN.action.slug, signBody({ email: uniqueEmail('e1') }));
    await signAndConfirm(everyN.action.slug, signBody({ email: uniqueEmail('e2') }));
    await signAndConfirm(immediate.action.slug, signBody({ email: uniqueEmail('i1') }));
    const deps = { pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN };
    let built = await buildDueBatches(deps);
    expect(built.map((b) => b.actionId)).toContain(immediate.action.id);
    expect(built.map((b) => b.actionId)).not.toContain(everyN.action.id);
    await signAndConfirm(everyN.action.slug, signBody({ email: uniqueEmail('e3') }));
    built = await buildDueBatches(deps);
    expect(built.find((b) => b.actionId === everyN.action.id)?.signatureCount).toBe(3);
  });

  it('makes a daily digest at an office opening, with every signature up to then, and the next a day later at the opening again', async () => {
    // the harness's officials keep office hours 09:00-17:00 UTC, Monday to Friday
    const digest = await createAction(h.db, { deliveryPolicy: 'DAILY_DIGEST' });
    await h.cache.refresh();
    await signAndConfirm(digest.action.slug, signBody({ email: uniqueEmail('d1') }));
    let now = new Date('2027-03-06T11:00:00Z'); // a Saturday
    const deps = { pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN, clock: () => now };
    const mine = async () => (await buildDueBatches(deps)).filter((b) => b.actionId === digest.action.id);
    expect(await mine()).toEqual([]);
    now = new Date('2027-03-08T08:59:00Z'); // Monday, before the opening
    expect(await mine()).toEqual([]);
    // a signature confirmed before the opening is in the day's digest
    await signAndConfirm(digest.action.slug, signBody({ email: uniqueEmail('d2') }));
    now = new Date('2027-03-08T09:00:30Z');
    const [monday] = await mine();
    expect(monday?.signatureCount).toBe(2);
    await h.db.pool.query(`UPDATE delivery_batches SET created_at = $2 WHERE id = $1`, [monday!.batchId, now]);
    // Tuesday: the day's gap has run out at 08:00, but no office is open before 09:00
    await signAndConfirm(digest.action.slug, signBody({ email: uniqueEmail('d3') }));
    now = new Date('2027-03-09T08:30:00Z');
    expect(await mine()).toEqual([]);
    now = new Date('2027-03-09T09:00:30Z');
    expect((await mine()).map((b) => b.signatureCount)).toEqual([1]);
  });

  it('records a permanent SMTP refusal as FAILED and a transient one as PENDING for a retry', async () => {
    const fx = await createAction(h.db, { targets: [{ country: 'KZ', language: 'en' }] });
    await h.cache.refresh();
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('f') }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const id = built!.letterIds[0]!;
    const refusing = { sendMail: async () => Promise.reject(Object.assign(new Error('550 no such mailbox'), { responseCode: 550, response: '550 5.1.1 no such mailbox' })) } as unknown as Mailer;
    const busy = { sendMail: async () => Promise.reject(Object.assign(new Error('451 try later'), { responseCode: 451, response: '451 4.3.0 try later' })) } as unknown as Mailer;

    enqueued.length = 0;
    expect(await deliverLetter({ ...letterDeps(), mailer: busy }, id)).toBe('retry-scheduled');
    let row = (await h.db.pool.query(`SELECT status, attempts, last_error, next_attempt_at FROM letters WHERE id = $1`, [id])).rows[0];
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1, last_error: expect.stringContaining('451') });
    // the next try is scheduled in the database, and a delayed job reminds a worker to look
    expect(row.next_attempt_at.getTime()).toBeGreaterThan(Date.now() + 1_000);
    expect(enqueued).toEqual([{ id, attempts: 1, delayMs: 2_000 }]);
    // not before its time
    expect(await deliverLetter(letterDeps(), id)).toBe('not-owed');

    const later = () => new Date(Date.now() + 5_000);
    await expect(deliverLetter({ ...letterDeps(), mailer: refusing, clock: later }, id)).rejects.toThrow(/refused/);
    row = (await h.db.pool.query(`SELECT status, attempts, last_error FROM letters WHERE id = $1`, [id])).rows[0];
    expect(row).toMatchObject({ status: 'FAILED', attempts: 2, last_error: expect.stringContaining('550') });
    expect(await deliverLetter(letterDeps(), id)).toBe('not-owed');
  });

  it('lets the sweeper enqueue again a letter whose job was marked done without sending it', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('swallowed') }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const id = built!.letterIds[0]!;
    await h.db.pool.query(`UPDATE letters SET next_attempt_at = now() - interval '1 minute' WHERE id = $1`, [id]);
    // the job is taken and finished by something that did not send it (another installation on
    // the same Redis database finds no such letter in its own database, and is done)
    await h.queues.enqueueLetters([{ id, attempts: 0 }]);
    const connection = redisConnection(process.env.REDIS_URL!, { forWorker: true });
    const other = new Worker(QUEUE_NAMES.delivery, null, { connection, autorun: false });
    try {
      for (let i = 0; i < 10_000; i++) {
        const job = await other.getNextJob('other-installation');
        if (!job) break;
        if (job.id === letterJobId(id, 0)) {
          await job.moveToCompleted('no such letter here', 'other-installation', false);
          break;
        }
        // someone else's job: back where it was
        await job.moveToDelayed(Date.now() + 1, 'other-installation');
      }
    } finally {
      await other.close();
      connection.disconnect();
    }
    expect(await (await h.queues.delivery.getJob(letterJobId(id, 0)))!.getState()).toBe('completed');

    await sweep({ pool: h.db.pool, queues: h.queues, clock: () => new Date(), graceMs: 30_000, staleSubmittingMs: 5 * 60_000 });
    const again = await h.queues.delivery.getJob(letterJobId(id, 0));
    expect(again).toBeTruthy();
    expect(['waiting', 'delayed', 'prioritized']).toContain(await again!.getState());
    await again!.remove();
  });

  it('forgets only finished jobs (completed or failed for good), never one waiting, delayed or being worked on', async () => {
    const run = `forget-${Date.now()}`;
    const q = h.queues.delivery;
    await q.add('letter', { letterId: `${run}-done` }, { jobId: `${run}-done` });
    await q.add('letter', { letterId: `${run}-failed` }, { jobId: `${run}-failed`, removeOnFail: false });
    await q.add('letter', { letterId: `${run}-active` }, { jobId: `${run}-active` });
    const connection = redisConnection(process.env.REDIS_URL!, { forWorker: true });
    const worker = new Worker(QUEUE_NAMES.delivery, null, { connection, autorun: false });
    try {
      // take the test's jobs (and put back anyone else's) until done, failed and active are set
      const left = new Set([`${run}-done`, `${run}-failed`, `${run}-active`]);
      for (let i = 0; i < 10_000 && left.size > 0; i++) {
        const job = await worker.getNextJob('forget-test');
        if (!job) break;
        if (job.id === `${run}-done`) await job.moveToCompleted('ok', 'forget-test', false);
        else if (job.id === `${run}-failed`) await job.moveToFailed(new Error('for good'), 'forget-test', false);
        else if (job.id === `${run}-active`) {
          left.delete(job.id);
          continue;
        } else {
          await job.moveToDelayed(Date.now() + 1, 'forget-test');
          continue;
        }
        left.delete(job.id!);
      }
      expect(left.size).toBe(0);
      await q.add('letter', { letterId: `${run}-waiting` }, { jobId: `${run}-waiting` });
      await q.add('letter', { letterId: `${run}-delayed` }, { jobId: `${run}-delayed`, delay: 60_000 });
      const ids = ['waiting', 'delayed', 'done', 'failed', 'active', 'missing'].map((k) => `${run}-${k}`);
      expect(await h.queues.forgetFinished('delivery', ids)).toBe(2);
      const states = await Promise.all(ids.map(async (id) => (await q.getJob(id))?.getState() ?? 'gone'));
      expect(states).toEqual(['waiting', 'delayed', 'gone', 'gone', 'active', 'gone']);
    } finally {
      await worker.close(true);
      connection.disconnect();
      for (const k of ['waiting', 'delayed', 'active']) await q.remove(`${run}-${k}`).catch(() => 0);
    }
  });

  it('lets the sweeper find letters whose jobs were lost, and re-claim one stuck in SUBMITTING', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    await signAndConfirm(fx.action.slug, signBody({ email: uniqueEmail('s') }));
    const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const id = built!.letterIds[0]!;
    // a worker claimed it and died before SMTP answered
    await h.db.pool.query(`UPDATE letters SET status = 'SUBMITTING', submitting_at = now() - interval '10 minutes', attempts = 1 WHERE id = $1`, [id]);
    const found: { id: string; attempts: number }[] = [];
    await sweep({
      pool: h.db.pool,
      queues: { enqueueConfirmations: async () => {}, enqueueLetters: async (l) => void found.push(...l), forgetFinished: async () => 0 },
      clock: () => new Date(),
      graceMs: 30_000,
      staleSubmittingMs: 5 * 60_000,
    });
    expect(found).toContainEqual({ id, attempts: 1 });
    expect(await deliverLetter(letterDeps(), id)).toBe('sent');
    const { rows } = await h.db.pool.query(`SELECT status, attempts FROM letters WHERE id = $1`, [id]);
    expect(rows[0]).toEqual({ status: 'SENT', attempts: 2 });
  });
});
