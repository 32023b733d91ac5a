// The audit log: every change staff make, with who, what, when and the record before and
// after. Write with recordAudit() in the same transaction as the change itself.
import type { InferResult } from 'kysely';
import { qb, type Queryable } from '../db/db.ts';
import { insertAudit } from './staff.repository.ts';

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

/** Entries of the log, each with the name and email of the staff member who made it. */
const entries = (db: Queryable) =>
  qb(db)
    .selectFrom('audit_log as a')
    .leftJoin('staff_users as s', 's.id', 'a.staff_id')
    .select((eb) => [
      // a bigint; as text it is the cursor
      eb.cast<string>('a.id', 'text').as('id'),
      'a.created_at as createdAt',
      's.email as staffEmail',
      's.name as staffName',
      'a.verb',
      'a.entity',
      'a.entity_id as entityId',
      'a.before',
      'a.after',
    ]);

export type AuditRow = InferResult<ReturnType<typeof entries>>[number];

export async function listAudit(db: Queryable, f: AuditFilter): Promise<{ entries: AuditRow[]; nextCursor: string | null }> {
  const rows = await entries(db)
    .$if(Boolean(f.entity), (q) => q.where('a.entity', '=', f.entity!))
    .$if(Boolean(f.entityId), (q) => q.where('a.entity_id', '=', f.entityId!))
    .$if(Boolean(f.staffEmail), (q) => q.where('s.email', '=', f.staffEmail!))
    .$if(f.from !== undefined, (q) => q.where('a.created_at', '>=', f.from!))
    .$if(f.to !== undefined, (q) => q.where('a.created_at', '<', f.to!))
    .$if(Boolean(f.before), (q) => q.where('a.id', '<', f.before!))
    .orderBy('a.id', 'desc')
    .limit(f.limit + 1)
    .execute();
  const more = rows.length > f.limit;
  const page = more ? rows.slice(0, f.limit) : rows;
  return { entries: page, nextCursor: more ? page[page.length - 1]!.id : null };
}

export async function auditEntities(db: Queryable): Promise<string[]> {
  const rows = await qb(db).selectFrom('audit_log').select('entity').distinct().orderBy('entity').execute();
  return rows.map((r) => r.entity);
}
