// Public reads of actions and their counts are served from memory: a background refresh
// reads all public actions every couple of seconds and the folded counts several times a
// second, so a storm of readers never turns into a storm of queries.
import type pg from 'pg';
import { DEFAULT_PUBLIC_COUNTRY_MIN } from '../config/config.ts';
import { ActionKind, ActionStatus } from '../db/db.ts';
import { loadCountriesBefore, loadCounts, loadPublicActions, type ActionRow, type CountRow } from './action.repository.ts';
import { publicLedger, type PublicLedgerEntry } from '../delivery/ledger.ts';
import { localTargetName, type LocalTargetName } from '../target/target-names.ts';
import { publicThresholds, type PublicThreshold } from '../delivery/threshold.service.ts';
import { publicUpdates, type PublicUpdate } from './update.service.ts';

export interface PublicActionSummary {
  slug: string;
  kind: ActionRow['kind'];
  status: ActionRow['status'];
  locale: string;
  title: string;
  summary: string;
  goal: number;
  count: number;
  /** of `count`, the signatures collected on paper */
  paperCount: number;
  signingOpen: boolean;
  campaign: { slug: string; name: string };
}

export interface PublicAction extends PublicActionSummary {
  body: string;
  letterSubject: string;
  letterBody: string;
  shareText: string;
  allowPersonalisation: boolean;
  maxLetterLength: number;
  availableLocales: string[];
  /** public counts by country (ActionCache.publicCountries): only countries with at least countryMin signers */
  countries: { country: string; count: number }[];
  /** the signers of the countries below countryMin, counted together */
  otherCountries: number;
  countryMin: number;
  targetMode: ActionRow['targetMode'];
  targets: ({ country: string | null } & LocalTargetName)[];
  wall: ActionRow['wall'];
  responses: (Omit<ActionRow['responses'][number], 'target'> & { target: LocalTargetName })[];
  ledger: (Omit<PublicLedgerEntry, 'target'> & { target: { name: string; organisation: string; locale: string; roleLocale: string } })[];
  /** days a target has to answer once a threshold is reached */
  respondWithinDays: number;
  /** answers owed by a date: per threshold, when it was reached, and per target whether it answered in time */
  thresholds: PublicThreshold[];
  /** case updates, newest first, each in the reader's language where it has it */
  updates: PublicUpdate[];
}

export interface ActionCacheOptions {
  actionsRefreshMs: number;
  countsRefreshMs: number;
  /** PUBLIC_COUNTRY_MIN: no public count shows a country with fewer signers (default 10) */
  countryMin?: number;
  /** the counts by country (as of the start of the day) are read again after this long, and at each new day (default 10 minutes) */
  countriesRefreshMs?: number;
  /** the clock that says which day it is (tests) */
  now?: () => number;
}

/** UTC midnight at the start of the day of `ms`. */
function startOfDay(ms: number): Date {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

export interface PublicCountries {
  /** countries with at least `min` signers, largest first */
  countries: { country: string; count: number }[];
  /** the signers of all the other countries, together */
  otherCountries: number;
  min: number;
}

/**
 * THE RULE of public counts by country (promise 6): a country with fewer than `min` signers is
 * never shown; its signers are counted together under "other countries". That bucket is shown
 * with its total even when it is below the minimum: it names no country, and the public total
 * already says how many signers the listed countries leave over.
 */
export function publicCountries(counts: { country: string; count: number }[], min: number): PublicCountries {
  const shown = counts.filter((c) => c.count >= min).sort((a, b) => b.count - a.count || a.country.localeCompare(b.country));
  const otherCountries = counts.reduce((n, c) => (c.count >= min ? n : n + c.count), 0);
  return { countries: shown, otherCountries, min };
}

export class ActionCache {
  private actions = new Map<string, ActionRow>();
  private counts = new Map<string, CountRow>();
  /** counts by country as of the start of `countriesDay` (loadCountriesBefore) */
  private dayCountries = new Map<string, { country: string; count: number }[]>();
  private countriesDay = 0;
  private countriesReadAt = 0;
  private countriesReading: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lastMissRefresh = 0;
  private loaded = false;
  /** when this process showed confirmations, since the last read of the counts began (see confirmed) */
  private recent: { actionId: string; at: number }[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: ActionCacheOptions = { actionsRefreshMs: 2_000, countsRefreshMs: 250 },
  ) {}

  async start(): Promise<void> {
    await this.refresh().catch(() => {});
    this.timers.push(
      // a tick while the last read is still under way (a busy database) is skipped: reads never
      // pile up behind each other, and an older read never lands after a newer one
      setInterval(() => void (this.actionsReading ?? this.refreshActions()).catch(() => {}), this.opts.actionsRefreshMs),
      setInterval(() => void (this.countsReading ?? this.refreshCounts()).catch(() => {}), this.opts.countsRefreshMs),
      // a new day, or a while since the last read: the counts by country are read again
      setInterval(() => {
        const now = this.now();
        if (this.countriesReading) return;
        if (startOfDay(now).getTime() !== this.countriesDay || now - this.countriesReadAt >= (this.opts.countriesRefreshMs ?? 600_000)) {
          void this.refreshCountries().catch(() => {});
        }
      }, Math.min(this.opts.actionsRefreshMs, 60_000)),
    );
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  /**
   * Reads actions and counts again (after a change by staff, say). The counts by country are read
   * only when they are of another day: they scan every confirmed signature, and they change once
   * a day anyway (refreshCountries reads them now).
   */
  async refresh(): Promise<void> {
    const countriesStale = startOfDay(this.now()).getTime() !== this.countriesDay;
    await Promise.all([this.refreshActions(), this.refreshCounts(), countriesStale ? this.refreshCountries() : undefined]);
  }

  now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Reads the counts by country (as of the start of today, UTC) now. */
  refreshCountries(): Promise<void> {
    const run = (this.countriesReading ?? Promise.resolve()).catch(() => {}).then(async () => {
      const now = this.now();
      const day = startOfDay(now);
      this.dayCountries = await loadCountriesBefore(this.pool, day);
      this.countriesDay = day.getTime();
      this.countriesReadAt = now;
    });
    const mine: Promise<void> = run.finally(() => {
      if (this.countriesReading === mine) this.countriesReading = null;
    });
    this.countriesReading = mine;
    return mine;
  }

  private actionsReading: Promise<void> | null = null;
  private countsReading: Promise<void> | null = null;

  /** One read at a time: a call during a read runs after it (so it sees what was true when called). */
  private refreshActions(): Promise<void> {
    const run = (this.actionsReading ?? Promise.resolve()).catch(() => {}).then(() => this.readActions());
    const mine: Promise<void> = run.finally(() => {
      if (this.actionsReading === mine) this.actionsReading = null;
    });
    this.actionsReading = mine;
    return mine;
  }

  private refreshCounts(): Promise<void> {
    const run = (this.countsReading ?? Promise.resolve()).catch(() => {}).then(() => this.readCounts());
    const mine: Promise<void> = run.finally(() => {
      if (this.countsReading === mine) this.countsReading = null;
    });
    this.countsReading = mine;
    return mine;
  }

  private async readActions(): Promise<void> {
    const rows = await loadPublicActions(this.pool, this.opts.countryMin ?? DEFAULT_PUBLIC_COUNTRY_MIN);
    this.actions = new Map(rows.map((r) => [r.slug, r]));
    this.loaded = true;
  }

  private async readCounts(): Promise<void> {
    const started = performance.now();
    const rows = await loadCounts(this.pool);
    const counts = new Map(rows.map((r) => [r.actionId, r]));
    // A confirmation shown before this read began is in what it read. One shown while it ran
    // may or may not be: for those actions the count never goes below what was shown (adding
    // them again could count one twice). The next read began after them and settles it.
    this.recent = this.recent.filter((c) => c.at > started);
    for (const actionId of new Set(this.recent.map((c) => c.actionId))) {
      const shown = this.counts.get(actionId);
      const read = counts.get(actionId);
      if (shown && shown.count > (read?.count ?? 0)) counts.set(actionId, { actionId, count: shown.count });
    }
    this.counts = counts;
  }

  /**
   * A signature of the action at `slug` was just confirmed (committed) by this process: its
   * count shows it at once, rather than at the next refresh. Other server processes show it
   * at their next refresh (a quarter of a second). The counts by country change only once a day.
   */
  confirmed(slug: string): void {
    const action = this.actions.get(slug);
    if (!action) return;
    this.recent.push({ actionId: action.id, at: performance.now() });
    this.counts.set(action.id, plusOne(this.counts.get(action.id), action.id));
  }

  /** The public count of an action as the API answers it (the route and the fast path alike). */
  publicCount(action: ActionRow): { slug: string; count: number; goal: number } {
    return { slug: action.slug, count: this.count(action.id), goal: action.goal };
  }

  /** The cached row as it is now, without a reload on a miss (the server's fast path for reads). */
  peek(slug: string): ActionRow | undefined {
    return this.actions.get(slug);
  }

  /** The cached row; on a miss, at most one reload a second (a just-published action). */
  async find(slug: string): Promise<ActionRow | undefined> {
    const hit = this.actions.get(slug);
    if (hit || Date.now() - this.lastMissRefresh < 1_000) return hit;
    this.lastMissRefresh = Date.now();
    await this.refreshActions();
    return this.actions.get(slug);
  }

  list(): ActionRow[] {
    return [...this.actions.values()];
  }

  count(actionId: string): number {
    return this.counts.get(actionId)?.count ?? 0;
  }

  /** The public counts by country of an action: as of the start of the day (UTC), merged below the minimum (publicCountries). */
  publicCountries(actionId: string): PublicCountries {
    return publicCountries(this.dayCountries.get(actionId) ?? [], this.opts.countryMin ?? DEFAULT_PUBLIC_COUNTRY_MIN);
  }
}

function plusOne(row: CountRow | undefined, actionId: string): CountRow {
  return { actionId, count: (row?.count ?? 0) + 1 };
}

export function isSigningOpen(a: ActionRow): boolean {
  return a.status === ActionStatus.PUBLISHED && a.signingEnabled && !a.signingPausedAll;
}

export function textFor(a: ActionRow, locale: string) {
  return a.texts.find((t) => t.locale === locale) ?? a.texts.find((t) => t.locale === a.defaultLocale) ?? a.texts[0];
}

export function toSummary(cache: ActionCache, a: ActionRow, locale: string): PublicActionSummary {
  const text = textFor(a, locale);
  return {
    slug: a.slug,
    kind: a.kind,
    status: a.status,
    locale: text?.locale ?? a.defaultLocale,
    title: text?.title ?? a.slug,
    summary: text?.summary ?? '',
    goal: a.goal,
    count: cache.count(a.id),
    paperCount: a.paperCount,
    signingOpen: isSigningOpen(a),
    campaign: { slug: a.campaign.slug, name: a.campaign.names[locale] ?? a.campaign.names[a.defaultLocale] ?? a.campaign.slug },
  };
}

export function toPublic(cache: ActionCache, a: ActionRow, locale: string): PublicAction {
  const text = textFor(a, locale);
  return {
    ...toSummary(cache, a, locale),
    body: text?.body ?? '',
    letterSubject: a.kind === ActionKind.LETTER ? (text?.letterSubject ?? '') : '',
    letterBody: a.kind === ActionKind.LETTER ? (text?.officialRequest ?? '') : '',
    shareText: text?.shareText ?? '',
    allowPersonalisation: a.allowPersonalisation,
    maxLetterLength: a.maxLetterLength,
    availableLocales: a.texts.map((t) => t.locale).sort(),
    ...publicCountryFields(cache.publicCountries(a.id)),
    targetMode: a.targetMode,
    targets: a.targets.map((t) => ({ ...localTargetName(t, locale), country: t.country })),
    wall: a.wall,
    responses: a.responses.map((r) => ({ ...r, target: localTargetName(r.target, locale) })),
    ledger: publicLedger(a.ledger, a.targetMode, cache.publicCountries(a.id).min).map((e) => {
      const local = localTargetName(e.target, locale);
      return { ...e, target: { name: local.name, organisation: local.organisation, locale: local.locale, roleLocale: local.roleLocale } };
    }),
    respondWithinDays: a.respondWithinDays,
    thresholds: publicThresholds(a.thresholds, a.respondWithinDays, new Date(cache.now()), locale),
    updates: publicUpdates(a.updates, locale, a.defaultLocale),
  };
}

/** The public counts by country as the API answers them: at most 50 countries, the rest under "other countries". */
export function publicCountryFields(p: PublicCountries): { countries: { country: string; count: number }[]; otherCountries: number; countryMin: number } {
  const listed = p.countries.slice(0, 50);
  const beyond = p.countries.slice(50).reduce((n, c) => n + c.count, 0);
  return { countries: listed, otherCountries: p.otherCountries + beyond, countryMin: p.min };
}

export function listPublished(cache: ActionCache, locale: string): PublicActionSummary[] {
  return cache
    .list()
    .filter((a) => a.status === ActionStatus.PUBLISHED)
    .map((a) => toSummary(cache, a, locale));
}
