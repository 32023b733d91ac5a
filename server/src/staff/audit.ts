// The audit log: every change staff make, with who, what, when and the record before and
// after. Write with recordAudit() in the same transaction as the change itself.
import type pg from 'pg';
import { insertAudit } from './staff.repository.ts';

type Queryable = pg.Pool | pg.PoolClient;

export interface AuditInput {
  staffId: string | null;
  /** what happened, snake_case: created, updated, published, invalidated... */
  verb: string;
  /** the kind of record: action, target, signature, delivery, response, staff_user... */
  entity: string;
  entityId: string | null;
  before?: unknown;
  after?: unknown;
  at?: Date;
}

export function recordAudit(db: Queryable, e: AuditInput): Promise<void> {
  return insertAudit(db, { ...e, before: e.before ?? null, after: e.after ?? null, at: e.at ?? new Date() });
}

export interface AuditFilter {
  entity?: string;
  entityId?: string;
  staffEmail?: string;
  from?: Date;
  to?: Date;
  /** cursor: entries older than this id */
  before?: string;
  limit: number;
}

export interface AuditRow {
  id: string;
  createdAt: Date;
  staffEmail: string | null;
  staffName: string | null;
  verb: string;
  entity: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
}

export async function listAudit(db: Queryable, f: AuditFilter): Promise<{ entries: AuditRow[]; nextCursor: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.entity) add('a.entity = ?', f.entity);
  if (f.entityId) add('a.entity_id = ?', f.entityId);
  if (f.staffEmail) add('s.email = ?', f.staffEmail);
  if (f.from) add('a.created_at >= ?', f.from);
  if (f.to) add('a.created_at < ?', f.to);
  if (f.before) add('a.id < ?', f.before);
  params.push(f.limit + 1);
  const { rows } = await db.query<AuditRow>(
    `SELECT a.id::text AS id, a.created_at AS "createdAt", s.email AS "staffEmail", s.name AS "staffName",
            a.verb, a.entity, a.entity_id AS "entityId", a.before, a.after
       FROM audit_log a LEFT JOIN staff_users s ON s.id = a.staff_id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY a.id DESC LIMIT $${params.length}`,
    params,
  );
  const more = rows.length > f.limit;
  const entries = more ? rows.slice(0, f.limit) : rows;
  return { entries, nextCursor: more ? entries[entries.length - 1]!.id : null };
}

export async function auditEntities(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ entity: string }>('SELECT DISTINCT entity FROM audit_log ORDER BY entity');
  return rows.map((r) => r.entity);
}
