// Staff accounts, sessions and the audit log, on the shared pg pool or a transaction's client.
import type { InferResult } from 'kysely';
import { qb, type Queryable, type StaffRole } from '../db/db.ts';

/** A staff account as the service sees it (camelCase). */
const USER_COLUMNS = [
  'id',
  'email',
  'name',
  'role',
  'password_hash as passwordHash',
  'totp_secret as totpSecret',
  'disabled_at as disabledAt',
  'last_login_at as lastLoginAt',
  'created_at as createdAt',
] as const;

const users = (db: Queryable) => qb(db).selectFrom('staff_users').select(USER_COLUMNS);

export type StaffUserRow = InferResult<ReturnType<typeof users>>[number];

export interface SessionRow {
  id: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export async function findUserByEmail(db: Queryable, email: string): Promise<StaffUserRow | null> {
  return (await users(db).where('email', '=', email).executeTakeFirst()) ?? null;
}

export async function findUserById(db: Queryable, id: string, forUpdate = false): Promise<StaffUserRow | null> {
  const row = await users(db)
    .where('id', '=', id)
    .$if(forUpdate, (q) => q.forUpdate())
    .executeTakeFirst();
  return row ?? null;
}

export async function listUsers(db: Queryable): Promise<StaffUserRow[]> {
  return users(db).orderBy('created_at').orderBy('email').execute();
}

/** Inserts a user; null when the email is taken. */
export async function insertUser(
  db: Queryable,
  u: { email: string; name: string; role: StaffRole; passwordHash: string; createdAt: Date },
): Promise<StaffUserRow | null> {
  const row = await qb(db)
    .insertInto('staff_users')
    .values({ email: u.email, name: u.name, role: u.role, password_hash: u.passwordHash, created_at: u.createdAt })
    .onConflict((oc) => oc.column('email').doNothing())
    .returning(USER_COLUMNS)
    .executeTakeFirst();
  return row ?? null;
}

export async function setDisabledAt(db: Queryable, id: string, at: Date | null): Promise<void> {
  await qb(db).updateTable('staff_users').set({ disabled_at: at }).where('id', '=', id).execute();
}

export async function setPasswordClearTotp(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await qb(db).updateTable('staff_users').set({ password_hash: passwordHash, totp_secret: null }).where('id', '=', id).execute();
}

export async function setTotpSecret(db: Queryable, id: string, secret: string | null): Promise<void> {
  await qb(db).updateTable('staff_users').set({ totp_secret: secret }).where('id', '=', id).execute();
}

export async function setLastLogin(db: Queryable, id: string, at: Date): Promise<void> {
  await qb(db).updateTable('staff_users').set({ last_login_at: at }).where('id', '=', id).execute();
}

export async function insertSession(db: Queryable, s: SessionRow): Promise<void> {
  await qb(db)
    .insertInto('staff_sessions')
    .values({ id: s.id, user_id: s.userId, created_at: s.createdAt, last_seen_at: s.lastSeenAt, expires_at: s.expiresAt })
    .execute();
}

/**
 * A session and the account behind it, in one read. The account carries what a request needs
 * (who, which role, TOTP, disabled); its password hash and history are left out.
 */
export async function findSessionWithUser(db: Queryable, id: string): Promise<{ session: SessionRow; user: StaffUserRow } | null> {
  const row = await qb(db)
    .selectFrom('staff_sessions as s')
    .innerJoin('staff_users as u', 'u.id', 's.user_id')
    .select([
      's.id',
      's.user_id as userId',
      's.created_at as createdAt',
      's.last_seen_at as lastSeenAt',
      's.expires_at as expiresAt',
      'u.email',
      'u.name',
      'u.role',
      'u.totp_secret as totpSecret',
      'u.disabled_at as disabledAt',
    ])
    .where('s.id', '=', id)
    .executeTakeFirst();
  if (!row) return null;
  const { email, name, role, totpSecret, disabledAt, ...session } = row;
  return {
    session,
    user: { id: session.userId, email, name, role, totpSecret, disabledAt, passwordHash: '', lastLoginAt: null, createdAt: new Date(0) },
  };
}

export async function touchSession(db: Queryable, id: string, at: Date): Promise<void> {
  await qb(db).updateTable('staff_sessions').set({ last_seen_at: at }).where('id', '=', id).execute();
}

export async function deleteSession(db: Queryable, id: string): Promise<void> {
  await qb(db).deleteFrom('staff_sessions').where('id', '=', id).execute();
}

export async function deleteUserSessions(db: Queryable, userId: string): Promise<number> {
  const r = await qb(db).deleteFrom('staff_sessions').where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function insertAudit(
  db: Queryable,
  e: { staffId: string | null; verb: string; entity: string; entityId: string | null; before: unknown; after: unknown; at: Date },
): Promise<void> {
  await qb(db)
    .insertInto('audit_log')
    .values({
      staff_id: e.staffId,
      verb: e.verb,
      entity: e.entity,
      entity_id: e.entityId,
      before: e.before === null || e.before === undefined ? null : JSON.stringify(e.before),
      after: e.after === null || e.after === undefined ? null : JSON.stringify(e.after),
      created_at: e.at,
    })
    .execute();
}
