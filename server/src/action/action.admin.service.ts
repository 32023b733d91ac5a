// Running actions from the staff console: create, edit texts per language, choose targets,
// move through the lifecycle (action.states.ts), the kill switches, and the letter preview.
// Every change is audited in its own transaction. The public ActionCache sees a change at
// its next refresh (every 2 s); the route refreshes this process's cache at once.
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';
import { composeLetter, letterSalutation } from '../letter/letter.service.ts';
import { countriesForOfficial } from '../letter/member-letter.ts';
import { letterLocale } from '../letter/letter-preview.service.ts';
import { recordAudit } from '../staff/audit.ts';
import { AppError, conflict, notFound } from '../shared/errors.ts';
import type { ActionStatus } from '../generated/kysely/enums.ts';
import { actionStates } from './action.states.ts';
import type {
  ActionDetailView,
  ActionSettingsInput,
  ActionTextInput,
  CreateActionInput,
} from './action.admin.schema.ts';

type Queryable = pg.Pool | pg.PoolClient;

export interface ActionAdminDeps {
  pool: pg.Pool;
  clock: () => Date;
}

export const SIGNING_PAUSED_KEY = 'signing_paused';

export async function isSigningPausedAll(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ paused: boolean }>(`SELECT value = 'true'::jsonb AS paused FROM platform_settings WHERE key = $1`, [SIGNING_PAUSED_KEY]);
  return rows[0]?.paused ?? false;
}

const LIST_SELECT = `SELECT a.id, a.slug, a.kind, a.status, a.default_locale AS "defaultLocale", a.goal, a.signing_enabled AS "signingEnabled",
       a.updated_at AS "updatedAt", c.slug AS campaign,
       COALESCE((SELECT t.title FROM action_texts t WHERE t.action_id = a.id ORDER BY (t.locale = a.default_locale) DESC, t.locale LIMIT 1), a.slug) AS title,
       ARRAY(SELECT t.locale FROM action_texts t WHERE t.action_id = a.id ORDER BY (t.locale = a.default_locale) DESC, t.locale) AS locales,
       COALESCE((SELECT s.confirmed_count FROM action_stats s WHERE s.action_id = a.id), 0) AS confirmed,
       (SELECT count(*)::int FROM signatures s WHERE s.action_id = a.id AND s.status = 'PENDING') AS pending,
       (SELECT count(*)::int FROM action_targets x WHERE x.action_id = a.id) AS "targetCount"
  FROM actions a JOIN campaigns c ON c.id = a.campaign_id`;

type ListRow = {
  id: string;
  slug: string;
  kind: 'PETITION' | 'LETTER';
  status: ActionStatus;
  defaultLocale: string;
  goal: number;
  signingEnabled: boolean;
  updatedAt: Date;
  campaign: string;
  title: string;
  locales: string[];
  confirmed: number;
  pending: number;
  targetCount: number;
};

export async function listActionsForStaff(db: Queryable, status?: ActionStatus) {
  const { rows } = await db.query<ListRow>(
    `${LIST_SELECT} ${status ? 'WHERE a.status = $1::"ActionStatus"' : ''}
     ORDER BY CASE a.status WHEN 'PUBLISHED' THEN 0 WHEN 'DRAFT' THEN 1 WHEN 'CLOSED' THEN 2 ELSE 3 END, a.updated_at DESC`,
    status ? [status] : [],
  );
  const counts = await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM actions GROUP BY status`);
  const statusCounts: Record<string, number> = { DRAFT: 0, PUBLISHED: 0, CLOSED: 0, ARCHIVED: 0 };
  for (const r of counts.rows) statusCounts[r.status] = r.n;
  const campaigns = await db.query<{ slug: string; name: string }>(
    `SELECT c.slug, COALESCE((SELECT ct.name FROM campaign_texts ct WHERE ct.campaign_id = c.id ORDER BY (ct.locale = 'en') DESC LIMIT 1), c.slug) AS name
       FROM campaigns c ORDER BY c.created_at`,
  );
  return { actions: rows, statusCounts, signingPausedAll: await isSigningPausedAll(db), campaigns: campaigns.rows };
}

export async function getActionForStaff(db: Queryable, id: string): Promise<ActionDetailView> {
  const { rows } = await db.query<
    ListRow & {
      milestones: number[];
      targetMode: 'FIXED' | 'BY_SIGNER_COUNTRY';
      allowPersonalisation: boolean;
      maxLetterLength: number;
      replyTo: string | null;
      deliveryPolicy: string;
      deliveryEveryN: number;
      deliveryPaused: boolean;
      publishedAt: Date | null;
      closedAt: Date | null;
      archivedAt: Date | null;
      createdAt: Date;
      texts: ActionDetailView['texts'] | null;
      targets: ActionDetailView['targets'] | null;
    }
  >(
    `SELECT x.*, a.milestones, a.target_mode AS "targetMode", a.allow_personalisation AS "allowPersonalisation",
            a.max_letter_length AS "maxLetterLength", a.reply_to AS "replyTo", a.delivery_policy AS "deliveryPolicy",
            a.delivery_every_n AS "deliveryEveryN", a.delivery_paused AS "deliveryPaused", a.published_at AS "publishedAt",
            a.closed_at AS "closedAt", a.archived_at AS "archivedAt", a.created_at AS "createdAt",
            (SELECT json_agg(json_build_object('locale', t.locale, 'title', t.title, 'summary', t.summary, 'body', t.body,
                     'letterSubject', t.letter_subject, 'letterBody', t.letter_body, 'shareText', t.share_text)
                     ORDER BY (t.locale = a.default_locale) DESC, t.locale)
               FROM action_texts t WHERE t.action_id = a.id) AS texts,
            (SELECT json_agg(json_build_object('id', g.id, 'name', g.name, 'title', g.title, 'organisation', g.organisation, 'kind', g.kind,
                     'country', g.country, 'email', g.email, 'language', g.language, 'contactStatus', g.contact_status,
                     'disabled', g.disabled_at IS NOT NULL) ORDER BY at.position, g.name)
               FROM action_targets at JOIN targets g ON g.id = at.target_id WHERE at.action_id = a.id) AS targets
       FROM (${LIST_SELECT} WHERE a.id = $1) x JOIN actions a ON a.id = x.id`,
    [id],
  );
  const r = rows[0];
  if (!r) throw notFound('action_not_found', 'No such action');
  return {
    ...r,
    texts: r.texts ?? [],
    targets: r.targets ?? [],
    signingPausedAll: await isSigningPausedAll(db),
    nextStatuses: actionStates.transitions[r.status].slice(),
  };
}

/** The audited shape of an action: its settings, texts and target ids, without counts. */
function auditView(a: ActionDetailView) {
  return {
    slug: a.slug,
    kind: a.kind,
    status: a.status,
    defaultLocale: a.defaultLocale,
    goal: a.goal,
    milestones: a.milestones,
    signingEnabled: a.signingEnabled,
    targetMode: a.targetMode,
    allowPersonalisation: a.allowPersonalisation,
    maxLetterLength: a.maxLetterLength,
    replyTo: a.replyTo,
    texts: a.texts,
    targetIds: a.targets.map((t) => t.id),
  };
}

/** Runs a change on a locked action and audits it with the action before and after. */
async function change(
  deps: ActionAdminDeps,
  staffId: string,
  id: string,
  verb: string,
  fn: (tx: pg.PoolClient, before: ActionDetailView) => Promise<void>,
  opts: { allowArchived?: boolean } = {},
): Promise<ActionDetailView> {
  return inTransaction(deps.pool, async (tx) => {
    const locked = await tx.query('SELECT 1 FROM actions WHERE id = $1 FOR UPDATE', [id]);
    if (!locked.rowCount) throw notFound('action_not_found', 'No such action');
    const before = await getActionForStaff(tx, id);
    if (before.status === 'ARCHIVED' && !opts.allowArchived) throw conflict('action_archived', 'An archived action cannot be changed');
    await fn(tx, before);
    await tx.query('UPDATE actions SET updated_at = $2 WHERE id = $1', [id, deps.clock()]);
    const after = await getActionForStaff(tx, id);
    await recordAudit(tx, { staffId, verb, entity: 'action', entityId: id, before: auditView(before), after: auditView(after), at: deps.clock() });
    return after;
  });
}

export async function createActionForStaff(deps: ActionAdminDeps, staffId: string, input: CreateActionInput): Promise<ActionDetailView> {
  return inTransaction(deps.pool, async (tx) => {
    const campaign = await tx.query<{ id: string }>('SELECT id FROM campaigns WHERE slug = $1', [input.campaign]);
    if (!campaign.rows[0]) throw new AppError(422, 'campaign_not_found', `No campaign "${input.campaign}"`, {}, [{ path: 'campaign', message: 'is not an existing campaign' }]);
    const ins = await tx.query<{ id: string }>(
      `INSERT INTO actions (campaign_id, slug, kind, status, default_locale, goal, milestones, created_at, updated_at)
       VALUES ($1, $2, $3::"ActionKind", 'DRAFT', $4, $5, $6, $7, $7) ON CONFLICT (slug) DO NOTHING RETURNING id`,
      [campaign.rows[0].id, input.slug, input.kind, input.defaultLocale, input.goal, input.milestones, deps.clock()],
    );
    if (!ins.rows[0]) throw conflict('slug_taken', `An action with the slug "${input.slug}" exists`);
    const id = ins.rows[0].id;
    await tx.query(`INSERT INTO action_texts (action_id, locale, title, summary) VALUES ($1, $2, $3, $4)`, [id, input.defaultLocale, input.title, input.summary]);
    const after = await getActionForStaff(tx, id);
    await recordAudit(tx, { staffId, verb: 'create', entity: 'action', entityId: id, after: auditView(after), at: deps.clock() });
    return after;
  });
}

export function updateSettings(deps: ActionAdminDeps, staffId: string, id: string, input: ActionSettingsInput) {
  return change(deps, staffId, id, 'update_settings', async (tx, before) => {
    if (input.defaultLocale && !before.texts.some((t) => t.locale === input.defaultLocale)) {
      throw new AppError(422, 'validation_failed', `Write the ${input.defaultLocale} texts before making it the default language`, {}, [
        { path: 'defaultLocale', message: 'has no texts yet' },
      ]);
    }
    await tx.query(
      `UPDATE actions SET goal = COALESCE($2, goal), milestones = COALESCE($3, milestones), default_locale = COALESCE($4, default_locale),
              target_mode = COALESCE($5::"TargetMode", target_mode), allow_personalisation = COALESCE($6, allow_personalisation),
              max_letter_length = COALESCE($7, max_letter_length), reply_to = CASE WHEN $8 THEN $9 ELSE reply_to END
        WHERE id = $1`,
      [
        id,
        input.goal ?? null,
        input.milestones ?? null,
        input.defaultLocale ?? null,
        input.targetMode ?? null,
        input.allowPersonalisation ?? null,
        input.maxLetterLength ?? null,
        input.replyTo !== undefined,
        input.replyTo ?? null,
      ],
    );
  });
}

export function saveText(deps: ActionAdminDeps, staffId: string, id: string, locale: string, input: ActionTextInput) {
  return change(deps, staffId, id, 'update_text', async (tx) => {
    await tx.query(
      `INSERT INTO action_texts (action_id, locale, title, summary, body, letter_subject, letter_body, share_text)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (action_id, locale) DO UPDATE SET title = EXCLUDED.title, summary = EXCLUDED.summary, body = EXCLUDED.body,
         letter_subject = EXCLUDED.letter_subject, letter_body = EXCLUDED.letter_body, share_text = EXCLUDED.share_text`,
      [id, locale, input.title, input.summary, input.body, input.letterSubject, input.letterBody, input.shareText],
    );
  });
}

export function deleteText(deps: ActionAdminDeps, staffId: string, id: string, locale: string) {
  return change(deps, staffId, id, 'delete_text', async (tx, before) => {
    if (before.defaultLocale === locale) throw conflict('default_locale', 'The texts in the default language cannot be removed');
    const res = await tx.query('DELETE FROM action_texts WHERE action_id = $1 AND locale = $2', [id, locale]);
    if (!res.rowCount) throw notFound('text_not_found', `This action has no ${locale} texts`);
  });
}

export function setTargets(deps: ActionAdminDeps, staffId: string, id: string, targetIds: string[]) {
  return change(deps, staffId, id, 'set_targets', async (tx, before) => {
    const found = await tx.query<{ id: string; disabled: boolean }>('SELECT id, disabled_at IS NOT NULL AS disabled FROM targets WHERE id = ANY($1::uuid[])', [targetIds]);
    const byId = new Map(found.rows.map((r) => [r.id, r]));
    const keep = new Set(before.targets.map((t) => t.id));
    const issues = targetIds.flatMap((t, i) => {
      const row = byId.get(t);
      if (!row) return [{ path: `targetIds.${i}`, message: 'is not a target in the directory' }];
      // a disabled target may stay where it is, but is not added anywhere new
      if (row.disabled && !keep.has(t)) return [{ path: `targetIds.${i}`, message: 'is disabled in the directory' }];
      return [];
    });
    if (issues.length) throw new AppError(422, 'validation_failed', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {}, issues);
    await tx.query('DELETE FROM action_targets WHERE action_id = $1', [id]);
    if (targetIds.length) {
      await tx.query(
        `INSERT INTO action_targets (action_id, target_id, position) SELECT $1, t, p - 1 FROM unnest($2::uuid[]) WITH ORDINALITY AS u(t, p)`,
        [id, targetIds],
      );
    }
  });
}

/** What must be true before an action goes public. */
function publishProblems(a: ActionDetailView): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const main = a.texts.find((t) => t.locale === a.defaultLocale);
  if (!main) problems.push({ path: `texts.${a.defaultLocale}`, message: 'the default language has no texts' });
  if (a.kind === 'LETTER') {
    if (a.targets.length === 0) problems.push({ path: 'targets', message: 'a letter action needs at least one target' });
    for (const t of a.texts) {
      if (!t.letterSubject) problems.push({ path: `texts.${t.locale}.letterSubject`, message: 'the letter needs a subject' });
      if (!t.letterBody) problems.push({ path: `texts.${t.locale}.letterBody`, message: 'the letter needs a body' });
    }
  }
  for (const t of a.targets) if (t.disabled) problems.push({ path: 'targets', message: `${t.name} is disabled in the directory` });
  return problems;
}

const STAMP: Partial<Record<ActionStatus, string>> = {
  PUBLISHED: 'published_at = COALESCE(published_at, $3), closed_at = NULL',
  CLOSED: 'closed_at = $3',
  ARCHIVED: 'archived_at = $3',
};

/** Moves an action to `to` if the state machine allows it from where it is; the conditional UPDATE decides. */
export function transition(deps: ActionAdminDeps, staffId: string, id: string, to: 'PUBLISHED' | 'CLOSED' | 'ARCHIVED') {
  const verb = { PUBLISHED: 'publish', CLOSED: 'close', ARCHIVED: 'archive' }[to];
  return change(
    deps,
    staffId,
    id,
    verb,
    async (tx, before) => {
      if (!actionStates.can(before.status, to)) {
        throw conflict('invalid_transition', `A ${before.status.toLowerCase()} action cannot be moved to ${to.toLowerCase()}`);
      }
      if (to === 'PUBLISHED') {
        const problems = publishProblems(before);
        if (problems.length) throw new AppError(422, 'not_ready', `Not ready to publish: ${problems.map((p) => p.message).join('; ')}`, {}, problems);
      }
      const res = await tx.query(`UPDATE actions SET status = $2::"ActionStatus", ${STAMP[to]} WHERE id = $1 AND status = ANY($4::"ActionStatus"[])`, [
        id,
        to,
        deps.clock(),
        actionStates.sourcesOf(to),
      ]);
      if (res.rowCount !== 1) throw conflict('invalid_transition', 'The action changed meanwhile; reload and try again');
    },
    { allowArchived: false },
  );
}

export function setSigning(deps: ActionAdminDeps, staffId: string, id: string, enabled: boolean) {
  return change(deps, staffId, id, enabled ? 'resume_signing' : 'pause_signing', async (tx) => {
    await tx.query('UPDATE actions SET signing_enabled = $2 WHERE id = $1', [id, enabled]);
  });
}

/** The kill switch for every action at once. */
export async function setSigningPausedAll(deps: ActionAdminDeps, staffId: string, paused: boolean): Promise<{ pausedAll: boolean }> {
  return inTransaction(deps.pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [SIGNING_PAUSED_KEY]);
    const before = await isSigningPausedAll(tx);
    await tx.query(
      `INSERT INTO platform_settings (key, value, updated_at) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [SIGNING_PAUSED_KEY, JSON.stringify(paused), deps.clock()],
    );
    await recordAudit(tx, {
      staffId,
      verb: paused ? 'pause_signing_all' : 'resume_signing_all',
      entity: 'platform_setting',
      entityId: SIGNING_PAUSED_KEY,
      before: { paused: before },
      after: { paused },
      at: deps.clock(),
    });
    return { pausedAll: paused };
  });
}

/** A stand-in for the signed packet link, which is made for each delivery. */
export const PREVIEW_PACKET_URL = '(the signed link to this delivery’s packet, made when it is sent)';

/**
 * What each target would receive if everything confirmed so far were delivered now, with the
 * current texts, rendered by the delivery's own composeLetter(). Names and members' own
 * letters depend on who signed each delivery, so the preview carries none.
 */
export async function letterPreviewForStaff(db: Queryable, id: string, organisation: string, countryMin: number) {
  const a = await getActionForStaff(db, id);
  const countries = await db.query<{ country: string; n: number }>(
    `SELECT country, confirmed_count AS n FROM action_country_stats WHERE action_id = $1 AND confirmed_count > 0 ORDER BY confirmed_count DESC, country`,
    [id],
  );
  const targets = await db.query<{ id: string; salutation: string; title: string; name: string }>(
    `SELECT g.id, g.salutation, g.title, g.name FROM action_targets x JOIN targets g ON g.id = x.target_id WHERE x.action_id = $1`,
    [id],
  );
  const salutations = new Map(targets.rows.map((t) => [t.id, letterSalutation(t)]));
  const total = a.confirmed;
  const previews = a.targets.map((target) => {
    const locale = letterLocale(a, target.language);
    const text = a.texts.find((t) => t.locale === locale) ?? a.texts[0] ?? { title: a.slug, summary: '', body: '', letterSubject: '', letterBody: '' };
    // a BY_SIGNER_COUNTRY letter speaks only for the signers from the target's own country
    const rows = a.targetMode === 'BY_SIGNER_COUNTRY' ? countries.rows.filter((c) => c.country === target.country) : countries.rows;
    const newCount = a.targetMode === 'BY_SIGNER_COUNTRY' ? rows.reduce((n, c) => n + c.n, 0) : total;
    // the countries as this official would see them (member-letter.ts, countriesForOfficial);
    // consents are not read here, so every signer is taken as unnamed: the safe side
    const seen = countriesForOfficial(
      target.country,
      rows.map((c) => ({ country: c.country, namedDisclosure: false, namedToOwnCountry: false, hasName: false, count: c.n })),
      countryMin,
    );
    const mail = composeLetter({
      locale,
      text,
      salutation: salutations.get(target.id) ?? target.name,
      newCount,
      totalCount: total,
      countries: seen.countries.map((c) => c.country),
      countryNotShown: seen.notShown,
      names: [],
      memberLetters: [],
      organisation,
      packetUrl: PREVIEW_PACKET_URL,
    });
    return { target, locale: mail.locale, subject: mail.subject, text: mail.text };
  });
  return { sample: { newCount: total, totalCount: total }, previews };
}
