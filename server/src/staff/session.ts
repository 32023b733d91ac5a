// Staff sessions: an opaque 32-byte token in an HttpOnly cookie, its SHA-256 in
// staff_sessions. Idle timeout 30 minutes, absolute timeout 12 hours. requireStaff() is the
// guard every staff route uses; csrfGuard() refuses cross-site state changes.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { qb } from '../db/db.ts';
import { AppError } from '../shared/errors.ts';
import * as repo from './staff.repository.ts';
import type { StaffRole } from './staff.schema.ts';

export const IDLE_TIMEOUT_MS = 30 * 60_000;
export const ABSOLUTE_TIMEOUT_MS = 12 * 60 * 60_000;
/** last_seen_at is written at most this often */
export const TOUCH_INTERVAL_MS = 60_000;

export interface StaffDeps {
  pool: pg.Pool;
  redis: Redis;
  clock: () => Date;
  publicBaseUrl: string;
  /** keys the Redis throttle counters (HMAC of the email / IP) */
  secret: string;
}

export interface StaffPrincipal {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** set by requireStaff() */
    staff: StaffPrincipal | null;
    /** hash of the session token (staff_sessions.id), set by requireStaff() */
    staffSessionId: string | null;
  }
}

export const unauthenticated = () => new AppError(401, 'unauthenticated', 'Sign in to continue');
export const forbidden = () => new AppError(403, 'forbidden', 'Your role does not allow this');

export function isHttps(publicBaseUrl: string): boolean {
  return new URL(publicBaseUrl).protocol === 'https:';
}

/**
 * `__Host-chorus_staff` over https. A `__Host-` cookie must be Secure, which a browser will
 * not store from a plain-http origin, so the local http demo uses `chorus_staff`.
 */
export function cookieName(publicBaseUrl: string): string {
  return isHttps(publicBaseUrl) ? '__Host-chorus_staff' : 'chorus_staff';
}

export function cookieOptions(publicBaseUrl: string) {
  return { httpOnly: true, sameSite: 'strict' as const, path: '/', secure: isHttps(publicBaseUrl) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newToken(): { token: string; id: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, id: hashToken(token) };
}

/** The session token the request carries, if it looks like one. */
export function tokenFrom(req: FastifyRequest, publicBaseUrl: string): string | null {
  const value = req.cookies?.[cookieName(publicBaseUrl)];
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
}

/** Creates a session for userId; returns the token for the cookie. */
export async function createSession(deps: Pick<StaffDeps, 'pool' | 'clock'>, userId: string): Promise<string> {
  const now = deps.clock();
  const { token, id } = newToken();
  await repo.insertSession(deps.pool, {
    id,
    userId,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + ABSOLUTE_TIMEOUT_MS),
  });
  return token;
}

/**
 * The staff member behind a token, or null. Expired sessions (idle or absolute) are deleted;
 * a disabled account has no session.
 */
export async function resolveSession(
  deps: Pick<StaffDeps, 'pool' | 'clock'>,
  token: string,
): Promise<{ sessionId: string; staff: StaffPrincipal; totpSecret: string | null } | null> {
  const id = hashToken(token);
  const found = await repo.findSessionWithUser(deps.pool, id);
  if (!found) return null;
  const now = deps.clock().getTime();
  const { session, user } = found;
  if (now >= session.expiresAt.getTime() || now - session.lastSeenAt.getTime() >= IDLE_TIMEOUT_MS || user.disabledAt) {
    await repo.deleteSession(deps.pool, id);
    return null;
  }
  if (now - session.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) await repo.touchSession(deps.pool, id, new Date(now));
  return { sessionId: id, staff: { id: user.id, email: user.email, name: user.name, role: user.role }, totpSecret: user.totpSecret };
}

/**
 * Guard for staff routes: sets req.staff, or answers 401 `unauthenticated` (no valid session)
 * or 403 `forbidden` (role not in `roles`; no roles means any staff member). Works as an
 * `onRequest` hook (preferred: nothing is parsed for strangers) or as a `preHandler`.
 */
export function requireStaff(deps: Pick<StaffDeps, 'pool' | 'clock' | 'publicBaseUrl'>, ...roles: StaffRole[]) {
  return async function staffGuard(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = tokenFrom(req, deps.publicBaseUrl);
    const resolved = token ? await resolveSession(deps, token) : null;
    if (!resolved) {
      if (req.cookies?.[cookieName(deps.publicBaseUrl)] !== undefined) reply.clearCookie(cookieName(deps.publicBaseUrl), cookieOptions(deps.publicBaseUrl));
      throw unauthenticated();
    }
    req.staff = resolved.staff;
    req.staffSessionId = resolved.sessionId;
    if (roles.length > 0 && !roles.includes(resolved.staff.role)) throw forbidden();
  };
}

/**
 * Deletes sessions past their absolute or idle timeout. resolveSession() already refuses
 * them; this removes those never presented again. Returns how many went.
 */
export async function sweepExpiredSessions(pool: pg.Pool, now: Date): Promise<number> {
  const idleSince = new Date(now.getTime() - IDLE_TIMEOUT_MS);
  const r = await qb(pool)
    .deleteFrom('staff_sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', idleSince)]))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence in depth (SameSite=Strict already stops most): a state-changing request must
 * carry `x-chorus-csrf: 1` (which a cross-site form cannot send and a cross-site fetch
 * cannot send without a CORS preflight that this API never grants) or an `Origin` equal to
 * PUBLIC_BASE_URL's origin. Otherwise 403 `csrf`.
 */
export function csrfGuard(publicBaseUrl: string) {
  const origin = new URL(publicBaseUrl).origin;
  return async function csrfCheck(req: FastifyRequest): Promise<void> {
    if (SAFE_METHODS.has(req.method)) return;
    if (req.headers['x-chorus-csrf'] === '1') return;
    if (req.headers.origin === origin) return;
    throw new AppError(403, 'csrf', 'Cross-site request refused: send the header x-chorus-csrf: 1 from the staff console');
  };
}
