// Running actions from the staff console: create, edit texts per language, choose targets,
// move through the lifecycle (action.states.ts), the kill switches, and the letter preview.
// Every change is audited in its own transaction. The public ActionCache sees a change at
// its next refresh (every 2 s); the route refreshes this process's cache at once.
import type pg from 'pg';
import { sql, type Updateable } from 'kysely';
import { jsonBuildObject } from 'kysely/helpers/postgres';
import { ActionKind, ActionStatus, inTransaction, qb, SignatureStatus, TargetMode, type DB, type Queryable } from '../db/db.ts';
import { composeLetter, letterSalutation } from '../letter/letter.service.ts';
import { pickOfficialText } from '../letter/official-text.ts';
import { countriesForOfficial } from '../letter/member-letter.ts';
import { letterLocale } from '../letter/letter-preview.service.ts';
import { recordAudit } from '../staff/audit.ts';
import { AppError, conflict, notFound, type Issue } from '../shared/errors.ts';
import { actionStates } from './action.states.ts';
import type {
  ActionDetailView,
  ActionSettingsInput,
  ActionTextInput,
  CreateActionInput,
} from './action.admin.schema.ts';

export interface ActionAdminDeps {
  pool: pg.Pool;
  clock: () => Date;
}

export const SIGNING_PAUSED_KEY = 'signing_paused';

export async function isSigningPausedAll(db: Queryable): Promise<boolean> {
  const row = await qb(db)
    .selectFrom('platform_settings')
    .select(sql<boolean>`${sql.ref('value')} = 'true'::jsonb`.as('paused'))
    .where('key', '=', SIGNING_PAUSED_KEY)
    .executeTakeFirst();
  return row?.paused ?? false;
}

/** An action's row as the console lists it: settings, its title in the default language, counts. */
function listQuery(db: Queryable) {
  return qb(db)
    .selectFrom('actions as a')
    .innerJoin('campaigns as c', 'c.id', 'a.campaign_id')
    .select((eb) => [
      'a.id',
      'a.slug',
      'a.kind',
      'a.status',
      'a.default_locale as defaultLocale',
      'a.goal',
      'a.signing_enabled as signingEnabled',
      'a.updated_at as updatedAt',
      'c.slug as campaign',
      // the title in the default language, else in the first language that has one
      eb.fn
        .coalesce(
          eb
            .selectFrom('action_texts as t')
            .select('t.title')
            .whereRef('t.action_id', '=', 'a.id')
            .orderBy((eb) => eb('t.locale', '=', eb.ref('a.default_locale')), 'desc')
            .orderBy('t.locale')
            .limit(1),
          eb.ref('a.slug'),
        )
        .as('title'),
      sql<string[]>`array(${eb
        .selectFrom('action_texts as t')
        .select('t.locale')
        .whereRef('t.action_id', '=', 'a.id')
        .orderBy((eb) => eb('t.locale', '=', eb.ref('a.default_locale')), 'desc')
        .orderBy('t.locale')})`.as('locales'),
      eb.fn
        // the public count: the signatures counted from paper too
        .coalesce(eb.selectFrom('action_stats as s').select((x) => x('s.confirmed_count', '+', x.ref('s.paper_count')).as('n')).whereRef('s.action_id', '=', 'a.id'), eb.lit(0))
        .as('confirmed'),
      eb
        .selectFrom('signatures as s')
        .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('n'))
        .whereRef('s.action_id', '=', 'a.id')
        .where('s.status', '=', SignatureStatus.PENDING)
        .$asScalar()
        .as('pending'),
      eb
        .selectFrom('action_targets as x')
        .select((eb) => eb.cast<number>(eb.fn.countAll(), 'integer').as('n'))
        .whereRef('x.action_id', '=', 'a.id')
        .$asScalar()
        .as('targetCount'),
    ]);
}

export async function listActionsForStaff(db: Queryable, status?: ActionStatus) {
  const actions = await listQuery(db)
    .$if(status !== undefined, (q) => q.where('a.status', '=', status!))
    .orderBy((eb) =>
      eb
        .case('a.status')
        .when(ActionStatus.PUBLISHED)
        .then(eb.lit(0))
        .when(ActionStatus.DRAFT)
        .then(eb.lit(1))
        .when(ActionStatus.CLOSED)
        .then(eb.lit(2))
        .else(eb.lit(3))
        .end(),
    )
    .orderBy('a.updated_at', 'desc')
    .execute();
  const counts = await qb(db)
    .selectFrom('actions')
    .select((eb) => ['status', eb.cast<number>(eb.fn.countAll(), 'integer').as('n')])
    .groupBy('status')
    .execute();
  const statusCounts = Object.fromEntries(Object.values(ActionStatus).map((s) => [s, 0])) as Record<ActionStatus, number>;
  for (const r of counts) statusCounts[r.status] = r.n;
  const campaigns = await qb(db)
    .selectFrom('campaigns as c')
    .select((eb) => [
      'c.slug',
      eb.fn
        .coalesce(
          eb
            .selectFrom('campaign_texts as ct')
            .select('ct.name')
            .whereRef('ct.campaign_id', '=', 'c.id')
            .orderBy((eb) => eb('ct.locale', '=', 'en'), 'desc')
            .limit(1),
          eb.ref('c.slug'),
        )
        .as('name'),
    ])
    .orderBy('c.created_at')
    .execute();
  return { actions, statusCounts, signingPausedAll: await isSigningPausedAll(db), campaigns };
}

export async function getActionForStaff(db: Queryable, id: string): Promise<ActionDetailView> {
  const r = await listQuery(db)
    .select((eb) => [
      'a.milestones',
      'a.target_mode as targetMode',
      'a.allow_personalisation as allowPersonalisation',
      'a.max_letter_length as maxLetterLength',
      'a.reply_to as replyTo',
      'a.delivery_policy as deliveryPolicy',
      'a.delivery_every_n as deliveryEveryN',
      'a.delivery_paused as deliveryPaused',
      'a.published_at as publishedAt',
      'a.closed_at as closedAt',
      'a.archived_at as archivedAt',
      'a.created_at as createdAt',
      eb
        .selectFrom('action_texts as t')
        .select((eb) =>
          eb.fn
            .jsonAgg(
              jsonBuildObject({
                locale: eb.ref('t.locale'),
                title: eb.ref('t.title'),
                summary: eb.ref('t.summary'),
                body: eb.ref('t.body'),
                letterSubject: eb.ref('t.letter_subject'),
                officialRequest: eb.ref('t.official_request'),
                shareText: eb.ref('t.share_text'),
              }),
            )
            .orderBy(eb('t.locale', '=', eb.ref('a.default_locale')), 'desc')
            .orderBy('t.locale')
            .as('texts'),
        )
        .whereRef('t.action_id', '=', 'a.id')
        .as('texts'),
      // the campaign's name in each language it has one, for the console to show in its own
      eb
        .selectFrom('campaign_texts as ct')
        .select((eb) => eb.fn.jsonAgg(jsonBuildObject({ locale: eb.ref('ct.locale'), name: eb.ref('ct.name') })).orderBy('ct.locale').as('names'))
        .whereRef('ct.campaign_id', '=', 'c.id')
        .as('campaignNames'),
      eb
        .selectFrom('action_targets as at')
        .innerJoin('targets as g', 'g.id', 'at.target_id')
        .select((eb) =>
          eb.fn
            .jsonAgg(
              jsonBuildObject({
                id: eb.ref('g.id'),
                name: eb.ref('g.name'),
                title: eb.ref('g.title'),
                organisation: eb.ref('g.organisation'),
                kind: eb.ref('g.kind'),
                country: eb.ref('g.country'),
                email: eb.ref('g.email'),
                language: eb.ref('g.language'),
                contactStatus: eb.ref('g.contact_status'),
                disabled: eb('g.disabled_at', 'is not', null).$castTo<boolean>(),
              }),
            )
            .orderBy('at.position')
            .orderBy('g.name')
            .as('targets'),
        )
        .whereRef('at.action_id', '=', 'a.id')
        .as('targets'),
    ])
    .where('a.id', '=', id)
    .executeTakeFirst();
  if (!r) throw notFound('action_not_found', 'No such action');
  return {
    ...r,
    texts: r.texts ?? [],
    campaignNames: r.campaignNames ?? [],
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
    const locked = await qb(tx).selectFrom('actions').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!locked) throw notFound('action_not_found', 'No such action');
    const before = await getActionForStaff(tx, id);
    if (before.status === ActionStatus.ARCHIVED && !opts.allowArchived) throw conflict('action_archived', 'An archived action cannot be changed');
    await fn(tx, before);
    await qb(tx).updateTable('actions').set({ updated_at: deps.clock() }).where('id', '=', id).execute();
    const after = await getActionForStaff(tx, id);
    await recordAudit(tx, { staffId, verb, entity: 'action', entityId: id, before: auditView(before), after: auditView(after), at: deps.clock() });
    return after;
  });
}

export async function createActionForStaff(deps: ActionAdminDeps, staffId: string, input: CreateActionInput): Promise<ActionDetailView> {
  return inTransaction(deps.pool, async (tx) => {
    const campaign = await qb(tx).selectFrom('campaigns').select('id').where('slug', '=', input.campaign).executeTakeFirst();
    if (!campaign) throw new AppError(422, 'campaign_not_found', `No campaign "${input.campaign}"`, {}, [{ path: 'campaign', code: 'not_found', message: 'is not an existing campaign' }]);
    const now = deps.clock();
    const ins = await qb(tx)
      .insertInto('actions')
      .values({
        campaign_id: campaign.id,
        slug: input.slug,
        kind: input.kind,
        status: ActionStatus.DRAFT,
        default_locale: input.defaultLocale,
        goal: input.goal,
        milestones: input.milestones,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('slug').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!ins) throw conflict('slug_taken', `An action with the slug "${input.slug}" exists`);
    const id = ins.id;
    await qb(tx)
      .insertInto('action_texts')
      .values({ action_id: id, locale: input.defaultLocale, title: input.title, summary: input.summary })
      .execute();
    const after = await getActionForStaff(tx, id);
    await recordAudit(tx, { staffId, verb: 'create', entity: 'action', entityId: id, after: auditView(after), at: deps.clock() });
    return after;
  });
}

export function updateSettings(deps: ActionAdminDeps, staffId: string, id: string, input: ActionSettingsInput) {
  return change(deps, staffId, id, 'update_settings', async (tx, before) => {
    if (input.defaultLocale && !before.texts.some((t) => t.locale === input.defaultLocale)) {
      throw new AppError(422, 'validation_failed', `Write the ${input.defaultLocale} texts before making it the default language`, {}, [
        { path: 'defaultLocale', code: 'no_texts', message: 'has no texts yet' },
      ]);
    }
    // only what the input gives changes; the rest stays as it is
    const set: Updateable<DB['actions']> = {};
    if (input.goal !== undefined) set.goal = input.goal;
    if (input.milestones !== undefined) set.milestones = input.milestones;
    if (input.defaultLocale !== undefined) set.default_locale = input.defaultLocale;
    if (input.targetMode !== undefined) set.target_mode = input.targetMode;
    if (input.allowPersonalisation !== undefined) set.allow_personalisation = input.allowPersonalisation;
    if (input.maxLetterLength !== undefined) set.max_letter_length = input.maxLetterLength;
    if (input.replyTo !== undefined) set.reply_to = input.replyTo;
    if (Object.keys(set).length) await qb(tx).updateTable('actions').set(set).where('id', '=', id).execute();
  });
}

export function saveText(deps: ActionAdminDeps, staffId: string, id: string, locale: string, input: ActionTextInput) {
  return change(deps, staffId, id, 'update_text', async (tx) => {
    await qb(tx)
      .insertInto('action_texts')
      .values({
        action_id: id,
        locale,
        title: input.title,
        summary: input.summary,
        body: input.body,
        letter_subject: input.letterSubject,
        official_request: input.officialRequest,
        share_text: input.shareText,
      })
      .onConflict((oc) =>
        oc.columns(['action_id', 'locale']).doUpdateSet((eb) => ({
          title: eb.ref('excluded.title'),
          summary: eb.ref('excluded.summary'),
          body: eb.ref('excluded.body'),
          letter_subject: eb.ref('excluded.letter_subject'),
          official_request: eb.ref('excluded.official_request'),
          share_text: eb.ref('excluded.share_text'),
        })),
      )
      .execute();
  });
}

export function deleteText(deps: ActionAdminDeps, staffId: string, id: string, locale: string) {
  return change(deps, staffId, id, 'delete_text', async (tx, before) => {
    if (before.defaultLocale === locale) throw conflict('default_locale', 'The texts in the default language cannot be removed');
    const res = await qb(tx).deleteFrom('action_texts').where('action_id', '=', id).where('locale', '=', locale).executeTakeFirst();
    if (!res.numDeletedRows) throw notFound('text_not_found', `This action has no ${locale} texts`);
  });
}

export function setTargets(deps: ActionAdminDeps, staffId: string, id: string, targetIds: string[]) {
  return change(deps, staffId, id, 'set_targets', async (tx, before) => {
    const found = await qb(tx)
      .selectFrom('targets')
      .select((eb) => ['id', eb('disabled_at', 'is not', null).$castTo<boolean>().as('disabled')])
      .where((eb) => eb('id', '=', eb.fn.any(eb.val(targetIds))))
      .execute();
    const byId = new Map(found.map((r) => [r.id, r]));
    const keep = new Set(before.targets.map((t) => t.id));
    const issues = targetIds.flatMap((t, i) => {
      const row = byId.get(t);
      if (!row) return [{ path: `targetIds.${i}`, message: 'is not a target in the directory' }];
      // a disabled target may stay where it is, but is not added anywhere new
      if (row.disabled && !keep.has(t)) return [{ path: `targetIds.${i}`, message: 'is disabled in the directory' }];
      return [];
    });
    if (issues.length) throw new AppError(422, 'validation_failed', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {}, issues);
    await qb(tx).deleteFrom('action_targets').where('action_id', '=', id).execute();
    if (targetIds.length) {
      // in the order given: the letters' and the page's order
      await qb(tx)
        .insertInto('action_targets')
        .values(targetIds.map((targetId, position) => ({ action_id: id, target_id: targetId, position })))
        .execute();
    }
  });
}

/** What must be true before an action goes public. */
function publishProblems(a: ActionDetailView): Issue[] {
  const problems: Issue[] = [];
  const main = a.texts.find((t) => t.locale === a.defaultLocale);
  if (!main) problems.push({ path: `texts.${a.defaultLocale}`, code: 'no_texts', message: 'the default language has no texts' });
  if (a.kind === ActionKind.LETTER) {
    if (a.targets.length === 0) problems.push({ path: 'targets', code: 'required', message: 'a letter action needs at least one target' });
    for (const t of a.texts) {
      if (!t.letterSubject) problems.push({ path: `texts.${t.locale}.letterSubject`, code: 'required', message: 'the letter needs a subject' });
      if (!t.officialRequest.trim()) problems.push({ path: `texts.${t.locale}.officialRequest`, code: 'required', message: 'the letter needs its text' });
    }
  }
  for (const t of a.targets) if (t.disabled) problems.push({ path: 'targets', code: 'disabled', message: `${t.name} is disabled in the directory` });
  return problems;
}

/** The statuses staff move an action to (a draft is only ever where an action starts). */
export type TransitionTarget = Exclude<ActionStatus, typeof ActionStatus.DRAFT>;

const VERBS: Record<TransitionTarget, string> = {
  [ActionStatus.PUBLISHED]: 'publish',
  [ActionStatus.CLOSED]: 'close',
  [ActionStatus.ARCHIVED]: 'archive',
};

/** Moves an action to `to` if the state machine allows it from where it is; the conditional UPDATE decides. */
export function transition(deps: ActionAdminDeps, staffId: string, id: string, to: TransitionTarget) {
  const verb = VERBS[to];
  return change(
    deps,
    staffId,
    id,
    verb,
    async (tx, before) => {
      if (!actionStates.can(before.status, to)) {
        throw conflict('invalid_transition', `A ${before.status.toLowerCase()} action cannot be moved to ${to.toLowerCase()}`);
      }
      if (to === ActionStatus.PUBLISHED) {
        const problems = publishProblems(before);
        if (problems.length) throw new AppError(422, 'not_ready', `Not ready to publish: ${problems.map((p) => p.message).join('; ')}`, {}, problems);
      }
      const now = deps.clock();
      const res = await qb(tx)
        .updateTable('actions')
        .set((eb) => ({
          status: to,
          // the day it first went public stays; a reopened action is no longer closed
          ...(to === ActionStatus.PUBLISHED && { published_at: eb.fn.coalesce('published_at', eb.val(now)), closed_at: null }),
          ...(to === ActionStatus.CLOSED && { closed_at: now }),
          ...(to === ActionStatus.ARCHIVED && { archived_at: now }),
        }))
        .where('id', '=', id)
        .where((eb) => eb('status', '=', eb.fn.any(eb.val(actionStates.sourcesOf(to)))))
        .executeTakeFirst();
      if (res.numUpdatedRows !== 1n) throw conflict('invalid_transition', 'The action changed meanwhile; reload and try again');
    },
    { allowArchived: false },
  );
}

export function setSigning(deps: ActionAdminDeps, staffId: string, id: string, enabled: boolean) {
  return change(deps, staffId, id, enabled ? 'resume_signing' : 'pause_signing', async (tx) => {
    await qb(tx).updateTable('actions').set({ signing_enabled: enabled }).where('id', '=', id).execute();
  });
}

/** The kill switch for every action at once. */
export async function setSigningPausedAll(deps: ActionAdminDeps, staffId: string, paused: boolean): Promise<{ pausedAll: boolean }> {
  return inTransaction(deps.pool, async (tx) => {
    // one switch at a time, so the audit's "before" is the state this change replaced
    await qb(tx)
      .selectNoFrom((eb) => eb.fn('pg_advisory_xact_lock', [eb.fn('hashtext', [eb.val(SIGNING_PAUSED_KEY)])]).as('locked'))
      .execute();
    const before = await isSigningPausedAll(tx);
    await qb(tx)
      .insertInto('platform_settings')
      .values({ key: SIGNING_PAUSED_KEY, value: JSON.stringify(paused), updated_at: deps.clock() })
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ value: eb.ref('excluded.value'), updated_at: eb.ref('excluded.updated_at') })))
      .execute();
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

/**
 * What each target would receive if everything confirmed so far were delivered now, with the
 * current texts, rendered by the delivery's own composeLetter(). Names and members' own
 * letters depend on who signed each delivery, so the preview carries none.
 */
export async function letterPreviewForStaff(db: Queryable, id: string, organisation: string, countryMin: number) {
  const a = await getActionForStaff(db, id);
  const countries = await qb(db)
    .selectFrom('action_country_stats')
    .select(['country', 'confirmed_count as n'])
    .where('action_id', '=', id)
    .where('confirmed_count', '>', 0)
    .orderBy('confirmed_count', 'desc')
    .orderBy('country')
    .execute();
  const targets = await qb(db)
    .selectFrom('action_targets as x')
    .innerJoin('targets as g', 'g.id', 'x.target_id')
    .select(['g.id', 'g.salutation', 'g.title', 'g.name'])
    .where('x.action_id', '=', id)
    .execute();
  const salutations = new Map(targets.map((t) => [t.id, letterSalutation(t)]));
  const total = a.confirmed;
  const previews = a.targets.map((target) => {
    // the language the delivery would write this target's letter in (batch.service.ts), and
    // the texts it would carry (pickOfficialText): the request to officials, nothing else
    const wantedLocale = letterLocale(a, target.language);
    const picked = pickOfficialText(a.texts, wantedLocale, a.defaultLocale);
    const text = picked ?? { locale: wantedLocale, title: a.slug, letterSubject: '', officialRequest: '' };
    // a BY_SIGNER_COUNTRY letter speaks only for the signers from the target's own country
    const perCountry = a.targetMode === TargetMode.BY_SIGNER_COUNTRY;
    const rows = perCountry ? countries.filter((c) => c.country === target.country) : countries;
    const newCount = perCountry ? rows.reduce((n, c) => n + c.n, 0) : total;
    // the countries as this official would see them (member-letter.ts, countriesForOfficial);
    // consents are not read here, so every signer is taken as unnamed: the safe side
    const seen = countriesForOfficial(
      target.country,
      rows.map((c) => ({ country: c.country, namedDisclosure: false, namedToOwnCountry: false, hasName: false, count: c.n })),
      countryMin,
    );
    const mail = composeLetter({
      text: { locale: text.locale, title: text.title, letterSubject: text.letterSubject, officialRequest: text.officialRequest },
      salutation: salutations.get(target.id) ?? target.name,
      target: { language: target.language, title: targets.find((g) => g.id === target.id)?.title ?? '' },
      newCount,
      totalCount: total,
      countries: seen.countries.map((c) => c.country),
      countryNotShown: seen.notShown,
      names: [],
      memberLetters: [],
      organisation,
      packetUrl: '',
      preview: true,
    });
    return {
      target,
      locale: mail.locale,
      wantedLocale: target.language,
      requestMissing: text.officialRequest.trim() === '',
      subject: mail.subject,
      text: mail.text,
    };
  });
  return { sample: { newCount: total, totalCount: total }, previews };
}
