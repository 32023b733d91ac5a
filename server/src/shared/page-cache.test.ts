import { describe, expect, it } from 'vitest';
import { PageCache, cachedPageKey, pageCache, type Lookup } from './page-cache.ts';

const page = (body: string) => ({ status: 200, headers: { 'content-type': 'text/html' }, body: Buffer.from(body) });
const bodyOf = (l: Lookup) => (l.kind === 'hit' ? l.page.body.toString() : l.kind);
const ticketOf = (l: Lookup) => {
  if (l.kind !== 'render') throw new Error(`expected a ticket, got ${l.kind}`);
  return l.ticket;
};

describe('PageCache', () => {
  it('serves a page for its time to live, then forgets it', () => {
    const cache = new PageCache({ ttlMs: 1_000 });
    cache.set('a', page('one'), 10_000);
    expect(cache.get('a', 10_999)?.body.toString()).toBe('one');
    expect(cache.get('a', 11_000)).toBeUndefined();
  });

  it('lets one reader render an expired page again while the others get the expired copy', () => {
    const cache = new PageCache({ ttlMs: 1_000, staleMs: 5_000 });
    cache.set('a', page('old'), 0);
    expect(bodyOf(cache.lookup('a', 500))).toBe('old'); // fresh
    expect(cache.lookup('a', 1_000).kind).toBe('render'); // expired: this reader renders
    expect(bodyOf(cache.lookup('a', 1_001))).toBe('old'); // the others meanwhile
    expect(bodyOf(cache.lookup('a', 1_200))).toBe('old');
    cache.set('a', page('new'), 1_300);
    cache.release('a', 0); // the server releases after every answer: the new page stays
    expect(bodyOf(cache.lookup('a', 1_301))).toBe('new');
  });

  it('drops an expired copy whose refresh ended without a new page (a page now gone)', () => {
    const cache = new PageCache({ ttlMs: 1_000, staleMs: 5_000 });
    cache.set('a', page('old'), 0);
    const ticket = ticketOf(cache.lookup('a', 1_500));
    cache.release('a', ticket); // the rendering was a 404, say
    expect(cache.stats().entries).toBe(0);
    expect(cache.lookup('a', 1_501).kind).toBe('render');
  });

  it('makes readers of a page not yet rendered wait for the one rendering it', async () => {
    const cache = new PageCache();
    const ticket = ticketOf(cache.lookup('a', 0)); // the first reader renders
    const waiting = cache.lookup('a', 1);
    expect(waiting.kind).toBe('wait');
    cache.set('a', page('rendered'), 2);
    await (waiting as { done: Promise<void> }).done;
    cache.release('a', ticket);
    expect(bodyOf(cache.lookup('a', 3))).toBe('rendered');
    expect(cache.stats().waiting).toBe(0);
  });

  it('wakes the waiters of a rendering that is not stored, and the next reader renders', async () => {
    const cache = new PageCache();
    const ticket = ticketOf(cache.lookup('b', 0));
    const waiting = cache.lookup('b', 1);
    cache.release('b', ticket); // a redirect, an error, an exception: anything not stored
    await (waiting as { done: Promise<void> }).done;
    expect(cache.stats().waiting).toBe(0);
    const next = ticketOf(cache.lookup('b', 2));
    expect(next).not.toBe(ticket);
    // an old ticket released late does not wake the waiters of a newer rendering
    cache.release('b', ticket);
    expect(cache.lookup('b', 3).kind).toBe('wait');
  });

  it('bounds the renderings waited on: beyond the limit a reader renders without storing', () => {
    const cache = new PageCache({ maxWaiting: 2 });
    expect(cache.lookup('a', 0).kind).toBe('render');
    expect(cache.lookup('b', 0).kind).toBe('render');
    expect(cache.lookup('c', 0).kind).toBe('pass');
    expect(cache.stats().waiting).toBe(2);
  });

  it('keeps at most maxEntries pages, dropping the oldest', () => {
    const cache = new PageCache({ maxEntries: 2 });
    cache.set('a', page('a'), 0);
    cache.set('b', page('b'), 0);
    cache.set('c', page('c'), 0);
    expect(cache.get('a', 1)).toBeUndefined();
    expect(cache.get('b', 1)?.body.toString()).toBe('b');
    expect(cache.get('c', 1)?.body.toString()).toBe('c');
  });

  it('keeps at most maxBytes of pages and stores no page above maxPageBytes', () => {
    const cache = new PageCache({ maxBytes: 1_000, maxPageBytes: 600, maxEntries: 100 });
    for (let i = 0; i < 50; i++) cache.set(`k${i}`, page('x'.repeat(300)), 0);
    expect(cache.stats().bytes).toBeLessThanOrEqual(1_000);
    expect(cache.stats().entries).toBe(3);
    cache.set('big', page('x'.repeat(601)), 0);
    expect(cache.get('big', 1)).toBeUndefined();
    expect(cache.stats().bytes).toBeLessThanOrEqual(1_000);
    // the same key stored again replaces its bytes, it does not add to them
    for (let i = 0; i < 10; i++) cache.set('same', page('y'.repeat(200)), 0);
    expect(cache.stats().bytes).toBeLessThanOrEqual(1_000);
  });

  it('is one instance per process', () => {
    expect(pageCache()).toBe(pageCache());
  });
});

describe('cachedPageKey', () => {
  it('gives a key to action pages only, keyed by the language they are rendered in', () => {
    expect(cachedPageKey('/actions/free-them', 'es-MX,es;q=0.9')).toBe('es /actions/free-them');
    expect(cachedPageKey('/actions/free-them', 'es;q=0.5, ru')).toBe('ru /actions/free-them');
    expect(cachedPageKey('/actions/free-them', null)).toBe('en /actions/free-them');
    expect(cachedPageKey('/fr/actions/free-them', 'ru')).toBe('fr /fr/actions/free-them');
    expect(cachedPageKey('/actions/free-them?source=newsletter', 'en')).toBe('en /actions/free-them?source=newsletter');
    // any Accept-Language header of the same language is the same page
    expect(cachedPageKey('/actions/x', 'es, xx-' + 'a'.repeat(500))).toBe(cachedPageKey('/actions/x', 'es'));
  });

  it('gives no key to anything else: other pages, data requests, other queries, assets', () => {
    for (const url of [
      '/',
      '/?' + 'q'.repeat(2_000),
      '/es',
      '/admin/login',
      '/en/my-data',
      '/actions/free-them/thanks',
      '/actions/free-them/check-email',
      '/actions/free-them/__data.json',
      '/actions/free-them/__data.json?x-sveltekit-invalidated=01',
      '/actions/free-them/',
      '/actions/free-them?source=a&x=1',
      '/actions/free-them?other=1',
      '/actions/free-them?source=' + 'a'.repeat(101),
      '/actions/Free-Them',
      '/xx/actions/free-them',
      '/confirm/abc',
      '/packet/abc',
      '/_app/immutable/assets/app.css',
      '/favicon.ico',
    ]) {
      expect([url, cachedPageKey(url, 'en')]).toEqual([url, null]);
    }
  });
});
