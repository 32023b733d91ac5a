import type pg from 'pg';
import { ACKNOWLEDGEMENT_MARK } from '../shared/acknowledgement.ts';
import { sql } from 'kysely';
import { jsonBuildObject } from 'kysely/helpers/postgres';
import { ActionStatus, qb, AnswerStatus, SignatureStatus, type ActionKind, type TargetMode } from '../db/db.ts';
import { ledgerOf, type LedgerEntry } from '../delivery/ledger.ts';
import { thresholdsOf, type ThresholdRow } from '../delivery/threshold.service.ts';
import { updatesOf, type UpdateRow } from './update.service.ts';
import { openName, supporterKey } from '../privacy/personal-data.ts';

export interface ActionTextRow {
  locale: string;
  title: string;
  summary: string;
  body: string;
  letterSubject: string;
  /** what officials receive: a petition's demand (not shown on its page), or the letter of a
   * letter action (shown on its page, and the draft its signers start from) */
  officialRequest: string;
  shareText: string;
}

export interface ActionRow {
  id: string;
  slug: string;
  kind: ActionKind;
  status: ActionStatus;
  defaultLocale: string;
  goal: number;
  signingEnabled: boolean;
  /** the platform-wide kill switch (platform_settings "signing_paused") is on */
  signingPausedAll: boolean;
  targetMode: TargetMode;
  allowPersonalisation: boolean;
  maxLetterLength: number;
  publishedAt: Date | null;
  campaign: { slug: string; names: Record<string, string> };
  texts: ActionTextRow[];
  /** `names`, `nameIsOfficial`: the name in other languages (target/target-names.ts) */
  targets: { name: string; title: string; organisation: string; country: string | null; language: string; salutation: string; names: unknown; nameIsOfficial: boolean }[];
  /**
   * recent confirmed signers who chose to be shown: first name, country and the day (YYYY-MM-DD)
   * only, from the day after they signed (see loadPublicActions)
   */
  wall: { firstName: string; country: string; at: string }[];
  /** officials' answers that staff have published */
  responses: {
    id: string;
    target: { name: string; title: string; organisation: string; language: string; names: unknown; nameIsOfficial: boolean };
    /** the public summary staff wrote, or the answer itself */
    body: string;
    /** the language of `body`: the official's language for their own answer, the action's default language for a summary by staff */
    locale: string;
    /** `body` is a summary staff wrote, not the official's own words */
    summary: boolean;
    /** an acknowledgement of receipt, not an answer */
    acknowledgement: boolean;
    publishedAt: string;
    attachments: { id: string; filename: string; size: number }[];
  }[];
  /** proof of delivery: the latest letters and what became of them (delivery/ledger.ts) */
  ledger: LedgerEntry[];
  /** days a target has to answer once a threshold is reached */
  respondWithinDays: number;
  /** counted signatures collected on paper (action/paper.service.ts): in `count`, shown apart */
  paperCount: number;
  /** answers owed by a date (delivery/threshold.service.ts) */
  thresholds: ThresholdRow[];
  /** case updates, newest first (action/update.service.ts) */
  updates: UpdateRow[];
}

/**
 * The wall's entries with their first names opened (each under its supporter's data key), in
 * the order the page shows them: newest day first, then by name and country.
 */
function openWall(rows: { supporterId: string; dataKey: string | null; name: string | null; country: string; at: string }[]): ActionRow['wall'] {
  return rows
    .flatMap((w) => {
      const key = w.dataKey ? supporterKey(w.supporterId, Buffer.from(w.dataKey, 'base64')) : null;
      const firstName = w.name ? openName(key, w.supporterId, Buffer.from(w.name, 'base64')).first : null;
      return firstName ? [{ firstName, country: w.country, at: w.at }] : [];
    })
    .sort((a, b) => b.at.localeCompare(a.at) || a.firstName.localeCompare(b.firstName) || a.country.localeCompare(b.country));
}

/** The start of today in UTC: the days of the wall and of the public ledger are UTC days. */
const startOfTodayUtc = sql<Date>`date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;

/**
 * Every action that the public may see (published or closed), with texts and targets.
 *
 * The wall lists signers who chose to be shown, with the day of their signature only, and only
 * from the day after it (UTC): a wall that showed a name the moment it was confirmed would tell
 * anyone watching the page the time of that person's signature (promise 6). Within a day,
 * entries are in the order of their names, not of their confirmations.
 */
export async function loadPublicActions(pool: pg.Pool, countryMin: number): Promise<ActionRow[]> {
  const rows = await qb(pool)
    .selectFrom('actions as a')
    .innerJoin('campaigns as c', 'c.id', 'a.campaign_id')
    .select((eb) => [
      'a.id',
      'a.slug',
      'a.kind',
      'a.status',
      'a.default_locale',
      'a.goal',
      'a.signing_enabled',
      'a.target_mode',
      eb.fn
        .coalesce(
          eb
            .selectFrom('platform_settings as p')
            .select(sql<boolean>`${sql.ref('p.value')} = 'true'::jsonb`.as('paused'))
            .where('p.key', '=', 'signing_paused'),
          eb.lit(false),
        )
        .as('signing_paused_all'),
      'a.allow_personalisation',
      'a.max_letter_length',
      'a.published_at',
      'c.slug as campaign_slug',
      eb
        .selectFrom('campaign_texts as ct')
        .select((eb) => eb.fn<Record<string, string>>('json_object_agg', ['ct.locale', 'ct.name']).as('names'))
        .whereRef('ct.campaign_id', '=', 'c.id')
        .as('campaign_names'),
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
            .as('texts'),
        )
        .whereRef('t.action_id', '=', 'a.id')
        .as('texts'),
      eb
        .selectFrom('action_targets as at')
        .innerJoin('targets as g', 'g.id', 'at.target_id')
        .select((eb) =>
          eb.fn
            .jsonAgg(
              jsonBuildObject({
                name: eb.ref('g.name'),
                title: eb.ref('g.title'),
                organisation: eb.ref('g.organisation'),
                country: eb.ref('g.country'),
                language: eb.ref('g.language'),
                salutation: eb.ref('g.salutation'),
                names: eb.ref('g.names'),
                nameIsOfficial: eb.ref('g.name_is_official'),
              }),
            )
            .orderBy('at.position')
            .orderBy('g.name')
            .as('targets'),
        )
        .whereRef('at.action_id', '=', 'a.id')
        .as('targets'),
      eb
        .selectFrom(
          eb
            .selectFrom('signatures as s')
            .innerJoin('supporters as p', 'p.id', 's.supporter_id')
            // the name is sealed: the entry carries it with the supporter's wrapped data key, and
            // is opened once the query is back (openWall), never in SQL
            .select(['s.supporter_id', 'p.data_key', 'p.name', 's.country', sql<string>`to_char(${sql.ref('s.confirmed_at')} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`.as('day')])
            .whereRef('s.action_id', '=', 'a.id')
            .where('s.status', '=', SignatureStatus.CONFIRMED)
            .where((eb) => eb.ref('s.public_wall'))
            .where('s.wall_hidden_at', 'is', null)
            .where('p.erased_at', 'is', null)
            .where('p.name', 'is not', null)
            .where('s.confirmed_at', '<', startOfTodayUtc)
            .orderBy('s.confirmed_at', 'desc')
            .limit(20)
            .as('w'),
        )
        .select((eb) =>
          eb.fn
            .jsonAgg(
              jsonBuildObject({
                supporterId: eb.ref('w.supporter_id'),
                // bytea in JSON: "\\x" and hex digits
                dataKey: sql<string>`encode(${eb.ref('w.data_key')}, 'base64')`,
                name: sql<string>`encode(${eb.ref('w.name')}, 'base64')`,
                country: eb.ref('w.country'),
                at: eb.ref('w.day'),
              }),
            )
            .orderBy('w.day', 'desc')
            .orderBy('w.country')
            .as('wall'),
        )
        .as('wall'),
      eb
        .selectFrom('answers as r')
        .innerJoin('targets as g', 'g.id', 'r.target_id')
        .select((eb) =>
          eb.fn
            .jsonAgg(
              jsonBuildObject({
                id: eb.ref('r.id'),
                target: jsonBuildObject({
                  name: eb.ref('g.name'),
                  title: eb.ref('g.title'),
                  organisation: eb.ref('g.organisation'),
                  language: eb.ref('g.language'),
                  names: eb.ref('g.names'),
                  nameIsOfficial: eb.ref('g.name_is_official'),
                }),
                // the public summary staff wrote, or the answer itself (an acknowledgement without
                // the mark that tells staff what it is: the page says so in the reader's language)
                body: eb.fn.coalesce(
                  eb.fn<string | null>('nullif', [eb.ref('r.public_summary'), sql.lit('')]),
                  sql<string>`CASE WHEN starts_with(${eb.ref('r.body')}, ${ACKNOWLEDGEMENT_MARK}) THEN ltrim(substr(${eb.ref('r.body')}, ${ACKNOWLEDGEMENT_MARK.length + 1}), E'\n') ELSE ${eb.ref('r.body')} END`,
                ),
                acknowledgement: sql<boolean>`starts_with(${eb.ref('r.body')}, ${ACKNOWLEDGEMENT_MARK})`,
                // its language: the official's for their own words, the action's default language for staff's summary
                locale: sql<string>`CASE WHEN COALESCE(${eb.ref('r.public_summary')}, '') <> '' THEN ${eb.ref('a.default_locale')} ELSE ${eb.ref('g.language')} END`,
                summary: sql<boolean>`COALESCE(${eb.ref('r.public_summary')}, '') <> ''`,
                publishedAt: eb.ref('r.published_at').$notNull(),
                attachments: eb.fn.coalesce(
                  eb
                    .selectFrom('answer_attachments as x')
                    .select((eb) =>
                      eb.fn
                        .jsonAgg(jsonBuildObject({ id: eb.ref('x.id'), filename: eb.ref('x.filename'), size: eb.ref('x.size') }))
                        .orderBy('x.created_at')
                        .as('attachments'),
                    )
                    .whereRef('x.answer_id', '=', 'r.id')
                    .$asScalar(),
                  sql<never[]>`'[]'`,
                ),
              }),
            )
            .orderBy('r.published_at', 'desc')
            .as('responses'),
        )
        .whereRef('r.action_id', '=', 'a.id')
        .where('r.status', '=', AnswerStatus.PUBLISHED)
        .as('responses'),
      ledgerOf(eb.ref('a.id'), { targetMode: eb.ref('a.target_mode'), countryMin }).as('ledger'),
      'a.respond_within_days',
      (eb) => eb.fn.coalesce(eb.selectFrom('action_stats as st').select('st.paper_count').whereRef('st.action_id', '=', 'a.id'), eb.lit(0)).as('paper_count'),
      thresholdsOf(eb.ref('a.id')).as('thresholds'),
      updatesOf(eb.ref('a.id')).as('updates'),
    ])
    .where('a.status', 'in', [ActionStatus.PUBLISHED, ActionStatus.CLOSED])
    .orderBy('a.published_at', (ob) => ob.desc().nullsLast())
    .orderBy('a.slug')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    slug: r.slug,
    kind: r.kind,
    status: r.status,
    defaultLocale: r.default_locale,
    goal: r.goal,
    signingEnabled: r.signing_enabled,
    signingPausedAll: r.signing_paused_all,
    targetMode: r.target_mode,
    allowPersonalisation: r.allow_personalisation,
    maxLetterLength: r.max_letter_length,
    publishedAt: r.published_at,
    campaign: { slug: r.campaign_slug, names: r.campaign_names ?? {} },
    texts: r.texts ?? [],
    targets: r.targets ?? [],
    wall: openWall(r.wall ?? []),
    responses: r.responses ?? [],
    ledger: r.ledger ?? [],
    respondWithinDays: r.respond_within_days,
    paperCount: r.paper_count,
    thresholds: r.thresholds ?? [],
    updates: r.updates ?? [],
  }));
}

export interface CountRow {
  actionId: string;
  count: number;
}

/**
 * The counts of every action: what the counter has folded into action_stats and
 * action_country_stats, plus the confirmations it has not folded yet (the partial index
 * signatures_to_count holds exactly those, so the tail is a small index scan). One statement,
 * so one snapshot: a fold that commits meanwhile is seen either wholly or not at all, and no
 * confirmation is counted twice or missed. A confirmation thus shows at the next refresh of
 * the cache (a quarter of a second), not after the next fold.
 */
export async function loadCounts(pool: pg.Pool): Promise<CountRow[]> {
  return qb(pool)
    .with('tail', (db) =>
      db
        .selectFrom('signatures')
        .select((eb) => ['action_id', eb.cast<number>(eb.fn.countAll(), 'integer').as('n')])
        .where('status', '=', SignatureStatus.CONFIRMED)
        .where('counted_at', 'is', null)
        .groupBy('action_id'),
    )
    .selectFrom((eb) =>
      eb
        .selectFrom('action_stats')
        // the public count holds the counted paper signatures too
        .select((eb) => ['action_id', eb('confirmed_count', '+', eb.ref('paper_count')).as('n')])
        .unionAll(eb.selectFrom('tail').select(['action_id', 'n']))
        .as('a'),
    )
    .select((eb) => ['a.action_id as actionId', eb.cast<number>(eb.fn.sum('a.n'), 'integer').as('count')])
    .groupBy('a.action_id')
    .execute();
}

/**
 * The public counts by country: every action's confirmed signatures by country, as they were
 * at the start of the day `before` (UTC midnight). Public counts by country change once a day,
 * so that a country's count going up the moment someone confirms never dates that person's
 * signature (promise 6). The live total is not by country and stays live.
 */
export async function loadCountriesBefore(pool: pg.Pool, before: Date): Promise<Map<string, { country: string; count: number }[]>> {
  const rows = await qb(pool)
    .selectFrom('signatures as s')
    .innerJoin('actions as a', 'a.id', 's.action_id')
    .select((eb) => ['s.action_id', 's.country', eb.cast<number>(eb.fn.countAll(), 'integer').as('count')])
    .where('a.status', 'in', [ActionStatus.PUBLISHED, ActionStatus.CLOSED])
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .where('s.confirmed_at', '<', before)
    .groupBy(['s.action_id', 's.country'])
    .execute();
  const byAction = new Map<string, { country: string; count: number }[]>();
  for (const r of rows) {
    let list = byAction.get(r.action_id);
    if (!list) byAction.set(r.action_id, (list = []));
    list.push({ country: r.country, count: r.count });
  }
  return byAction;
}
