// A one-second cache of rendered public action pages. In a viral spike most of the load is
// people reloading the action page to watch the count; rendering it costs milliseconds of CPU
// (the API call, the template), so 10,000 readers a second would need 10,000 renders. With
// this cache each page is rendered about once a second per URL and language, whatever the
// number of readers, and a hit is answered before routing (fast-reads.ts) or by Fastify,
// without entering SvelteKit at all.
//
// Invalidation is by time only, and that is correct here: the page is built from the API,
// whose answers are themselves up to a second old (`cache-control: public, max-age=1`) and
// whose counts and texts come from a cache refreshed every 250 ms / 2 s. A page one more
// second old changes nothing anyone can see; a staff edit shows within about 3 s.
//
// What is cached, and who may wait, is decided by one function, `cachedPageKey()`: a cookieless
// GET of an action page (`/actions/<slug>` or `/<lang>/actions/<slug>`, with no query other
// than `?source=<tag>`). Every other request, and a data request (`.../__data.json`) above all,
// has no key: it never waits and is never stored. The key holds the language the page is
// rendered in (from the path, else negotiated from Accept-Language), so the set of keys does
// not grow with the variety of headers.
//
// The flow, for a request with a key (server/src/http/pages.ts):
// - `lookup()` answers `hit` (send it), `wait` (another request is rendering it: wait, then
//   look up again), `render` (this request renders it, holding a ticket) or `pass` (render,
//   do not cache: too many renderings already waited on).
// - The ticket holder's rendering is stored by SvelteKit's hook (web/src/hooks.server.ts)
//   with `set()` if it is a 200 without Set-Cookie; whatever happens (an error, a redirect, a
//   404, an exception, a closed socket), Fastify calls `release()` when the answer is over, so
//   no waiter is ever left waiting on a rendering that will not be stored.
// - Entries are bounded in count and in bytes (oldest out first), and so are the waits.
//
// Both the Fastify side and SvelteKit's hook run in the server process but load this module
// separately (the web build bundles its own copy), so the one instance lives on globalThis.
import { isLocale, negotiateLocale } from './locales.ts';

export interface CachedPage {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  expires: number;
  /** while one request renders the expired page again, the others get this copy */
  refreshingUntil?: number;
}

export type Lookup =
  | { kind: 'hit'; page: CachedPage }
  | { kind: 'wait'; done: Promise<void> }
  | { kind: 'render'; ticket: number }
  | { kind: 'pass' };

export interface PageCacheLimits {
  /** how long a rendering is fresh */
  ttlMs: number;
  /** how long an expired page may still be sent while its new rendering is on the way */
  staleMs: number;
  maxEntries: number;
  /** bytes of all stored bodies together */
  maxBytes: number;
  /** a larger page is not stored */
  maxPageBytes: number;
  /** renderings that others may wait on at once; beyond, a request renders uncached */
  maxWaiting: number;
}

export const PAGE_CACHE_LIMITS: PageCacheLimits = {
  ttlMs: 1_000,
  staleMs: 5_000,
  maxEntries: 500,
  maxBytes: 8 * 1024 * 1024,
  maxPageBytes: 512 * 1024,
  maxWaiting: 256,
};

interface Pending {
  ticket: number;
  done: Promise<void>;
  resolve: () => void;
}

export class PageCache {
  private pages = new Map<string, CachedPage>();
  private waiting = new Map<string, Pending>();
  private bytes = 0;
  private nextTicket = 1;
  readonly limits: PageCacheLimits;

  constructor(limits: Partial<PageCacheLimits> = {}) {
    this.limits = { ...PAGE_CACHE_LIMITS, ...limits };
  }

  /** The page if it is fresh. */
  get(key: string, now = Date.now()): CachedPage | undefined {
    const hit = this.pages.get(key);
    return hit && hit.expires > now ? hit : undefined;
  }

  /**
   * For a reader of `key`: the fresh page; once it has expired, a ticket to render it again
   * for exactly one request and the expired copy for everyone else meanwhile; for a page not
   * stored, a ticket for the first reader and a promise for the others, settled when that
   * rendering is stored or released. A hundred readers arriving together cause one rendering.
   */
  lookup(key: string, now = Date.now()): Lookup {
    const hit = this.pages.get(key);
    if (hit && hit.expires > now) return { kind: 'hit', page: hit };
    if (hit && now - hit.expires <= this.limits.staleMs) {
      if (hit.refreshingUntil !== undefined && hit.refreshingUntil > now) return { kind: 'hit', page: hit };
      hit.refreshingUntil = now + this.limits.staleMs;
      return { kind: 'render', ticket: 0 };
    }
    if (hit) this.drop(key);
    const pending = this.waiting.get(key);
    if (pending) return { kind: 'wait', done: pending.done };
    if (this.waiting.size >= this.limits.maxWaiting) return { kind: 'pass' };
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const ticket = this.nextTicket++;
    this.waiting.set(key, { ticket, done, resolve });
    return { kind: 'render', ticket };
  }

  /**
   * The rendering of `key` under `ticket` is over without being stored (or after it was):
   * its waiters look again. Another request's later ticket for the same key is left alone.
   */
  release(key: string, ticket: number): void {
    const pending = this.waiting.get(key);
    if (pending && pending.ticket === ticket) {
      this.waiting.delete(key);
      pending.resolve();
    }
    // the refresh of an expired page ended without a new one (set() replaces the entry, so
    // one still marked as refreshing was not replaced): its copy is no longer sent, since
    // the page may be gone (an action closed to the public answers 404 now)
    const hit = this.pages.get(key);
    if (ticket === 0 && hit?.refreshingUntil !== undefined) this.drop(key);
  }

  /** Stores a rendering (a page too large is not stored) and wakes whoever waited on it. */
  set(key: string, page: Omit<CachedPage, 'expires' | 'refreshingUntil'>, now = Date.now()): void {
    const size = page.body.byteLength;
    if (size <= this.limits.maxPageBytes) {
      this.drop(key);
      // the oldest entries go first (a Map iterates in insertion order)
      while (this.pages.size > 0 && (this.pages.size >= this.limits.maxEntries || this.bytes + size > this.limits.maxBytes)) {
        this.drop(this.pages.keys().next().value!);
      }
      this.pages.set(key, { ...page, expires: now + this.limits.ttlMs });
      this.bytes += size;
    }
    const pending = this.waiting.get(key);
    if (pending) {
      this.waiting.delete(key);
      pending.resolve();
    }
  }

  stats(): { entries: number; bytes: number; waiting: number } {
    return { entries: this.pages.size, bytes: this.bytes, waiting: this.waiting.size };
  }

  clear(): void {
    this.pages.clear();
    this.bytes = 0;
    for (const pending of this.waiting.values()) pending.resolve();
    this.waiting.clear();
  }

  private drop(key: string): void {
    const old = this.pages.get(key);
    if (!old) return;
    this.pages.delete(key);
    this.bytes -= old.body.byteLength;
  }
}

const KEY = Symbol.for('chorus.pageCache');

/** The process's page cache. */
export function pageCache(): PageCache {
  const g = globalThis as { [KEY]?: PageCache };
  return (g[KEY] ??= new PageCache());
}

/** The request header by which the server tells SvelteKit's hook "store this rendering under this key". */
export const RENDER_KEY_HEADER = 'x-chorus-page-render';

const ACTION_PAGE = /^\/(?:([a-z]{2})\/)?actions\/([a-z0-9][a-z0-9-]{0,79})(?:\?source=([A-Za-z0-9._~:-]{1,100}))?$/;

/**
 * The cache key of a GET for `pathAndQuery` (as sent), or null when the request is not one
 * the cache serves: anything but an action page, a data request, an unknown language prefix,
 * a query other than `?source=`. The key is the language the page is rendered in and the
 * path and query: the page is a function of these alone for a request without a cookie.
 */
export function cachedPageKey(pathAndQuery: string, acceptLanguage: string | string[] | null | undefined): string | null {
  if (pathAndQuery.length > 300) return null;
  const m = ACTION_PAGE.exec(pathAndQuery);
  if (!m) return null;
  const prefix = m[1];
  if (prefix !== undefined && !isLocale(prefix)) return null;
  const header = Array.isArray(acceptLanguage) ? acceptLanguage.join(',') : acceptLanguage;
  const locale = prefix ?? negotiateLocale(header);
  return `${locale} ${pathAndQuery}`;
}
