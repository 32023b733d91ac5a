// Public reads of actions and their counts are served from memory: a background refresh
// reads all public actions every couple of seconds and the folded counts several times a
// second, so a storm of readers never turns into a storm of queries.
import type pg from 'pg';
import { loadCounts, loadPublicActions, type ActionRow, type CountRow } from './action.repository.ts';

export interface PublicActionSummary {
  slug: string;
  kind: ActionRow['kind'];
  status: ActionRow['status'];
  locale: string;
  title: string;
  summary: string;
  goal: number;
  count: number;
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
  countries: { country: string; count: number }[];
  targetMode: ActionRow['targetMode'];
  targets: { name: string; title: string; organisation: string; country: string | null }[];
  wall: ActionRow['wall'];
  responses: ActionRow['responses'];
  ledger: ActionRow['ledger'];
}

export interface ActionCacheOptions {
  actionsRefreshMs: number;
  countsRefreshMs: number;
}

export class ActionCache {
  private actions = new Map<string, ActionRow>();
  private counts = new Map<string, CountRow>();
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

  async refresh(): Promise<void> {
    await Promise.all([this.refreshActions(), this.refreshCounts()]);
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
    const rows = await loadPublicActions(this.pool);
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
      if (shown && shown.count > (read?.count ?? 0)) counts.set(actionId, { actionId, count: shown.count, countries: read?.countries ?? shown.countries });
    }
    this.counts = counts;
  }

  /**
   * A signature of the action at `slug` was just confirmed (committed) by this process: its
   * count shows it at once, rather than at the next refresh. Other server processes show it
   * at their next refresh (a quarter of a second). The country breakdown waits for the refresh.
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

  countries(actionId: string): { country: string; count: number }[] {
    return this.counts.get(actionId)?.countries ?? [];
  }
}

function plusOne(row: CountRow | undefined, actionId: string): CountRow {
  return { actionId, count: (row?.count ?? 0) + 1, countries: row?.countries ?? [] };
}

export function isSigningOpen(a: ActionRow): boolean {
  return a.status === 'PUBLISHED' && a.signingEnabled && !a.signingPausedAll;
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
    signingOpen: isSigningOpen(a),
    campaign: { slug: a.campaign.slug, name: a.campaign.names[locale] ?? a.campaign.names[a.defaultLocale] ?? a.campaign.slug },
  };
}

export function toPublic(cache: ActionCache, a: ActionRow, locale: string): PublicAction {
  const text = textFor(a, locale);
  return {
    ...toSummary(cache, a, locale),
    body: text?.body ?? '',
    letterSubject: a.kind === 'LETTER' ? (text?.letterSubject ?? '') : '',
    letterBody: a.kind === 'LETTER' ? (text?.letterBody ?? '') : '',
    shareText: text?.shareText ?? '',
    allowPersonalisation: a.allowPersonalisation,
    maxLetterLength: a.maxLetterLength,
    availableLocales: a.texts.map((t) => t.locale).sort(),
    countries: cache.countries(a.id).slice(0, 50),
    targetMode: a.targetMode,
    targets: a.targets.map(({ name, title, organisation, country }) => ({ name, title, organisation, country })),
    wall: a.wall,
    responses: a.responses,
    ledger: a.ledger,
  };
}

export function listPublished(cache: ActionCache, locale: string): PublicActionSummary[] {
  return cache
    .list()
    .filter((a) => a.status === 'PUBLISHED')
    .map((a) => toSummary(cache, a, locale));
}
