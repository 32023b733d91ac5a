// A one-second cache of rendered public action pages. In a viral spike most of the load is
// people reloading the action page to watch the count; rendering it costs milliseconds of CPU
// (the API call, the template), so 10,000 readers a second would need 10,000 renders. With
// this cache each page is rendered about once a second per URL and language, whatever the
// number of readers, and a hit is answered by Fastify without entering SvelteKit at all.
//
// Invalidation is by time only, and that is correct here: the page is built from the API,
// whose answers are themselves up to a second old (`cache-control: public, max-age=1`) and
// whose counts and texts come from a cache refreshed every 250 ms / 2 s. A page one more
// second old changes nothing anyone can see; a staff edit shows within about 3 s.
// Only anonymous GETs are cached (a request with any cookie, e.g. staff, bypasses it), only
// 200 answers without Set-Cookie, keyed by the exact path and query and the Accept-Language
// header the page was negotiated from.
//
// SvelteKit's hook (web/src/hooks.server.ts) fills it; the Fastify route in front of
// SvelteKit (server/src/http/app.ts) reads it. Both run in the server process but load this
// module separately (the web build bundles its own copy), so the one instance lives on
// globalThis.

export interface CachedPage {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  expires: number;
  /** while one request renders the expired page again, the others get this copy */
  refreshingUntil?: number;
}

export class PageCache {
  private pages = new Map<string, CachedPage>();
  private waiting = new Map<string, { done: Promise<void>; resolve: () => void; until: number }>();

  constructor(
    private readonly ttlMs = 1_000,
    private readonly maxEntries = 2_000,
    /** how long an expired page may still be sent while its new rendering is on the way */
    private readonly staleMs = 5_000
  ) {}

  /** The page if it is fresh (for the renderer's own check). */
  get(key: string, now = Date.now()): CachedPage | undefined {
    const hit = this.pages.get(key);
    return hit && hit.expires > now ? hit : undefined;
  }

  /**
   * For the readers: the fresh page; or, once it has expired, undefined for exactly one
   * request (which renders it again) and the expired copy for everyone else meanwhile, so
   * a hundred readers arriving as the page expires cause one rendering, not a hundred.
   */
  serve(key: string, now = Date.now()): CachedPage | Promise<void> | undefined {
    const hit = this.pages.get(key);
    if (hit && hit.expires > now) return hit;
    if (hit && now - hit.expires <= this.staleMs) {
      if (hit.refreshingUntil !== undefined && hit.refreshingUntil > now) return hit;
      hit.refreshingUntil = now + this.staleMs;
      return undefined;
    }
    if (hit) this.pages.delete(key);
    // nothing to send yet (a page nobody has read for a while, or just published): the first
    // reader renders it, the others wait for that rendering (a promise, settled by set or
    // release) rather than all rendering the same page at once
    const pending = this.waiting.get(key);
    if (pending && pending.until > now) return pending.done;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.waiting.set(key, { done, resolve, until: now + this.staleMs });
    return undefined;
  }

  /** The rendering of `key` will not be cached (not a 200, say): its waiters render for themselves. */
  release(key: string): void {
    const pending = this.waiting.get(key);
    this.waiting.delete(key);
    pending?.resolve();
  }

  set(key: string, page: Omit<CachedPage, 'expires'>, now = Date.now()): void {
    // the oldest entries go first (a Map iterates in insertion order)
    while (this.pages.size >= this.maxEntries) this.pages.delete(this.pages.keys().next().value!);
    this.pages.set(key, { ...page, expires: now + this.ttlMs });
    this.release(key);
  }

  clear(): void {
    this.pages.clear();
    for (const key of [...this.waiting.keys()]) this.release(key);
  }
}

const KEY = Symbol.for('chorus.pageCache');

/** The process's page cache. */
export function pageCache(): PageCache {
  const g = globalThis as { [KEY]?: PageCache };
  return (g[KEY] ??= new PageCache());
}

/** The cache key of a request: path and query as sent, and the languages the browser asked for. */
export function pageKey(pathAndQuery: string, acceptLanguage: string | null | undefined): string {
  return `${acceptLanguage ?? ''}\n${pathAndQuery}`;
}
