// Staff accounts: login (argon2id, TOTP, Redis throttling), TOTP enrolment, and the admin's
// account management. Every change to an account writes an audit_log row; no password hash
// or TOTP secret ever goes into one.
import { createHmac, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import * as OTPAuth from 'otpauth';
import { inTransaction } from '../db/db.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { seal, unseal } from '../shared/seal.ts';
import * as repo from './staff.repository.ts';
import { createSession, hashToken, type StaffDeps, type StaffPrincipal } from './session.ts';
import type { CreateUserInput, LoginInput, StaffUserAdminView, StaffUserView } from './staff.schema.ts';

export const LOGIN_WINDOW_SECONDS = 15 * 60;
/** failed sign-ins to one account from one address per window */
export const MAX_FAILURES_PER_EMAIL = 5;
export const MAX_FAILURES_PER_IP = 20;
const TOTP_PENDING = 'pending:';
const TOTP_ISSUER = 'Chorus';

export const invalidCredentials = () => new AppError(401, 'invalid_credentials', 'The email address, password or code is not right');

// ---------------------------------------------------------------- passwords

/** argon2id with the library's defaults (19 MiB, 2 passes). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

let dummyHash: Promise<string> | undefined;
/** Verifies against a real hash, or a dummy one for unknown addresses, so timing matches. */
async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  dummyHash ??= hash(randomBytes(18).toString('base64url'));
  const target = stored ?? (await dummyHash);
  try {
    const ok = await verify(target, password);
    return ok && stored !== undefined;
  } catch {
    return false;
  }
}

/** The password rules beyond length (checked by the schema): not the email address. */
export function checkPasswordPolicy(email: string, password: string): void {
  const p = password.trim().toLowerCase();
  if (p === email.trim().toLowerCase() || p === email.split('@')[0]?.toLowerCase()) {
    throw new AppError(422, 'weak_password', 'The password must not be the email address');
  }
}

// ---------------------------------------------------------------- views

const TOTP_PURPOSE = 'staff-totp';

/** The stored form of a TOTP key: sealed (AES-GCM under SECRET_KEY), never the key itself. */
function sealTotp(deps: Pick<StaffDeps, 'secret'>, base32: string): string {
  return seal(deps.secret, TOTP_PURPOSE, base32);
}

/** The TOTP key from its stored form; a key stored before sealing (plain base32) still works. */
function openTotp(deps: Pick<StaffDeps, 'secret'>, stored: string): string | null {
  if (/^[A-Z2-7]+=*$/.test(stored)) return stored;
  return unseal(deps.secret, TOTP_PURPOSE, stored);
}

export function isTotpEnabled(secret: string | null): boolean {
  return secret !== null && !secret.startsWith(TOTP_PENDING);
}

export function toView(u: Pick<repo.StaffUserRow, 'id' | 'email' | 'name' | 'role' | 'totpSecret'>): StaffUserView {
  return { id: u.id, email: u.email, name: u.name, role: u.role, totpEnabled: isTotpEnabled(u.totpSecret) };
}

export function toAdminView(u: repo.StaffUserRow): StaffUserAdminView {
  return {
    ...toView(u),
    disabled: u.disabledAt !== null,
    lastLoginAt: u.lastLoginAt ? u.lastLoginAt.toISOString() : null,
    createdAt: u.createdAt.toISOString(),
  };
}

/** What the audit log keeps of an account: never the hash, never the TOTP secret. */
function auditView(u: repo.StaffUserRow) {
  return { email: u.email, name: u.name, role: u.role, totpEnabled: isTotpEnabled(u.totpSecret), disabled: u.disabledAt !== null };
}

// ---------------------------------------------------------------- throttling

function throttleKey(deps: Pick<StaffDeps, 'secret'>, kind: 'email' | 'ip', value: string): string {
  return `staff:login:${kind}:${createHmac('sha256', deps.secret).update(`staff-login:${kind}:${value}`).digest('hex')}`;
}

/**
 * Counts this attempt before the password is checked (so parallel guesses cannot slip past
 * the limit) and refuses it with 429 once either counter is over its limit. A success takes
 * the attempt back: the email counter is cleared, the IP counter decremented.
 */
async function countAttempt(deps: StaffDeps, emailKey: string, ipKey: string): Promise<void> {
  const res = await deps.redis
    .multi()
    .set(emailKey, 0, 'EX', LOGIN_WINDOW_SECONDS, 'NX')
    .incr(emailKey)
    .ttl(emailKey)
    .set(ipKey, 0, 'EX', LOGIN_WINDOW_SECONDS, 'NX')
    .incr(ipKey)
    .ttl(ipKey)
    .exec();
  if (!res) throw new Error('redis transaction aborted');
  const n = (i: number) => Number(res[i]?.[1] ?? 0);
  const retry: number[] = [];
  if (n(1) > MAX_FAILURES_PER_EMAIL) retry.push(n(2));
  if (n(4) > MAX_FAILURES_PER_IP) retry.push(n(5));
  if (retry.length > 0) {
    const seconds = Math.max(1, ...retry.map((t) => (t > 0 ? t : LOGIN_WINDOW_SECONDS)));
    throw new AppError(429, 'too_many_attempts', 'Too many sign-in attempts; try again later', { 'retry-after': String(seconds) });
  }
}

async function takeBackAttempt(deps: StaffDeps, emailKey: string, ipKey: string, clearEmail: boolean): Promise<void> {
  const m = deps.redis.multi();
  if (clearEmail) m.del(emailKey);
  else m.decr(emailKey);
  const res = await m.decr(ipKey).exec();
  // a window that ended in between would leave a counter of -1 without expiry: drop it
  const low = [clearEmail ? null : emailKey, ipKey].filter((k, i) => k !== null && Number(res?.[i]?.[1] ?? 0) <= 0) as string[];
  if (low.length > 0) await deps.redis.del(...low);
}

// ---------------------------------------------------------------- TOTP

function totpFor(secretBase32: string, label: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ issuer: TOTP_ISSUER, label, algorithm: 'SHA1', digits: 6, period: 30, secret: OTPAuth.Secret.fromBase32(secretBase32) });
}

/** A valid code for this secret, not used before (each 30-second step is accepted once). */
async function checkTotp(deps: StaffDeps, userId: string, secretBase32: string, code: string): Promise<boolean> {
  const totp = totpFor(secretBase32, 'x');
  const now = deps.clock().getTime();
  const delta = totp.validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return false;
  const step = Math.floor(now / 1000 / 30) + delta;
  const fresh = await deps.redis.set(`staff:totp:used:${userId}:${step}`, '1', 'EX', 180, 'NX');
  return fresh === 'OK';
}

// ---------------------------------------------------------------- login / logout

export async function login(
  deps: StaffDeps,
  input: LoginInput,
  ctx: { ip: string; currentToken: string | null },
): Promise<{ user: StaffUserView; token: string }> {
  // failures are counted per account AND address: counted per account alone, anyone could keep
  // any account (the admin's, in the middle of a fraud spike) locked out with five wrong
  // passwords every 15 minutes. Guessing from many addresses is slowed by each address's own
  // limit, argon2 and the password rules, and admins' two-step sign-in.
  const emailKey = throttleKey(deps, 'email', `${input.email}\n${ctx.ip}`);
  const ipKey = throttleKey(deps, 'ip', ctx.ip);
  await countAttempt(deps, emailKey, ipKey);

  const user = await repo.findUserByEmail(deps.pool, input.email);
  const ok = await verifyPassword(user?.passwordHash, input.password);
  // failed sign-ins to a real account are in the audit log (not who tried: we cannot know)
  const failed = async (why: string) => {
    if (user) await recordSignIn(deps, user.id, 'sign_in_failed', { reason: why });
    return invalidCredentials();
  };
  if (!user || !ok) throw await failed('password');
  if (user.disabledAt) throw await failed('disabled');

  if (isTotpEnabled(user.totpSecret)) {
    if (input.totp === undefined) {
      // the right password without its code is not a failed attempt
      await takeBackAttempt(deps, emailKey, ipKey, false);
      throw new AppError(401, 'totp_required', 'Enter the 6-digit code from your authenticator app');
    }
    const key = openTotp(deps, user.totpSecret!);
    if (key === null) {
      throw new AppError(503, 'totp_unreadable', 'Two-step sign-in cannot be checked: the server key has changed; an admin can reset it');
    }
    if (!(await checkTotp(deps, user.id, key, input.totp))) throw await failed('code');
  }

  await takeBackAttempt(deps, emailKey, ipKey, true);
  // rotation: the session this browser had (if any) ends; a new one starts
  if (ctx.currentToken) await repo.deleteSession(deps.pool, hashToken(ctx.currentToken));
  const token = await createSession(deps, user.id);
  await repo.setLastLogin(deps.pool, user.id, deps.clock());
  await recordSignIn(deps, user.id, 'signed_in', { twoStep: isTotpEnabled(user.totpSecret) });
  return { user: toView(user), token };
}

function recordSignIn(deps: Pick<StaffDeps, 'pool' | 'clock'>, userId: string, verb: string, after: Record<string, unknown>) {
  return repo.insertAudit(deps.pool, { staffId: verb === 'signed_in' ? userId : null, verb, entity: 'staff_user', entityId: userId, before: null, after, at: deps.clock() });
}

export async function logout(deps: Pick<StaffDeps, 'pool'>, token: string | null): Promise<void> {
  if (token) await repo.deleteSession(deps.pool, hashToken(token));
}

export async function me(deps: Pick<StaffDeps, 'pool'>, staffId: string): Promise<StaffUserView> {
  const u = await repo.findUserById(deps.pool, staffId);
  if (!u) throw new AppError(401, 'unauthenticated', 'Sign in to continue');
  return toView(u);
}

// ---------------------------------------------------------------- TOTP enrolment

export async function totpSetup(deps: StaffDeps, staff: StaffPrincipal): Promise<{ secret: string; otpauthUrl: string }> {
  const u = await repo.findUserById(deps.pool, staff.id);
  if (!u) throw notFound('staff_user_not_found', 'No such staff user');
  if (isTotpEnabled(u.totpSecret)) throw conflict('totp_already_enabled', 'Two-step sign-in is already on; an admin can reset it');
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  await repo.setTotpSecret(deps.pool, u.id, TOTP_PENDING + sealTotp(deps, secret));
  return { secret, otpauthUrl: totpFor(secret, u.email).toString() };
}

export async function totpConfirm(deps: StaffDeps, staff: StaffPrincipal, code: string): Promise<StaffUserView> {
  return inTransaction(deps.pool, async (tx) => {
    const u = await repo.findUserById(tx, staff.id, true);
    if (!u) throw notFound('staff_user_not_found', 'No such staff user');
    if (isTotpEnabled(u.totpSecret)) throw conflict('totp_already_enabled', 'Two-step sign-in is already on');
    if (!u.totpSecret?.startsWith(TOTP_PENDING)) throw conflict('totp_not_pending', 'Start with POST /api/staff/me/totp/setup');
    const sealed = u.totpSecret.slice(TOTP_PENDING.length);
    const secret = openTotp(deps, sealed);
    if (secret === null) throw conflict('totp_not_pending', 'Start again with POST /api/staff/me/totp/setup');
    if (!(await checkTotp(deps, u.id, secret, code))) throw new AppError(422, 'invalid_totp', 'The code is not right; check the clock of your device');
    await repo.setTotpSecret(tx, u.id, sealed);
    const after = { ...u, totpSecret: sealed };
    await repo.insertAudit(tx, { staffId: staff.id, verb: 'totp_enabled', entity: 'staff_user', entityId: u.id, before: auditView(u), after: auditView(after), at: deps.clock() });
    return toView(after);
  });
}

// ---------------------------------------------------------------- admin: accounts

export async function listStaff(deps: Pick<StaffDeps, 'pool'>): Promise<StaffUserAdminView[]> {
  return (await repo.listUsers(deps.pool)).map(toAdminView);
}

/** Creates an account; actorId null for the CLI and the seed. */
export async function createStaff(deps: Pick<StaffDeps, 'pool' | 'clock'>, actorId: string | null, input: CreateUserInput): Promise<StaffUserAdminView> {
  checkPasswordPolicy(input.email, input.password);
  const passwordHash = await hashPassword(input.password);
  return inTransaction(deps.pool, async (tx) => {
    const u = await repo.insertUser(tx, { email: input.email, name: input.name, role: input.role, passwordHash, createdAt: deps.clock() });
    if (!u) throw conflict('email_taken', 'A staff account with this email address exists');
    await repo.insertAudit(tx, { staffId: actorId, verb: 'create', entity: 'staff_user', entityId: u.id, before: null, after: auditView(u), at: deps.clock() });
    return toAdminView(u);
  });
}

async function changeUser(
  deps: Pick<StaffDeps, 'pool' | 'clock'>,
  actor: StaffPrincipal,
  id: string,
  verb: string,
  change: (tx: import('pg').PoolClient, u: repo.StaffUserRow) => Promise<repo.StaffUserRow>,
): Promise<StaffUserAdminView> {
  return inTransaction(deps.pool, async (tx) => {
    const u = await repo.findUserById(tx, id, true);
    if (!u) throw notFound('staff_user_not_found', 'No such staff user');
    const after = await change(tx, u);
    await repo.insertAudit(tx, { staffId: actor.id, verb, entity: 'staff_user', entityId: u.id, before: auditView(u), after: auditView(after), at: deps.clock() });
    return toAdminView(after);
  });
}

export function disableStaff(deps: Pick<StaffDeps, 'pool' | 'clock'>, actor: StaffPrincipal, id: string) {
  if (id === actor.id) throw conflict('cannot_disable_self', 'You cannot disable your own account');
  return changeUser(deps, actor, id, 'disable', async (tx, u) => {
    const at = u.disabledAt ?? deps.clock();
    await repo.setDisabledAt(tx, u.id, at);
    await repo.deleteUserSessions(tx, u.id);
    return { ...u, disabledAt: at };
  });
}

export function enableStaff(deps: Pick<StaffDeps, 'pool' | 'clock'>, actor: StaffPrincipal, id: string) {
  return changeUser(deps, actor, id, 'enable', async (tx, u) => {
    await repo.setDisabledAt(tx, u.id, null);
    return { ...u, disabledAt: null };
  });
}

export async function resetStaffPassword(deps: Pick<StaffDeps, 'pool' | 'clock'>, actor: StaffPrincipal, id: string, password: string) {
  const target = await repo.findUserById(deps.pool, id);
  if (!target) throw notFound('staff_user_not_found', 'No such staff user');
  checkPasswordPolicy(target.email, password);
  const passwordHash = await hashPassword(password);
  return changeUser(deps, actor, id, 'reset_password', async (tx, u) => {
    await repo.setPasswordClearTotp(tx, u.id, passwordHash);
    await repo.deleteUserSessions(tx, u.id);
    return { ...u, passwordHash, totpSecret: null };
  });
}
