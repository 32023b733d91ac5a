// BullMQ needs Redis to keep every key until it is deleted: with an eviction policy other
// than `noeviction`, Redis under memory pressure silently drops jobs and locks. Chorus loses
// no data then (the database is the truth and the sweeper re-enqueues), but work stalls in odd
// ways. So every process checks at start and warns, or refuses to start with
// REDIS_EVICTION_CHECK=refuse. Managed Redis services that forbid CONFIG are let through
// with a warning.
import type { Redis } from 'ioredis';

export type RedisCheck =
  | { ok: true; policy: string; aof: boolean | null }
  | { ok: false; reason: 'eviction'; policy: string }
  | { ok: null; reason: 'unknown' };

export async function checkRedisConfig(redis: Pick<Redis, 'config'> & Partial<Pick<Redis, 'status' | 'once'>>, timeoutMs = 2_000): Promise<RedisCheck> {
  let timer: NodeJS.Timeout | undefined;
  try {
    // a connection without an offline queue refuses commands until it is ready
    if (redis.status !== undefined && redis.status !== 'ready' && redis.once) {
      const once = redis.once.bind(redis);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        once('ready', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const ask = async (name: string) => {
      const r = (await redis.config('GET', name)) as unknown;
      return Array.isArray(r) && typeof r[1] === 'string' ? r[1] : null;
    };
    const [policy, aof] = await Promise.race([
      Promise.all([ask('maxmemory-policy'), ask('appendonly')]),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs))),
    ]);
    if (policy === null) return { ok: null, reason: 'unknown' };
    if (policy !== 'noeviction') return { ok: false, reason: 'eviction', policy };
    return { ok: true, policy, aof: aof === null ? null : aof === 'yes' };
  } catch {
    return { ok: null, reason: 'unknown' };
  } finally {
    clearTimeout(timer);
  }
}

/** Logs what the check found; throws (so the process exits) when it must refuse. */
export async function enforceRedisConfig(
  redis: Pick<Redis, 'config'>,
  opts: { mode: 'warn' | 'refuse'; log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void } },
): Promise<RedisCheck> {
  const check = await checkRedisConfig(redis);
  if (check.ok === false) {
    const msg = `Redis maxmemory-policy is ${check.policy}; BullMQ needs noeviction (redis-cli config set maxmemory-policy noeviction)`;
    if (opts.mode === 'refuse') throw new Error(`${msg}; refusing to start (REDIS_EVICTION_CHECK=refuse)`);
    opts.log.warn({ policy: check.policy }, msg);
  } else if (check.ok === null) {
    opts.log.warn({}, 'could not read the Redis configuration (CONFIG GET): make sure maxmemory-policy is noeviction');
  } else if (check.aof === false) {
    opts.log.info({}, 'Redis does not persist to an append-only file; in production turn on AOF (appendonly yes)');
  }
  return check;
}
