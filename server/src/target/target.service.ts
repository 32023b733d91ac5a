// The targets directory for staff: search, create, edit, disable, and CSV import and export.
// Every change is audited in the same transaction as the change itself.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';
import { recordAudit } from '../staff/audit.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { formatOfficeHours, parseOfficeHours, type TargetInput, type TargetListQuery, type TargetView } from './target.schema.ts';

type Queryable = pg.Pool | pg.PoolClient;

interface TargetDbRow {
  id: string;
  slug: string;
  name: string;
  title: string;
  organisation: string;
  kind: TargetView['kind'];
  country: string | null;
  email: string;
  language: string;
  timezone: string;
  office_opens_at: number;
  office_closes_at: number;
  salutation: string;
  last_verified_at: Date | null;
  contact_status: TargetView['contactStatus'];
  bounce_count: number;
  notes: string;
  disabled_at: Date | null;
  updated_at: Date;
  actions: TargetView['actions'] | null;
}

const SELECT = `SELECT g.id, g.slug, g.name, g.title, g.organisation, g.kind, g.country, g.email, g.language, g.timezone,
       g.office_opens_at, g.office_closes_at, g.salutation, g.last_verified_at, g.contact_status, g.bounce_count,
       g.notes, g.disabled_at, g.updated_at,
       (SELECT json_agg(json_build_object('id', a.id, 'slug', a.slug, 'status', a.status) ORDER BY a.slug)
          FROM action_targets at JOIN actions a ON a.id = at.action_id WHERE at.target_id = g.id) AS actions
  FROM targets g`;

function toView(r: TargetDbRow): TargetView {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    title: r.title,
    organisation: r.organisation,
    kind: r.kind,
    country: r.country,
    email: r.email,
    language: r.language,
    timezone: r.timezone,
    officeHours: formatOfficeHours(r.office_opens_at, r.office_closes_at),
    salutation: r.salutation,
    lastVerifiedAt: r.last_verified_at ? r.last_verified_at.toISOString().slice(0, 10) : null,
    contactStatus: r.contact_status,
    bounceCount: r.bounce_count,
    notes: r.notes,
    disabled: r.disabled_at !== null,
    actions: r.actions ?? [],
    updatedAt: r.updated_at,
  };
}

/** What the audit log keeps of a target: its fields, not the actions around it. */
function auditView(v: TargetView) {
  const { actions: _actions, updatedAt: _updatedAt, ...fields } = v;
  return fields;
}

export async function listTargets(db: Queryable, q: TargetListQuery): Promise<{ targets: TargetView[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    let out = sql;
    for (const v of values) {
      params.push(v);
      out = out.replace('?', `$${params.length}`);
    }
    where.push(out);
  };
  if (q.q?.trim()) {
    // every word must appear in the name, organisation, title or email (ILIKE, wildcards escaped)
    for (const word of q.q.trim().split(/\s+/).slice(0, 8)) {
      const like = `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      add(`(g.name ILIKE ? OR g.organisation ILIKE ? OR g.title ILIKE ? OR g.email ILIKE ?)`, like, like, like, like);
    }
  }
  if (q.country === 'none') where.push('g.country IS NULL');
  else if (q.country) add('g.country = ?', q.country.toUpperCase());
  if (q.kind) add('g.kind = ?::"TargetKind"', q.kind);
  if (q.language) add('g.language = ?', q.language);
  const status = q.status ?? 'ENABLED';
  if (status === 'DISABLED') where.push('g.disabled_at IS NOT NULL');
  else if (status !== 'ALL') where.push('g.disabled_at IS NULL');
  if (status === 'OK' || status === 'STALE') add('g.contact_status = ?::"ContactStatus"', status);
  const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM targets g ${whereSql}`, params);
  const { rows } = await db.query<TargetDbRow>(
    `${SELECT} ${whereSql} ORDER BY g.country NULLS FIRST, g.name, g.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, q.limit, q.offset],
  );
  return { targets: rows.map(toView), total: total.rows[0]!.n };
}

export async function getTarget(db: Queryable, id: string): Promise<TargetView> {
  const { rows } = await db.query<TargetDbRow>(`${SELECT} WHERE g.id = $1`, [id]);
  if (!rows[0]) throw notFound('target_not_found', 'No such target');
  return toView(rows[0]);
}

function slugFrom(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/g, '');
  return `${base || 'target'}-${randomUUID().slice(0, 6)}`;
}

function columns(input: TargetInput) {
  const hours = parseOfficeHours(input.officeHours)!;
  return [
    input.name,
    input.title,
    input.organisation,
    input.kind,
    input.country,
    input.email,
    input.language,
    input.timezone,
    hours.opensAt,
    hours.closesAt,
    input.salutation,
    input.lastVerifiedAt ? new Date(`${input.lastVerifiedAt}T00:00:00Z`) : null,
    input.notes,
  ];
}

async function insertTarget(tx: pg.PoolClient, input: TargetInput, now: Date): Promise<string> {
  const slug = input.slug ?? slugFrom(input.name);
  const res = await tx.query<{ id: string }>(
    `INSERT INTO targets (slug, name, title, organisation, kind, country, email, language, timezone, office_opens_at, office_closes_at,
                          salutation, last_verified_at, notes, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5::"TargetKind", $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
     ON CONFLICT (slug) DO NOTHING RETURNING id`,
    [slug, ...columns(input), now],
  );
  if (!res.rows[0]) throw conflict('slug_taken', `A target with the slug "${slug}" exists`);
  return res.rows[0].id;
}

async function updateTarget(tx: pg.PoolClient, id: string, input: TargetInput, now: Date): Promise<void> {
  await tx.query(
    `UPDATE targets SET name = $2, title = $3, organisation = $4, kind = $5::"TargetKind", country = $6, email = $7, language = $8,
            timezone = $9, office_opens_at = $10, office_closes_at = $11, salutation = $12, last_verified_at = $13, notes = $14,
            updated_at = $15
      WHERE id = $1`,
    [id, ...columns(input), now],
  );
}

export interface TargetDeps {
  pool: pg.Pool;
  clock: () => Date;
}

export async function createTarget(deps: TargetDeps, staffId: string, input: TargetInput): Promise<TargetView> {
  return inTransaction(deps.pool, async (tx) => {
    const id = await insertTarget(tx, input, deps.clock());
    const after = await getTarget(tx, id);
    await recordAudit(tx, { staffId, verb: 'create', entity: 'target', entityId: id, after: auditView(after), at: deps.clock() });
    return after;
  });
}

async function lockTarget(tx: pg.PoolClient, id: string): Promise<TargetView> {
  const { rowCount } = await tx.query('SELECT 1 FROM targets WHERE id = $1 FOR UPDATE', [id]);
  if (!rowCount) throw notFound('target_not_found', 'No such target');
  return getTarget(tx, id);
}

export async function editTarget(deps: TargetDeps, staffId: string, id: string, input: TargetInput): Promise<TargetView> {
  return inTransaction(deps.pool, async (tx) => {
    const before = await lockTarget(tx, id);
    if (input.slug && input.slug !== before.slug) throw new AppError(422, 'slug_fixed', 'A target keeps its slug');
    await updateTarget(tx, id, input, deps.clock());
    const after = await getTarget(tx, id);
    await recordAudit(tx, { staffId, verb: 'update', entity: 'target', entityId: id, before: auditView(before), after: auditView(after), at: deps.clock() });
    return after;
  });
}

/**
 * Disabling keeps the row (letters and answers point at it) but takes it out of the picker.
 * A target still linked to a published action is refused: its letters would keep going, so
 * staff take it off those actions first.
 */
export async function setTargetDisabled(deps: TargetDeps, staffId: string, id: string, disabled: boolean): Promise<TargetView> {
  return inTransaction(deps.pool, async (tx) => {
    const before = await lockTarget(tx, id);
    if (disabled) {
      const live = before.actions.filter((a) => a.status === 'PUBLISHED');
      if (live.length) {
        throw conflict('target_in_use', `Remove this target from the published actions first: ${live.map((a) => a.slug).join(', ')}`);
      }
    }
    await tx.query('UPDATE targets SET disabled_at = $2, updated_at = $3 WHERE id = $1', [id, disabled ? deps.clock() : null, deps.clock()]);
    const after = await getTarget(tx, id);
    await recordAudit(tx, {
      staffId,
      verb: disabled ? 'disable' : 'enable',
      entity: 'target',
      entityId: id,
      before: { disabled: before.disabled },
      after: { disabled: after.disabled },
      at: deps.clock(),
    });
    return after;
  });
}

export type ImportRow = { line: number; input: TargetInput };

/**
 * Upserts rows by email address (case-insensitive). All or nothing: the caller has already
 * validated every row; a row whose email matches two targets is refused here by line.
 */
export async function importTargets(deps: TargetDeps, staffId: string, rows: ImportRow[]) {
  return inTransaction(deps.pool, async (tx) => {
    let created = 0;
    let updated = 0;
    let unchanged = 0;
    for (const { line, input } of rows) {
      const found = await tx.query<{ id: string }>('SELECT id FROM targets WHERE lower(email) = lower($1) ORDER BY created_at FOR UPDATE', [input.email]);
      if (found.rows.length > 1) {
        throw new AppError(422, 'csv_invalid', `Line ${line}: ${input.email} belongs to ${found.rows.length} targets; edit them in the directory`, {}, [
          { path: `line ${line}: email`, message: `belongs to ${found.rows.length} targets in the directory` },
        ]);
      }
      if (!found.rows[0]) {
        const id = await insertTarget(tx, input, deps.clock());
        const after = await getTarget(tx, id);
        await recordAudit(tx, { staffId, verb: 'import_create', entity: 'target', entityId: id, after: auditView(after), at: deps.clock() });
        created++;
        continue;
      }
      const id = found.rows[0].id;
      const before = await getTarget(tx, id);
      await updateTarget(tx, id, { ...input, slug: undefined }, deps.clock());
      const after = await getTarget(tx, id);
      if (JSON.stringify(auditView(before)) === JSON.stringify(auditView(after))) {
        unchanged++;
        continue;
      }
      await recordAudit(tx, { staffId, verb: 'import_update', entity: 'target', entityId: id, before: auditView(before), after: auditView(after), at: deps.clock() });
      updated++;
    }
    return { created, updated, unchanged };
  });
}

/** Every target for the export, enabled and disabled, in directory order. */
export async function allTargets(db: Queryable): Promise<TargetView[]> {
  const { rows } = await db.query<TargetDbRow>(`${SELECT} ORDER BY g.country NULLS FIRST, g.name, g.id`);
  return rows.map(toView);
}
