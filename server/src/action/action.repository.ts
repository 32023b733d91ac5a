import { sql } from 'kysely';
import type pg from 'pg';
import { qb } from '../db/db.ts';
import type { ActionKind, ActionStatus } from '../generated/kysely/enums.ts';
import { ledgerOf, type LedgerEntry } from '../delivery/ledger.ts';

export interface ActionTextRow {
  locale: string;
  title: string;
  summary: string;
  body: string;
  letterSubject: string;
  letterBody: string;
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
  targetMode: 'FIXED' | 'BY_SIGNER_COUNTRY';
  allowPersonalisation: boolean;
  maxLetterLength: number;
  publishedAt: Date | null;
  campaign: { slug: string; names: Record<string, string> };
  texts: ActionTextRow[];
  targets: { name: string; title: string; organisation: string; country: string | null; language: string; salutation: string }[];
  /**
   * recent confirmed signers who chose to be shown: first name, country and the day (YYYY-MM-DD)
   * only, from the day after they signed (see loadPublicActions)
   */
  wall: { firstName: string; country: string; at: string }[];
  /** officials' answers that staff have published */
  responses: {
    id: string;
    target: { name: string; title: string; organisation: string };
    /** the public summary staff wrote, or the answer itself */
    body: string;
    publishedAt: string;
    attachments: { id: string; filename: string; size: number }[];
  }[];
  /** proof of delivery: the latest letters and what became of them (delivery/ledger.ts) */
  ledger: LedgerEntry[];
}

/**
 * Every action that the public may see (published or closed), with texts and targets.
 *
 * The wall lists signers who chose to be shown, with the day of their signature only, and only
 * from the day after it (UTC): a wall that showed a name the moment it was confirmed would tell
 * anyone watching the page the time of that person's signature (promise 6). Within a day,
 * entries are in the order of their names, not of their confirmations.
 */
export async function loadPublicActions(pool: pg.Pool, countryMin: number): Promise<ActionRow[]> {
  const { rows } = await sql<{
    id: string;
    slug: string;
    kind: ActionKind;
    status: ActionStatus;
    default_locale: string;
    goal: number;
    signing_enabled: boolean;
    signing_paused_all: boolean;
    target_mode: 'FIXED' | 'BY_SIGNER_COUNTRY';
    allow_personalisation: boolean;
    max_letter_length: number;
    published_at: Date | null;
    campaign_slug: string;
    campaign_names: Record<string, string>;
    texts: ActionTextRow[];
    targets: ActionRow['targets'] | null;
    wall: ActionRow['wall'] | null;
    responses: ActionRow['responses'] | null;
    ledger: LedgerEntry[] | null;
  }>`SELECT a.id, a.slug, a.kind, a.status, a.default_locale, a.goal, a.signing_enabled, a.target_mode,
            COALESCE((SELECT p.value = 'true'::jsonb FROM platform_settings p WHERE p.key = 'signing_paused'), false) AS signing_paused_all,
            a.allow_personalisation, a.max_letter_length, a.published_at,
            c.slug AS campaign_slug,
            (SELECT json_object_agg(ct.locale, ct.name) FROM campaign_texts ct WHERE ct.campaign_id = c.id) AS campaign_names,
            (SELECT json_agg(json_build_object('locale', t.locale, 'title', t.title, 'summary', t.summary, 'body', t.body,
                     'letterSubject', t.letter_subject, 'letterBody', t.letter_body, 'shareText', t.share_text))
               FROM action_texts t WHERE t.action_id = a.id) AS texts,
            (SELECT json_agg(json_build_object('name', g.name, 'title', g.title, 'organisation', g.organisation,
                     'country', g.country, 'language', g.language, 'salutation', g.salutation) ORDER BY at.position, g.name)
               FROM action_targets at JOIN targets g ON g.id = at.target_id WHERE at.action_id = a.id) AS targets,
            (SELECT json_agg(json_build_object('firstName', w.first_name, 'country', w.country, 'at', w.day) ORDER BY w.day DESC, w.first_name, w.country)
               FROM (SELECT p.first_name, s.country, to_char(s.confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
                     FROM signatures s JOIN supporters p ON p.id = s.supporter_id
                     WHERE s.action_id = a.id AND s.status = 'CONFIRMED' AND s.public_wall AND s.wall_hidden_at IS NULL
                       AND p.erased_at IS NULL AND p.first_name IS NOT NULL
                       AND s.confirmed_at < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                     ORDER BY s.confirmed_at DESC LIMIT 20) w) AS wall,
            (SELECT json_agg(json_build_object('id', r.id, 'target', json_build_object('name', g.name, 'title', g.title, 'organisation', g.organisation),
                     'body', COALESCE(NULLIF(r.public_summary, ''), r.body), 'publishedAt', r.published_at,
                     'attachments', COALESCE((SELECT json_agg(json_build_object('id', x.id, 'filename', x.filename, 'size', x.size) ORDER BY x.created_at)
                                              FROM answer_attachments x WHERE x.answer_id = r.id), '[]')) ORDER BY r.published_at DESC)
               FROM answers r JOIN targets g ON g.id = r.target_id WHERE r.action_id = a.id AND r.status = 'PUBLISHED') AS responses,
            ${ledgerOf(sql.ref('a.id'), { targetMode: sql.ref('a.target_mode'), countryMin })} AS ledger
     FROM actions a JOIN campaigns c ON c.id = a.campaign_id
     WHERE a.status IN ('PUBLISHED', 'CLOSED')
     ORDER BY a.published_at DESC NULLS LAST, a.slug`.execute(qb(pool));
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
    wall: r.wall ?? [],
    responses: r.responses ?? [],
    ledger: r.ledger ?? [],
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
  const { rows } = await pool.query<{ action_id: string; count: number }>(
    `WITH tail AS (
       SELECT action_id, count(*)::int AS n FROM signatures
       WHERE status = 'CONFIRMED' AND counted_at IS NULL GROUP BY action_id
     )
     SELECT action_id, sum(n)::int AS count FROM (
       SELECT action_id, confirmed_count AS n FROM action_stats
       UNION ALL SELECT action_id, n FROM tail
     ) a GROUP BY action_id`,
  );
  return rows.map((r) => ({ actionId: r.action_id, count: r.count }));
}

/**
 * The public counts by country: every action's confirmed signatures by country, as they were
 * at the start of the day `before` (UTC midnight). Public counts by country change once a day,
 * so that a country's count going up the moment someone confirms never dates that person's
 * signature (promise 6). The live total is not by country and stays live.
 */
export async function loadCountriesBefore(pool: pg.Pool, before: Date): Promise<Map<string, { country: string; count: number }[]>> {
  const { rows } = await pool.query<{ action_id: string; country: string; count: number }>(
    `SELECT s.action_id, s.country, count(*)::int AS count
     FROM signatures s JOIN actions a ON a.id = s.action_id
     WHERE a.status IN ('PUBLISHED', 'CLOSED') AND s.status = 'CONFIRMED' AND s.confirmed_at < $1
     GROUP BY s.action_id, s.country`,
    [before],
  );
  const byAction = new Map<string, { country: string; count: number }[]>();
  for (const r of rows) {
    let list = byAction.get(r.action_id);
    if (!list) byAction.set(r.action_id, (list = []));
    list.push({ country: r.country, count: r.count });
  }
  return byAction;
}
