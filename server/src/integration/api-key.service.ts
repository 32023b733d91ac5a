// API keys for integrators. A key is `chorus_<12 hex>_<43 base64url>`: the first part (the
// prefix) names the key in lists and logs, the whole string is the secret. Only the SHA-256 of
// the secret is stored (32 random bytes need no slow hash). Keys are created and revoked by
// admins, in a transaction with the audit record; the secret is returned once.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { sql } from 'kysely';
import { z } from 'zod';
import { ApiScope, inTransaction, qb, type Queryable } from '../db/db.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { recordAudit } from '../staff/audit.ts';
import type { SigningClient } from '../signature/signature.service.ts';

export { ApiScope };
/** Every scope a key may hold, as the schema lists them. */
export const API_SCOPES = Object.values(ApiScope);

export const apiKeyInputSchema = z
  .object({
    name: z.string().trim().min(1, 'Name is required').max(100, 'Name must be at most 100 characters'),
    scopes: z.array(z.enum(ApiScope, { error: `Scopes are ${API_SCOPES.join(', ')}` })).min(1, 'Choose at least one scope').max(4),
    rateLimitPerMinute: z.coerce.number().int().min(1).max(100_000).default(600),
  })
  .strict()
  .meta({ examples: [{ name: 'CRM sync', scopes: ['read_public', 'read_signatures'], rateLimitPerMinute: 600 }] });

export const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe('the first part of the secret, to recognise the key'),
  scopes: z.array(z.enum(ApiScope)),
  rateLimitPerMinute: z.number().int(),
  createdAt: z.date(),
  createdBy: z.string().nullable().describe('email of the admin who made it'),
  lastUsedAt: z.date().nullable().describe('updated at most once a minute'),
  revokedAt: z.date().nullable(),
});
export type ApiKeyView = z.infer<typeof apiKeySchema>;

const TOKEN = /^(chorus_[0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Keys with the email of the admin who made each. `scopes` is read as text[]: pg has no parser
 * for arrays of an enum type and would answer the literal '{a,b}'.
 */
const keys = (db: Queryable) =>
  qb(db)
    .selectFrom('api_keys as k')
    .leftJoin('staff_users as u', 'u.id', 'k.created_by')
    .select((eb) => [
      'k.id',
      'k.name',
      'k.prefix',
      eb.cast<ApiScope[]>('k.scopes', sql`text[]`).as('scopes'),
      'k.rate_limit_per_minute as rateLimitPerMinute',
      'k.created_at as createdAt',
      'u.email as createdBy',
      'k.last_used_at as lastUsedAt',
      'k.revoked_at as revokedAt',
    ]);

export async function listApiKeys(pool: pg.Pool): Promise<ApiKeyView[]> {
  return keys(pool)
    .orderBy((eb) => eb('k.revoked_at', 'is not', null))
    .orderBy('k.created_at', 'desc')
    .execute();
}

export async function createApiKey(
  pool: pg.Pool,
  input: z.output<typeof apiKeyInputSchema>,
  staffId: string,
): Promise<{ key: ApiKeyView; secret: string }> {
  const prefix = `chorus_${randomBytes(6).toString('hex')}`;
  const secret = `${prefix}_${randomBytes(32).toString('base64url')}`;
  const scopes = [...new Set(input.scopes)];
  return inTransaction(pool, async (client) => {
    const { id } = await qb(client)
      .insertInto('api_keys')
      .values({ name: input.name, prefix, secret_hash: sha256(secret), scopes, rate_limit_per_minute: input.rateLimitPerMinute, created_by: staffId })
      .returning('id')
      .executeTakeFirstOrThrow();
    const after = { name: input.name, prefix, scopes, rateLimitPerMinute: input.rateLimitPerMinute };
    await recordAudit(client, { staffId, verb: 'created', entity: 'api_key', entityId: id, after });
    const key = await keys(client).where('k.id', '=', id).executeTakeFirstOrThrow();
    return { key, secret };
  });
}

export async function revokeApiKey(pool: pg.Pool, id: string, staffId: string, at: Date): Promise<ApiKeyView> {
  return inTransaction(pool, async (client) => {
    const before = await keys(client).where('k.id', '=', id).forUpdate('k').executeTakeFirst();
    if (!before) throw notFound('api_key_not_found', 'No such API key');
    if (!before.revokedAt) {
      await qb(client).updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).execute();
      await recordAudit(client, {
        staffId,
        verb: 'revoked',
        entity: 'api_key',
        entityId: id,
        before: { prefix: before.prefix, revokedAt: null },
        after: { prefix: before.prefix, revokedAt: at },
      });
    }
    return keys(client).where('k.id', '=', id).executeTakeFirstOrThrow();
  });
}

// --- authentication -------------------------------------------------------------------------

export interface ApiPrincipal {
  keyId: string;
  prefix: string;
  scopes: ApiScope[];
  rateLimitPerMinute: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the API key of an integrator request, set by requireApiKey() */
    apiKey: ApiPrincipal | null;
  }
}

export interface ApiKeyDeps {
  pool: pg.Pool;
  redis: Redis;
  clock: () => Date;
  /** SECRET_KEY: names the failure counters, so Redis never holds a client address in clear */
  secret?: string;
  /** wrong or unknown keys per client address per 10 minutes, then 429 (API_KEY_FAILURES_PER_IP; default 30) */
  failuresPerIp?: number;
}

const invalidKey = () =>
  new AppError(401, 'invalid_api_key', 'Send a valid API key: Authorization: Bearer chorus_...', {
    'www-authenticate': 'Bearer realm="chorus"',
  });

/** The key in `Authorization: Bearer` or (for OSDI clients) `OSDI-API-Token`. */
export function presentedKey(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  const osdi = req.headers['osdi-api-token'];
  if (typeof osdi === 'string' && osdi.length > 0) return osdi.trim();
  return null;
}

export async function authenticate(deps: ApiKeyDeps, token: string | null): Promise<ApiPrincipal> {
  const m = token && token.length <= 100 ? TOKEN.exec(token) : null;
  if (!m || !token) throw invalidKey();
  const row = await qb(deps.pool)
    .selectFrom('api_keys')
    .select((eb) => [
      'id',
      'prefix',
      'secret_hash',
      eb.cast<ApiScope[]>('scopes', sql`text[]`).as('scopes'),
      'rate_limit_per_minute',
      'revoked_at',
      'last_used_at',
    ])
    .where('prefix', '=', m[1]!)
    .executeTakeFirst();
  const given = Buffer.from(sha256(token));
  // compare even when there is no such key, so the timing says nothing about prefixes
  const stored = Buffer.from(row?.secret_hash ?? sha256('no such key'));
  if (!timingSafeEqual(given, stored) || !row || row.revoked_at) throw invalidKey();
  const now = deps.clock();
  if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > 60_000) {
    // at most one write a minute per key; a failure here must not fail the request
    qb(deps.pool)
      .updateTable('api_keys')
      .set({ last_used_at: now })
      .where('id', '=', row.id)
      .execute()
      .catch(() => {});
  }
  return { keyId: row.id, prefix: row.prefix, scopes: row.scopes, rateLimitPerMinute: row.rate_limit_per_minute };
}

/** A fixed one-minute window per key in Redis; beyond the key's limit, 429 with Retry-After. */
export async function rateLimit(deps: Pick<ApiKeyDeps, 'redis' | 'clock'>, key: ApiPrincipal): Promise<{ remaining: number; resetSeconds: number }> {
  const now = deps.clock().getTime();
  const window = Math.floor(now / 60_000);
  const redisKey = `chorus:apikey:rate:${key.keyId}:${window}`;
  const [[, count]] = (await deps.redis.multi().incr(redisKey).expire(redisKey, 70).exec()) as [[Error | null, number]];
  const resetSeconds = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
  if (count > key.rateLimitPerMinute) {
    throw new AppError(429, 'rate_limited', `This key may make ${key.rateLimitPerMinute} requests a minute; try again in ${resetSeconds} s`, {
      'retry-after': String(resetSeconds),
      'x-ratelimit-limit': String(key.rateLimitPerMinute),
      'x-ratelimit-remaining': '0',
    });
  }
  return { remaining: key.rateLimitPerMinute - count, resetSeconds };
}

// --- failed authentications, per client address ------------------------------------------------
// Wrong or unknown keys are counted per client address in a fixed 10-minute window; past the
// limit, every request from that address that presents a key is answered 429 with Retry-After
// until the window ends (a valid key too: otherwise the guessing would go on behind the 429s).
// Valid keys are never counted, and the check runs beside the key's lookup, so it adds no wait.
// A request without any key is a plain 401 and is not counted. If Redis cannot answer, this
// fails open, like the other limits.

const FAILURE_WINDOW_MS = 10 * 60_000;

function failureCounter(deps: ApiKeyDeps, ip: string): { key: string; retryAfter: number } {
  const now = deps.clock().getTime();
  const window = Math.floor(now / FAILURE_WINDOW_MS);
  const who = createHmac('sha256', deps.secret ?? 'chorus api keys').update(`apikey-fail\n${ip}`).digest('base64url').slice(0, 22);
  return { key: `chorus:apikey:fail:${who}:${window}`, retryAfter: Math.max(1, Math.ceil(((window + 1) * FAILURE_WINDOW_MS - now) / 1000)) };
}

const tooManyFailures = (retryAfter: number) =>
  new AppError(429, 'too_many_failed_keys', `Too many wrong API keys from this address; try again in ${retryAfter} s`, { 'retry-after': String(retryAfter) });

async function failuresSoFar(deps: ApiKeyDeps, ip: string): Promise<number> {
  try {
    return Number((await deps.redis.get(failureCounter(deps, ip).key)) ?? 0);
  } catch {
    return 0;
  }
}

async function countFailure(deps: ApiKeyDeps, ip: string): Promise<number> {
  const { key } = failureCounter(deps, ip);
  try {
    const [[, count]] = (await deps.redis.multi().incr(key).pexpire(key, FAILURE_WINDOW_MS * 2).exec()) as [[Error | null, number]];
    return count;
  } catch {
    return 0;
  }
}

/** onRequest guard: a valid key with every one of `scopes`, within its rate limit. */
export function requireApiKey(deps: ApiKeyDeps, ...scopes: ApiScope[]) {
  const failureLimit = deps.failuresPerIp ?? 30;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const token = presentedKey(req);
    const [failures, checked] = await Promise.all([
      token ? failuresSoFar(deps, req.clientIp) : 0,
      authenticate(deps, token).then(
        (key) => ({ key }),
        (err: unknown) => ({ err }),
      ),
    ]);
    if (failures >= failureLimit) throw tooManyFailures(failureCounter(deps, req.clientIp).retryAfter);
    if ('err' in checked) {
      if (token && checked.err instanceof AppError && checked.err.code === 'invalid_api_key' && (await countFailure(deps, req.clientIp)) > failureLimit) {
        throw tooManyFailures(failureCounter(deps, req.clientIp).retryAfter);
      }
      throw checked.err;
    }
    const key = checked.key;
    const missing = scopes.filter((s) => !key.scopes.includes(s));
    if (missing.length > 0) {
      throw new AppError(403, 'insufficient_scope', `This key lacks the scope ${missing.join(', ')}`, {
        'www-authenticate': `Bearer realm="chorus", error="insufficient_scope", scope="${scopes.join(' ')}"`,
      });
    }
    const limit = await rateLimit(deps, key);
    reply.header('x-ratelimit-limit', String(key.rateLimitPerMinute));
    reply.header('x-ratelimit-remaining', String(limit.remaining));
    req.apiKey = key;
  };
}

// --- signatures an integrator records ---------------------------------------------------------

/** The signer's own address, as an integrator may pass it with a signature it collected. */
export const signerIpSchema = z
  .string({ error: 'signer address must be text' })
  .trim()
  .toLowerCase()
  .max(64, 'signer address must be an IPv4 or IPv6 address')
  .refine((v) => isIP(v) !== 0, 'signer address must be an IPv4 or IPv6 address')
  .describe(
    'the address the signer used on your site. Optional; with it, the per-address limit counts this signer (together with ' +
      'their signatures on our own form) and only its keyed hash is stored; without it, every signature you record counts ' +
      "against your server's address. Never stored or logged in clear.",
  );

/**
 * Who records a signature through the integrator APIs, as the abuse limits count it (one rule
 * for /api/v1 and OSDI): the client address is the signer's address when the integrator
 * passes it, else the integrator's own server (the request's address); the key is counted
 * too (SIGN_LIMIT_PER_API_KEY), so a key cannot escape the limits by inventing addresses.
 */
export function integratorClient(req: Pick<FastifyRequest, 'clientIp' | 'apiKey'>, signerIp: string | undefined): SigningClient {
  return { ip: signerIp ?? req.clientIp, ...(req.apiKey ? { apiKey: req.apiKey.keyId } : {}) };
}
