// The targets directory for staff: search, create, edit, disable, and CSV import and export.
// Every change is audited in the same transaction as the change itself.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { sql, type Expression, type SqlBool } from 'kysely';
import { jsonBuildObject } from 'kysely/helpers/postgres';
import { ActionStatus, ContactStatus, inTransaction, qb, type Queryable } from '../db/db.ts';
import { recordAudit } from '../staff/audit.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import { readTargetNames } from './target-names.ts';
import { formatOfficeHours, parseOfficeHours, type TargetInput, type TargetListQuery, type TargetView } from './target.schema.ts';

/** Targets (aliased g) with the actions each is linked to. */
function selectTargets(db: Queryable) {
  return qb(db)
    .selectFrom('targets as g')
    .select((eb) => [
      'g.id',
      'g.slug',
      'g.name',
      'g.title',
      'g.organisation',
      'g.names',
      'g.name_is_official',
      'g.kind',
      'g.country',
      'g.email',
      'g.language',
      'g.timezone',
      'g.office_opens_at',
      'g.office_closes_at',
      'g.salutation',
      'g.last_verified_at',
      'g.contact_status',
      'g.bounce_count',
      'g.notes',
      'g.disabled_at',
      'g.updated_at',
      eb
        .selectFrom('action_targets as at')
        .innerJoin('actions as a', 'a.id', 'at.action_id')
        .select((eb) =>
          eb.fn
            .jsonAgg(jsonBuildObject({ id: eb.ref('a.id'), slug: eb.ref('a.slug'), status: eb.ref('a.status') }))
            .orderBy('a.slug')
            .as('actions'),
        )
        .whereRef('at.target_id', '=', 'g.id')
        .as('actions'),
    ]);
}

type TargetDbRow = Awaited<ReturnType<ReturnType<typeof selectTargets>['execute']>>[number];

function toView(r: TargetDbRow): TargetView {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    title: r.title,
    organisation: r.organisation,
    names: readTargetNames(r.names),
    nameIsOfficial: r.name_is_official,
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
  const status = q.status ?? 'ENABLED';
  const words = q.q?.trim() ? q.q.trim().split(/\s+/).slice(0, 8) : [];
  const query = selectTargets(db).where((eb) => {
    const where: Expression<SqlBool>[] = [];
    // every word must appear in the name, organisation, title or email (ILIKE, wildcards escaped)
    for (const word of words) {
      const like = `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push(
        eb.or([
          eb('g.name', 'ilike', like),
          eb('g.organisation', 'ilike', like),
          eb('g.title', 'ilike', like),
          eb('g.email', 'ilike', like),
          eb(sql<string>`jsonb_path_query_array(${sql.ref('g.names')}, '$.*.*')::text`, 'ilike', like),
        ]),
      );
    }
    if (q.country === 'none') where.push(eb('g.country', 'is', null));
    else if (q.country) where.push(eb('g.country', '=', q.country.toUpperCase()));
    if (q.kind) where.push(eb('g.kind', '=', q.kind));
    if (q.language) where.push(eb('g.language', '=', q.language));
    if (status === 'DISABLED') where.push(eb('g.disabled_at', 'is not', null));
    else if (status !== 'ALL') where.push(eb('g.disabled_at', 'is', null));
    if (status === ContactStatus.OK || status === ContactStatus.STALE) where.push(eb('g.contact_status', '=', status));
    return eb.and(where);
  });
  const total = await query
    .clearSelect()
    .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('n'))
    .executeTakeFirstOrThrow();
  const rows = await query
    .orderBy('g.country', (ob) => ob.asc().nullsFirst())
    .orderBy('g.name')
    .orderBy('g.id')
    .limit(q.limit)
    .offset(q.offset)
    .execute();
  return { targets: rows.map(toView), total: total.n };
}

export async function getTarget(db: Queryable, id: string): Promise<TargetView> {
  const row = await selectTargets(db).where('g.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('target_not_found', 'No such target');
  return toView(row);
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

/** The columns a target's input sets, on creation and on every edit. */
function columns(input: TargetInput) {
  const hours = parseOfficeHours(input.officeHours)!;
  return {
    name: input.name,
    title: input.title,
    organisation: input.organisation,
    kind: input.kind,
    country: input.country,
    email: input.email,
    language: input.language,
    timezone: input.timezone,
    office_opens_at: hours.opensAt,
    office_closes_at: hours.closesAt,
    salutation: input.salutation,
    // left out of the input (an import without those columns): kept as they are
    ...(input.names !== undefined ? { names: JSON.stringify(input.names) } : {}),
    ...(input.nameIsOfficial !== undefined ? { name_is_official: input.nameIsOfficial } : {}),
    last_verified_at: input.lastVerifiedAt ? new Date(`${input.lastVerifiedAt}T00:00:00Z`) : null,
    notes: input.notes,
  };
}

async function insertTarget(tx: pg.PoolClient, input: TargetInput, now: Date): Promise<string> {
  const slug = input.slug ?? slugFrom(input.name);
  const row = await qb(tx)
    .insertInto('targets')
    .values({ slug, ...columns(input), created_at: now, updated_at: now })
    .onConflict((oc) => oc.column('slug').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) throw conflict('slug_taken', `A target with the slug "${slug}" exists`);
  return row.id;
}

async function updateTarget(tx: pg.PoolClient, id: string, input: TargetInput, now: Date): Promise<void> {
  await qb(tx)
    .updateTable('targets')
    .set({ ...columns(input), updated_at: now })
    .where('id', '=', id)
    .execute();
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
  const locked = await qb(tx).selectFrom('targets').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
  if (!locked) throw notFound('target_not_found', 'No such target');
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
      const live = before.actions.filter((a) => a.status === ActionStatus.PUBLISHED);
      if (live.length) {
        throw conflict('target_in_use', `Remove this target from the published actions first: ${live.map((a) => a.slug).join(', ')}`);
      }
    }
    await qb(tx)
      .updateTable('targets')
      .set({ disabled_at: disabled ? deps.clock() : null, updated_at: deps.clock() })
      .where('id', '=', id)
      .execute();
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
      const found = await qb(tx)
        .selectFrom('targets')
        .select('id')
        .where((eb) => eb(eb.fn('lower', ['email']), '=', eb.fn('lower', [eb.val(input.email)])))
        .orderBy('created_at')
        .forUpdate()
        .execute();
      if (found.length > 1) {
        throw new AppError(422, 'csv_invalid', `Line ${line}: ${input.email} belongs to ${found.length} targets; edit them in the directory`, {}, [
          { path: `line ${line}: email`, message: `belongs to ${found.length} targets in the directory` },
        ]);
      }
      if (!found[0]) {
        const id = await insertTarget(tx, input, deps.clock());
        const after = await getTarget(tx, id);
        await recordAudit(tx, { staffId, verb: 'import_create', entity: 'target', entityId: id, after: auditView(after), at: deps.clock() });
        created++;
        continue;
      }
      const id = found[0].id;
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
  const rows = await selectTargets(db)
    .orderBy('g.country', (ob) => ob.asc().nullsFirst())
    .orderBy('g.name')
    .orderBy('g.id')
    .execute();
  return rows.map(toView);
}
