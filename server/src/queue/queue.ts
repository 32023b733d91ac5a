// Queues carry ids only: names and email addresses never reach Redis. Every job is also
// recoverable from the database (see workers/sweeper.ts), so a lost job or a flushed Redis
// delays work but loses none.
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';

export const QUEUE_NAMES = { mail: 'chorus-mail', delivery: 'chorus-delivery' } as const;

export type MailJob = { kind: 'confirmation'; signatureId: string } | { kind: 'answer'; notificationId: string } | { kind: 'notice'; noticeId: string };
export type DeliveryJob = { letterId: string };

export function redisConnection(url: string, opts: { forWorker: boolean }): Redis {
  return new Redis(url, {
    // BullMQ workers must wait for Redis rather than fail commands while it restarts
    maxRetriesPerRequest: opts.forWorker ? null : 1,
    enableOfflineQueue: opts.forWorker,
    connectTimeout: 5_000,
    lazyConnect: false,
  });
}

const jobDefaults: JobsOptions = {
  removeOnComplete: { count: 1000 },
  // failed jobs leave the queue so the sweeper may enqueue the same id again later
  removeOnFail: true,
};

export interface Queues {
  mail: Queue<MailJob>;
  delivery: Queue<DeliveryJob>;
  enqueueConfirmations(items: { signatureId: string; requestedAt: Date }[]): Promise<void>;
  /** jobs are keyed by letter and attempt, so a letter owed again after a crash gets a new job */
  enqueueLetters(letters: { id: string; attempts: number; delayMs?: number }[]): Promise<void>;
  /** "an official answered" emails owed (answer_notifications ids), one job per row */
  enqueueAnswerNotifications(ids: string[]): Promise<void>;
  /** emails to signers about what came of their action (member_notices ids), one job per row */
  enqueueNotices(ids: string[]): Promise<void>;
  /**
   * Removes the finished (completed or failed) jobs among these ids, so that work the database
   * still says is owed can be enqueued again under the same id: a job marked done without its
   * work done (taken by another installation on the same Redis database, say) would otherwise
   * hold the id, and every later enqueue would be dropped as its duplicate.
   */
  forgetFinished(queue: 'mail' | 'delivery', jobIds: string[]): Promise<number>;
  close(): Promise<void>;
}

export const confirmationJobId = (signatureId: string, requestedAt: Date) => `confirmation-${signatureId}-${requestedAt.getTime()}`;
export const letterJobId = (letterId: string, attempts: number) => `letter-${letterId}-${attempts}`;

/**
 * `send` for everything asked of it in one turn of the event loop, in one call: the signatures of
 * a writer's batch are answered together (signature.repository.ts), and each asks for its
 * confirmation email, so a spike makes one addBulk (one MULTI to Redis) per batch rather than
 * one per signature. Each caller's promise settles with that call.
 */
export function gathered<T>(send: (items: T[]) => Promise<void>): (items: T[]) => Promise<void> {
  let next: { items: T[]; waiters: { resolve: () => void; reject: (err: unknown) => void }[] } | null = null;
  const flush = () => {
    const batch = next!;
    next = null;
    send(batch.items).then(
      () => batch.waiters.forEach((w) => w.resolve()),
      (err: unknown) => batch.waiters.forEach((w) => w.reject(err)),
    );
  };
  return (items) => {
    if (items.length === 0) return Promise.resolve();
    if (!next) {
      next = { items: [], waiters: [] };
      setImmediate(flush);
    }
    const batch = next;
    batch.items.push(...items);
    return new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
  };
}

export function createQueues(connection: ConnectionOptions): Queues {
  const mail = new Queue<MailJob>(QUEUE_NAMES.mail, { connection, defaultJobOptions: jobDefaults });
  const delivery = new Queue<DeliveryJob>(QUEUE_NAMES.delivery, {
    connection,
    // one attempt per job: a letter's retries are scheduled in the database (letter.service.ts)
    defaultJobOptions: { ...jobDefaults, attempts: 1 },
  });
  return {
    mail,
    delivery,
    enqueueConfirmations: gathered(async (items: { signatureId: string; requestedAt: Date }[]) => {
      await mail.addBulk(
        items.map((i) => ({
          name: 'confirmation',
          data: { kind: 'confirmation', signatureId: i.signatureId },
          // one job per request for a confirmation email: a repeat sign asks for a fresh one
          opts: { jobId: confirmationJobId(i.signatureId, i.requestedAt), attempts: 8, backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 } },
        })),
      );
    }),
    async enqueueLetters(letters) {
      if (letters.length === 0) return;
      await delivery.addBulk(
        letters.map((l) => ({
          name: 'letter',
          data: { letterId: l.id },
          // a letter held for the official's office hours waits in the queue as a delayed job
          opts: { jobId: letterJobId(l.id, l.attempts), delay: l.delayMs ?? 0 },
        })),
      );
    },
    async enqueueAnswerNotifications(ids) {
      if (ids.length === 0) return;
      await mail.addBulk(
        ids.map((id) => ({
          name: 'answer',
          data: { kind: 'answer', notificationId: id },
          opts: { jobId: `answer-${id}`, attempts: 8, backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 } },
        })),
      );
    },
    async enqueueNotices(ids) {
      if (ids.length === 0) return;
      await mail.addBulk(
        ids.map((id) => ({
          name: 'notice',
          data: { kind: 'notice', noticeId: id },
          opts: { jobId: `notice-${id}`, attempts: 8, backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 } },
        })),
      );
    },
    async forgetFinished(queue, jobIds) {
      if (jobIds.length === 0) return 0;
      const q = queue === 'mail' ? mail : delivery;
      // A finished job (completed or failed for good) carries finishedOn in its hash; a waiting,
      // delayed or active one does not. One pipelined HGET per id, not BullMQ's getState: that
      // searches the waiting list (LPOS), so with a backlog of 100,000 emails each call took
      // about 0.25 ms of Redis, and a sweep of 5,000 owed emails every 10 s kept Redis busy
      // enough to slow every signature (measured by the overload benchmark).
      // (the queue's own connection is ioredis: `redis()` below makes it)
      const client = (await q.backend.client) as unknown as Redis;
      const pipeline = client.pipeline();
      for (const id of jobIds) pipeline.hget(q.toKey(id), 'finishedOn');
      const answers = (await pipeline.exec()) ?? [];
      const finished = jobIds.filter((_, i) => {
        const [err, value] = answers[i] ?? [null, null];
        return !err && value !== null && value !== undefined;
      });
      let removed = 0;
      await Promise.all(
        finished.map((id) =>
          // a job picked up again in between cannot be removed (it is locked): it does the work
          q.remove(id).then(
            (code) => {
              if (code === 1) removed++;
            },
            () => {},
          ),
        ),
      );
      return removed;
    },
    async close() {
      await Promise.allSettled([mail.close(), delivery.close()]);
    },
  };
}

/**
 * Gathers calls made within `maxWaitMs` into one call, so a spike of signatures makes one
 * Redis round trip per few milliseconds instead of one per signature. Each caller's promise
 * settles with the call that carried its items.
 */
export function batchCalls<T>(
  fn: (items: T[]) => Promise<void>,
  opts: { maxWaitMs: number; maxBatch: number } = { maxWaitMs: 5, maxBatch: 500 },
): (items: T[]) => Promise<void> {
  let pending: { items: T[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let count = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = pending;
    pending = [];
    count = 0;
    fn(batch.flatMap((b) => b.items)).then(
      () => batch.forEach((b) => b.resolve()),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  };
  return (items) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ items, resolve, reject });
      count += items.length;
      if (count >= opts.maxBatch) flush();
      else if (!timer) timer = setTimeout(flush, opts.maxWaitMs);
    });
}
