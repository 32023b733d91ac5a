// Abuse controls for every path that creates a signature (the public form, /api/v1 and the
// OSDI record helpers) and for the other public forms: fixed-window counters in Redis, shared
// by every server process, keyed by an HMAC of what is counted (a client address, an API key)
// so Redis never holds an address or an IP in clear. The signing service (signature.service.ts
// sign) is the one caller of the signing limits, whatever the path.
//
// Offenders of the per-address limit are handled silently: they get the same 202 (or 303) as
// anyone, and their signature is stored INVALIDATED with the reason, so it is never counted,
// emailed or delivered, and staff can see it. Telling them would only teach them the limit. A
// flood from one client address is a source, not a person: whoever's email it used, their own
// sign-up (from their own address) replaces the flagged one.
// If Redis cannot answer, the limits fail open: an outage of Redis must not stop signing.
//
// The per-email limit (SIGN_LIMIT_PER_EMAIL) is not here: it caps the confirmation emails an
// address receives, where they are sent (signature/confirmation.service.ts), and never drops a
// sign-up. Counting sign-ups per email here, and invalidating those past it, let anyone who used
// up a person's budget swallow her own sign-up (a 202 and never an email).
import { createHmac } from 'node:crypto';
import { hmacKey } from '../shared/hmac-key.ts';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import type pg from 'pg';
import { qb, SignatureStatus } from '../db/db.ts';

export interface AbuseLimits {
  /** signatures per client address per window (all actions) */
  signPerIp: number;
  /** other public POSTs (confirm, unsubscribe, my data, previews, answers) per client address per window, then 429 */
  postPerIp: number;
  /** signatures one integrator API key may record per window (all actions), then 429: nothing is stored */
  signPerApiKey: number;
  windowMs: number;
}

export const DEFAULT_WINDOW_MS = 10 * 60_000;

/** KEYS: counters; ARGV: each key's increment, then the expiry in ms. Answers the new totals. */
const HIT_SCRIPT = `
local ttl = ARGV[#KEYS + 1]
local totals = {}
for i, k in ipairs(KEYS) do
  totals[i] = redis.call('INCRBY', k, ARGV[i])
  redis.call('PEXPIRE', k, ttl)
end
return totals`;

export type SignVerdict = null | 'rate_limit_ip';

export interface AbuseGuard {
  /** null when the signature may count; otherwise the reason it is stored invalidated */
  checkSignature(who: { ip: string }): Promise<SignVerdict>;
  /** false when this address has used up its other public POSTs for the window; `retryAfter` in seconds */
  allowPost(ip: string): Promise<{ ok: boolean; retryAfter: number }>;
  /**
   * false when this API key has recorded its signatures for the window. Told to the integrator
   * (429), unlike the address and email limits: it says nothing about any signer, and a
   * refused signature the integrator can send again is better than one silently not counted.
   */
  allowKeySignature(keyId: string): Promise<{ ok: boolean; retryAfter: number; limit: number }>;
}

export function createAbuseGuard(deps: {
  redis: Redis;
  secret: string;
  limits: AbuseLimits;
  clock: () => Date;
  log?: { warn(obj: object, msg: string): void };
}): AbuseGuard {
  const { redis, limits } = deps;
  const key = (scope: string, subject: string, window: number) =>
    `chorus:rl:${scope}:${createHmac('sha256', hmacKey(deps.secret)).update(`rl\n${scope}\n${subject}`).digest('base64url').slice(0, 22)}:${window}`;

  /**
   * Hits made in the same turn of the event loop share one Redis round trip: a script that
   * adds each key's hits at once (INCRBY, then its expiry) and answers the new totals. Each
   * caller gets the count its own hit made, so a burst of one address in one turn is counted
   * exactly as the same hits one by one would be. During a spike this is one command per turn
   * instead of four per signature.
   */
  let pending: Map<string, { window: number; waiters: ((r: { count: number; window: number } | null) => void)[] }> | null = null;

  async function flush(): Promise<void> {
    const batch = pending!;
    pending = null;
    const keys = [...batch.keys()];
    const increments = keys.map((k) => batch.get(k)!.waiters.length);
    let timer: NodeJS.Timeout | undefined;
    let totals: number[] | null = null;
    try {
      const res = await Promise.race([
        redis.eval(HIT_SCRIPT, keys.length, ...keys, ...increments, limits.windowMs * 2) as Promise<number[]>,
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 500))),
      ]);
      totals = Array.isArray(res) && res.length === keys.length ? res : null;
    } catch (err) {
      deps.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'rate limit not checked: Redis unavailable');
    } finally {
      clearTimeout(timer);
    }
    keys.forEach((k, i) => {
      const { window, waiters } = batch.get(k)!;
      const total = totals?.[i];
      waiters.forEach((answer, j) => answer(typeof total === 'number' ? { count: total - waiters.length + j + 1, window } : null));
    });
  }

  /** Counts one hit; answers the count in this window, or null if Redis did not answer in time. */
  function hit(scope: string, subject: string): Promise<{ count: number; window: number } | null> {
    const window = Math.floor(deps.clock().getTime() / limits.windowMs);
    const k = key(scope, subject, window);
    return new Promise((resolve) => {
      if (!pending) {
        pending = new Map();
        setImmediate(() => void flush());
      }
      const entry = pending.get(k) ?? { window, waiters: [] };
      entry.waiters.push(resolve);
      pending.set(k, entry);
    });
  }

  /** seconds until the window after `window` begins */
  const secondsLeft = (window: number) => Math.max(1, Math.ceil(((window + 1) * limits.windowMs - deps.clock().getTime()) / 1000));

  return {
    async checkSignature(who) {
      const byIp = await hit('sign-ip', who.ip);
      return byIp && byIp.count > limits.signPerIp ? 'rate_limit_ip' : null;
    },
    async allowPost(ip) {
      const h = await hit('post-ip', ip);
      if (!h || h.count <= limits.postPerIp) return { ok: true, retryAfter: 0 };
      return { ok: false, retryAfter: secondsLeft(h.window) };
    },
    async allowKeySignature(keyId) {
      const h = await hit('sign-key', keyId);
      if (!h || h.count <= limits.signPerApiKey) return { ok: true, retryAfter: 0, limit: limits.signPerApiKey };
      return { ok: false, retryAfter: secondsLeft(h.window), limit: limits.signPerApiKey };
    },
  };
}

// ------------------------------------------------------------------ trending sources

export interface TrendAlert {
  kind: 'source' | 'network';
  action: { slug: string };
  /** the `source` tag of the signatures, `null` for direct signatures; for `network`, a short prefix of the keyed IP hash */
  subject: string | null;
  lastHour: number;
  /** signatures per hour over the 24 hours before the last one */
  baselinePerHour: number;
  /** of lastHour, how many were stored invalidated (rate limits, honeypot) */
  flagged: number;
}

export interface TrendOptions {
  /** an alert needs at least this many signatures in the last hour */
  minLastHour: number;
  /** ... and this many times its hourly baseline */
  factor: number;
}

/**
 * Sources (and client networks, by keyed IP hash) whose signing rate jumped: the last hour
 * against the hourly average of the 24 hours before it. For staff to look at; nothing is
 * blocked by it.
 */
export async function trendingSources(pool: pg.Pool, now: Date, opts: TrendOptions = { minLastHour: 50, factor: 5 }): Promise<TrendAlert[]> {
  const hourAgo = new Date(now.getTime() - 3_600_000);
  const dayAgo = new Date(now.getTime() - 25 * 3_600_000);
  const run = async (kind: 'source' | 'network') => {
    const rows = await qb(pool)
      .selectFrom('signatures as s')
      .innerJoin('actions as a', 'a.id', 's.action_id')
      .select((eb) => {
        // the source tag, or for a network a short prefix of the keyed IP hash
        const subject = kind === 'source' ? eb.ref('s.source') : eb.fn<string | null>('left', ['s.ip_hash', sql.lit(8)]);
        return [
          'a.slug',
          subject.as('subject'),
          eb.cast<number>(eb.fn.countAll().filterWhere('s.created_at', '>=', hourAgo), 'integer').as('last_hour'),
          eb.cast<number>(eb.fn.countAll().filterWhere('s.created_at', '<', hourAgo), 'integer').as('before'),
          eb
            .cast<number>(
              eb.fn.countAll().filterWhere((f) => f.and([f('s.created_at', '>=', hourAgo), f('s.status', '=', SignatureStatus.INVALIDATED)])),
              'integer',
            )
            .as('flagged'),
        ];
      })
      .where('s.created_at', '>=', dayAgo)
      .where('s.created_at', '<=', now)
      .$if(kind === 'network', (q) => q.where('s.ip_hash', 'is not', null))
      .groupBy((eb) => ['a.slug', kind === 'source' ? eb.ref('s.source') : eb.fn('left', ['s.ip_hash', sql.lit(8)])])
      .having((eb) => {
        const lastHour = eb.fn.countAll().filterWhere('s.created_at', '>=', hourAgo);
        const before = eb.fn.countAll().filterWhere('s.created_at', '<', hourAgo);
        return eb.and([
          eb(lastHour, '>=', opts.minLastHour),
          // 24.0: numeric division (30 in the 24 hours before is 1.25 an hour, not 1)
          eb(lastHour, '>=', sql<number>`${opts.factor} * greatest(${before} / 24.0, 1)`),
        ]);
      })
      .orderBy('last_hour', 'desc')
      .limit(50)
      .execute();
    return rows.map((r) => ({
      kind,
      action: { slug: r.slug },
      subject: r.subject,
      lastHour: r.last_hour,
      baselinePerHour: Math.round((r.before / 24) * 10) / 10,
      flagged: r.flagged,
    }));
  };
  const [sources, networks] = await Promise.all([run('source'), run('network')]);
  return [...sources, ...networks].sort((a, b) => b.lastHour - a.lastHour);
}
