// Rate limits of the public forms (server/src/abuse): counters in Redis, keyed by HMACs of the
// client address or API key. Signing has its own, silent limits (the same guard, used by the
// signing routes); every other public POST, and every receipt lookup, gets a plain 429 past the
// per-address limit. Staff sign-in has its own throttle (staff/), the console's writes need a
// session, and the integrator APIs need an API key.
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.ts';
import { createAbuseGuard, DEFAULT_WINDOW_MS, type AbuseGuard } from '../abuse/abuse.service.ts';
import { tooMany } from '../shared/errors.ts';

export type RateLimitConfig = Partial<Pick<Config, 'SIGN_LIMIT_PER_IP' | 'PUBLIC_POST_LIMIT_PER_IP' | 'SIGN_LIMIT_PER_API_KEY'>>;

/** The guard every route that creates a signature, and the public POST limit below, use. */
export function createRateLimits(deps: { redis: Redis; secret: string; clock: () => Date; config: RateLimitConfig }): AbuseGuard {
  return createAbuseGuard({
    redis: deps.redis,
    secret: deps.secret,
    clock: deps.clock,
    limits: {
      signPerIp: deps.config.SIGN_LIMIT_PER_IP ?? 100,
      postPerIp: deps.config.PUBLIC_POST_LIMIT_PER_IP ?? 300,
      signPerApiKey: deps.config.SIGN_LIMIT_PER_API_KEY ?? 1000,
      windowMs: DEFAULT_WINDOW_MS,
    },
  });
}

/** A request's path with its percent-escapes decoded (undecodable: as it came), without the query. */
export function decodedPath(url: string): string {
  const path = url.replace(/[?#].*$/, '');
  // most paths have nothing to decode: every API request passes here
  if (!path.includes('%')) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * The onRequest hook of /api: 429 `rate_limited` for a public POST past the per-address limit.
 * A receipt lookup (GET /api/receipts/:code) counts as one too: each reads the database, and may
 * build a delivery's tree.
 */
export function publicPostLimit(abuse: AbuseGuard) {
  return async (req: FastifyRequest) => {
    // the path as the router reads it: `/api/%72eceipts/...` is a receipt lookup too
    const url = decodedPath(req.url);
    const limited = req.method === 'POST' ? !/^\/api\/(staff|admin|v1|osdi)\//.test(url) && !/^\/api\/actions\/[^/]+\/signatures$/.test(url) : /^\/api\/receipts\//.test(url);
    if (!limited) return;
    const verdict = await abuse.allowPost(req.clientIp);
    if (!verdict.ok) throw tooMany('rate_limited', 'Too many requests from your network; please try again later', verdict.retryAfter);
  };
}
