// The mail queue's processor with a real BullMQ worker, Redis, database and SMTP server (the
// mailbox): past the address's email budget, a confirmation job waits (delayed, no attempt
// counted, nothing failed) for the next window and then sends, oldest sign-up first. And the
// sweeper leaves an address's waiting emails alone until its budget allows, then finds them.
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../server/src/delivery/sweeper.service.ts';
import type { Mailer } from '../server/src/mail/mailer.ts';
import type { Mailbox } from '../server/src/mailbox/mailbox.service.ts';
import { QUEUE_NAMES, confirmationJobId, redisConnection, type MailJob } from '../server/src/queue/queue.ts';
import { budgetWindowStart, sendConfirmation, type ConfirmationMailDeps } from '../server/src/signature/confirmation.service.ts';
import { confirmationMailDeps, createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../server/src/testing/harness.ts';
import { mailProcessor } from './mail.processor.ts';
import { indexOfEmail, openSignatureRow, SUPPORTER_SEALED } from '../server/src/testing/sealed.ts';

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

const confirmationDeps = (clock: () => Date, budget: { perWindow: number; windowMs: number }): ConfirmationMailDeps & { budget: typeof budget } => ({
  ...confirmationMailDeps(h, mailer, { clock }),
  budget,
});

async function signaturesOf(email: string) {
  const { rows } = await h.db.pool.query(
    `SELECT s.id, s.supporter_id, s.pending_name, e.requested_at, ${SUPPORTER_SEALED}
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id LEFT JOIN confirmation_emails e ON e.signature_id = s.id WHERE p.email_index = $1 ORDER BY e.requested_at`,
    [indexOfEmail(email)],
  );
  // the sign-up's name, opened from its sealed column
  return rows.map(openSignatureRow).map((r) => ({ id: r.id as string, requested_at: r.requested_at as Date, first_name: r.pending_first_name as string, sealed: r.pending_name as unknown }));
}

describe('a confirmation past the address’s budget, through a real worker', () => {
  it('waits as a delayed job for the next window, then goes; oldest first; no attempt counted, nothing failed', { timeout: 60_000 }, async () => {
    const budget = { perWindow: 2, windowMs: 4_000 };
    const actions = [];
    for (let i = 0; i < 3; i++) actions.push((await createAction(h.db)).action);
    await h.cache.refresh();
    // nothing of earlier tests left in the queue for this worker
    await h.queues.mail.drain(true);
    const victim = uniqueEmail('budget');
    // start right after a window begins, so the three sign-ups and the first two emails fall in it
    const now = Date.now();
    await new Promise((r) => setTimeout(r, budgetWindowStart(new Date(now), budget.windowMs).getTime() + budget.windowMs + 50 - now));
    const windowEnds = budgetWindowStart(new Date(), budget.windowMs).getTime() + budget.windowMs;
    for (const [i, a] of actions.entries()) {
      const res = await h.app.inject({ method: 'POST', url: `/api/actions/${a.slug}/signatures`, remoteAddress: `198.51.100.${80 + i}`, payload: signBody({ email: victim, firstName: `Signup${i}` }) });
      expect(res.statusCode).toBe(202);
    }
    const rows = await signaturesOf(victim);
    expect(rows.map((r) => r.first_name)).toEqual(['Signup0', 'Signup1', 'Signup2']);
    for (const r of rows) {
      expect(r.sealed).toBeInstanceOf(Buffer);
      expect((r.sealed as Buffer).includes(Buffer.from(r.first_name))).toBe(false);
    }

    const connection = redisConnection(process.env.REDIS_URL!, { forWorker: true });
    const failed: string[] = [];
    const worker = new Worker<MailJob>(QUEUE_NAMES.mail, mailProcessor({ answers: { ...confirmationDeps(() => new Date(), budget) }, confirmations: confirmationDeps(() => new Date(), budget), jitterMs: 200 }), {
      connection,
      concurrency: 3,
    });
    worker.on('failed', (job, err) => failed.push(`${job?.id}: ${err.message}`));
    try {
      const arrived = () => mailbox.messages().filter((m) => m.envelope.to.includes(victim));
      // the address's budget as the worker counted it: (window, emails let go in it)
      const counted = async () => {
        const { rows: r } = await h.db.pool.query<{ at: Date; sent: number }>(
          `SELECT confirmation_window_at AS at, confirmation_window_sent AS sent FROM supporters WHERE email_index = $1`,
          [indexOfEmail(victim)],
        );
        return [r[0]!.at.getTime(), r[0]!.sent];
      };
      await expect.poll(() => arrived().length, { timeout: 10_000 }).toBe(2);
      // two let go in one window; the third waits, delayed until the next
      const [first, two] = await counted();
      expect(two).toBe(2);
      const third = await h.queues.mail.getJob(confirmationJobId(rows[2]!.id, rows[2]!.requested_at));
      if (Date.now() < first! + budget.windowMs - 100) expect(await third!.getState()).toBe('delayed');
      await expect.poll(() => arrived().length, { timeout: 15_000 }).toBe(3);
      const mails = arrived();
      // oldest first: the two oldest in the first window (sent at once, by two of the worker's
      // three slots, so in either order), and the third only once the next window came, alone in it
      const names = mails.map((m) => /Name: (\S+)/.exec(m.text)![1]);
      expect(names.slice(0, 2).sort()).toEqual(['Signup0', 'Signup1']);
      expect(names[2]).toBe('Signup2');
      expect(first).toBeGreaterThanOrEqual(windowEnds - budget.windowMs);
      expect(await counted()).toEqual([first! + budget.windowMs, 1]);
      expect(Date.parse(mails[2]!.receivedAt)).toBeGreaterThanOrEqual(first! + budget.windowMs);
      const doneJob = () => h.queues.mail.getJob(confirmationJobId(rows[2]!.id, rows[2]!.requested_at));
      // the mailbox can hold the email a moment before the worker has recorded the job's end
      await expect.poll(async () => (await doneJob())!.getState(), { timeout: 5_000 }).toBe('completed');
      // waiting was not an attempt: only the one that sent counts
      await expect.poll(async () => (await doneJob())!.attemptsMade, { timeout: 5_000 }).toBe(1);
      expect(failed).toEqual([]);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });
});

describe('the sweeper and an address’s budget', () => {
  it('leaves the waiting emails of an address whose budget is used up, and finds them once the window allows', async () => {
    const budget = { perWindow: 1, windowMs: 10 * 60_000 };
    const actions = [(await createAction(h.db)).action, (await createAction(h.db)).action];
    await h.cache.refresh();
    const victim = uniqueEmail('swept');
    for (const a of actions) await h.app.inject({ method: 'POST', url: `/api/actions/${a.slug}/signatures`, remoteAddress: '198.51.100.90', payload: signBody({ email: victim }) });
    const [first, second] = await signaturesOf(victim);
    // past the sweeper's grace, in a window of our own
    const at = { value: new Date(budgetWindowStart(new Date(Date.now() + 60_000), budget.windowMs).getTime() + budget.windowMs + 60_000) };
    const deps = confirmationDeps(() => at.value, budget);
    expect(await sendConfirmation(deps, first!.id)).toBe('sent');
    expect(await sendConfirmation(deps, second!.id)).toBe('deferred');
    // jobs lost (a flushed Redis, say)
    for (const r of [first!, second!]) await (await h.queues.mail.getJob(confirmationJobId(r.id, r.requested_at)))?.remove();

    const sweepAt = async () => {
      await sweep({ pool: h.db.pool, queues: h.queues, clock: () => at.value, graceMs: 30_000, staleSubmittingMs: 300_000, confirmationBudget: budget });
      return Boolean(await h.queues.mail.getJob(confirmationJobId(second!.id, second!.requested_at)));
    };
    expect(await sweepAt()).toBe(false);
    at.value = new Date(at.value.getTime() + budget.windowMs);
    expect(await sweepAt()).toBe(true);
    await (await h.queues.mail.getJob(confirmationJobId(second!.id, second!.requested_at)))?.remove();
    expect(await sendConfirmation(deps, second!.id)).toBe('sent');
  });
});
