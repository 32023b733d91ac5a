// SQL for staff accounts, sessions and the audit log, on the shared pg pool.
import type pg from 'pg';
import type { StaffRole } from './staff.schema.ts';

export interface StaffUserRow {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
  passwordHash: string;
  totpSecret: string | null;
  disabledAt: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
}

export interface SessionRow {
  id: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

type Queryable = pg.Pool | pg.PoolClient;

const USER_COLUMNS = `id, email, name, role, password_hash AS "passwordHash", totp_secret AS "totpSecret",
  disabled_at AS "disabledAt", last_login_at AS "lastLoginAt", created_at AS "createdAt"`;

export async function findUserByEmail(db: Queryable, email: string): Promise<StaffUserRow | null> {
  const { rows } = await db.query<StaffUserRow>(`SELECT ${USER_COLUMNS} FROM staff_users WHERE email = $1`, [email]);
  return rows[0] ?? null;
}

export async function findUserById(db: Queryable, id: string, forUpdate = false): Promise<StaffUserRow | null> {
  const { rows } = await db.query<StaffUserRow>(`SELECT ${USER_COLUMNS} FROM staff_users WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ?? null;
}

export async function listUsers(db: Queryable): Promise<StaffUserRow[]> {
  const { rows } = await db.query<StaffUserRow>(`SELECT ${USER_COLUMNS} FROM staff_users ORDER BY created_at, email`);
  return rows;
}

/** Inserts a user; null when the email is taken. */
export async function insertUser(
  db: Queryable,
  u: { email: string; name: string; role: StaffRole; passwordHash: string; createdAt: Date },
): Promise<StaffUserRow | null> {
  const { rows } = await db.query<StaffUserRow>(
    `INSERT INTO staff_users (email, name, role, password_hash, created_at) VALUES ($1, $2, $3::"StaffRole", $4, $5)
     ON CONFLICT (email) DO NOTHING RETURNING ${USER_COLUMNS}`,
    [u.email, u.name, u.role, u.passwordHash, u.createdAt],
  );
  return rows[0] ?? null;
}

export async function setDisabledAt(db: Queryable, id: string, at: Date | null): Promise<void> {
  await db.query('UPDATE staff_users SET disabled_at = $2 WHERE id = $1', [id, at]);
}

export async function setPasswordClearTotp(db: Queryable, id: string, passwordHash: string): Promise<void> {
  await db.query('UPDATE staff_users SET password_hash = $2, totp_secret = NULL WHERE id = $1', [id, passwordHash]);
}

export async function setTotpSecret(db: Queryable, id: string, secret: string | null): Promise<void> {
  await db.query('UPDATE staff_users SET totp_secret = $2 WHERE id = $1', [id, secret]);
}

export async function setLastLogin(db: Queryable, id: string, at: Date): Promise<void> {
  await db.query('UPDATE staff_users SET last_login_at = $2 WHERE id = $1', [id, at]);
}

export async function insertSession(db: Queryable, s: SessionRow): Promise<void> {
  await db.query('INSERT INTO staff_sessions (id, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
    s.id,
    s.userId,
    s.createdAt,
    s.lastSeenAt,
    s.expiresAt,
  ]);
}

export async function findSessionWithUser(db: Queryable, id: string): Promise<{ session: SessionRow; user: StaffUserRow } | null> {
  const { rows } = await db.query<SessionRow & { user: StaffUserRow }>(
    `SELECT s.id, s.user_id AS "userId", s.created_at AS "createdAt", s.last_seen_at AS "lastSeenAt", s.expires_at AS "expiresAt",
            json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', u.role,
                              'totpSecret', u.totp_secret, 'disabledAt', u.disabled_at) AS "user"
       FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id WHERE s.id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return null;
  const { user, ...session } = row;
  return { session, user: { ...user, passwordHash: '', lastLoginAt: null, createdAt: new Date(0), disabledAt: user.disabledAt ? new Date(user.disabledAt) : null } };
}

export async function touchSession(db: Queryable, id: string, at: Date): Promise<void> {
  await db.query('UPDATE staff_sessions SET last_seen_at = $2 WHERE id = $1', [id, at]);
}

export async function deleteSession(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM staff_sessions WHERE id = $1', [id]);
}

export async function deleteUserSessions(db: Queryable, userId: string): Promise<number> {
  const r = await db.query('DELETE FROM staff_sessions WHERE user_id = $1', [userId]);
  return r.rowCount ?? 0;
}

export async function insertAudit(
  db: Queryable,
  e: { staffId: string | null; verb: string; entity: string; entityId: string | null; before: unknown; after: unknown; at: Date },
): Promise<void> {
  await db.query('INSERT INTO audit_log (staff_id, verb, entity, entity_id, before, after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    e.staffId,
    e.verb,
    e.entity,
    e.entityId,
    e.before === null || e.before === undefined ? null : JSON.stringify(e.before),
    e.after === null || e.after === undefined ? null : JSON.stringify(e.after),
    e.at,
  ]);
}
