// Per-recipient-domain rate limit for letters: at most N letters per domain per minute,
// counted across every worker process in Redis with a fixed-window counter. The key names
// a hash of the domain, never the domain or an address, so Redis still holds ids only.
// A letter over the limit is not sent and not counted as a failed attempt: it stays
// PENDING with next_attempt_at at the start of the next window (plus jitter), and a delayed
// job reminds a worker to look. If Redis cannot answer, the limit fails open: the letter is
// sent and the failure logged, because a late letter is worse than a burst.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import { LetterStatus, qb } from '../db/db.ts';
import type { Queues } from '../queue/queue.ts';

export const WINDOW_MS = 60_000;
/** counters outlive their window by a minute, then Redis drops them */
const KEY_TTL_MS = 2 * WINDOW_MS;
/** longest a limit check may take before it is given up (fail open) */
const CHECK_TIMEOUT_MS = 1_000;

export type DomainDecision = { allowed: true } | { allowed: false; retryAt: Date };

export interface DomainLimiter {
  /** counts one letter to the address's domain in the current window and says whether it may go now */
  take(address: string): Promise<DomainDecision>;
}

export interface DomainLimiterOptions {
  redis: Pick<Redis, 'multi'>;
  perMinute: number;
  clock?: () => Date;
  /** random source for the jitter after the window opens (tests pass a fixed one) */
  random?: () => number;
  /** the most jitter added after the next window opens, so deferred letters do not all start at once */
  maxJitterMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

export function recipientDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return address
    .slice(at + 1)
    .trim()
    .replace(/\.$/, '')
    .toLowerCase();
}

export function domainKey(domain: string, window: number): string {
  const hash = createHash('sha256').update(domain.toLowerCase()).digest('hex').slice(0, 16);
  return `chorus:domain-limit:${hash}:${window}`;
}

export function createDomainLimiter(opts: DomainLimiterOptions): DomainLimiter {
  const clock = opts.clock ?? (() => new Date());
  const random = opts.random ?? Math.random;
  const maxJitterMs = opts.maxJitterMs ?? 5_000;
  return {
    async take(address) {
      const now = clock().getTime();
      const window = Math.floor(now / WINDOW_MS);
      const key = domainKey(recipientDomain(address), window);
      let count: number;
      try {
        let timer: NodeJS.Timeout | undefined;
        const result = await Promise.race([
          opts.redis.multi().incr(key).pexpire(key, KEY_TTL_MS).exec(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
          }),
        ]).finally(() => clearTimeout(timer));
        const [err, value] = result?.[0] ?? [new Error('empty reply'), null];
        if (err) throw err;
        count = Number(value);
      } catch (err) {
        opts.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'domain limit unavailable; sending anyway');
        return { allowed: true };
      }
      if (count <= opts.perMinute) return { allowed: true };
      return { allowed: false, retryAt: new Date((window + 1) * WINDOW_MS + Math.round(random() * maxJitterMs)) };
    },
  };
}

export interface DomainHoldDeps {
  pool: pg.Pool;
  clock: () => Date;
  queues: Pick<Queues, 'enqueueLetters'>;
  domainLimiter: DomainLimiter;
}

/**
 * Called once a letter is claimed (SUBMITTING, its attempt counted, as of `claimedAt`), before
 * it is rendered or sent. Returns true when the letter's domain is over its limit: the claim
 * was then given back, the letter PENDING for the next window with the attempt uncounted,
 * and a delayed job scheduled. Returns false when the letter may be sent now.
 */
export async function holdForDomainLimit(deps: DomainHoldDeps, letterId: string, email: string, claimedAt: Date): Promise<boolean> {
  const decision = await deps.domainLimiter.take(email);
  if (decision.allowed) return false;
  const held = await qb(deps.pool)
    .updateTable('letters')
    .set((eb) => ({ status: LetterStatus.PENDING, attempts: eb('attempts', '-', 1), next_attempt_at: decision.retryAt }))
    .where('id', '=', letterId)
    .where('status', '=', LetterStatus.SUBMITTING)
    .where('submitting_at', '=', claimedAt)
    .executeTakeFirst();
  if (held.numUpdatedRows !== 1n) return true; // another worker took it over meanwhile; nothing is owed from this job
  const delayMs = Math.max(0, decision.retryAt.getTime() - deps.clock().getTime());
  // the job id takes the window number in place of the attempt count, so this reminder never
  // collides with the job that is running now (same letter, same attempts)
  await deps.queues.enqueueLetters([{ id: letterId, attempts: Math.floor(decision.retryAt.getTime() / WINDOW_MS), delayMs }]).catch(() => {
    // the sweeper finds it by next_attempt_at
  });
  return true;
}
