import { describe, expect, it } from 'vitest';
import { PageCache, pageCache, pageKey } from './page-cache.ts';

const page = (body: string) => ({ status: 200, headers: { 'content-type': 'text/html' }, body: Buffer.from(body) });

describe('PageCache', () => {
  it('serves a page for its time to live, then forgets it', () => {
    const cache = new PageCache(1_000, 10);
    cache.set('a', page('one'), 10_000);
    expect(cache.get('a', 10_999)?.body.toString()).toBe('one');
    expect(cache.get('a', 11_000)).toBeUndefined();
  });

  it('lets one reader render an expired page again while the others get the expired copy', () => {
    const cache = new PageCache(1_000, 10, 5_000);
    cache.set('a', page('old'), 0);
    const body = (p: unknown) => (p as { body: Buffer }).body.toString();
    expect(body(cache.serve('a', 500))).toBe('old'); // fresh
    expect(cache.serve('a', 1_000)).toBeUndefined(); // expired: this reader renders
    expect(body(cache.serve('a', 1_001))).toBe('old'); // the others meanwhile
    expect(body(cache.serve('a', 1_200))).toBe('old');
    cache.set('a', page('new'), 1_300);
    expect(body(cache.serve('a', 1_301))).toBe('new');
    // a rendering that never came back: after the stale window, another reader tries
    expect(cache.serve('a', 2_300)).toBeUndefined();
    expect(cache.serve('a', 7_301)).toBeUndefined();
    expect(cache.serve('a', 7_302)).toBeInstanceOf(Promise); // and the next ones wait for that one
  });

  it('makes readers of a page not yet rendered wait for the one rendering it', async () => {
    const cache = new PageCache(1_000, 10, 5_000);
    expect(cache.serve('a', 0)).toBeUndefined(); // the first reader renders
    const waiting = cache.serve('a', 1);
    expect(waiting).toBeInstanceOf(Promise);
    cache.set('a', page('rendered'), 2);
    await waiting;
    expect((cache.serve('a', 3) as { body: Buffer }).body.toString()).toBe('rendered');

    // a rendering that is not cached (a 404, say) sends its waiters to render for themselves
    expect(cache.serve('b', 0)).toBeUndefined();
    const b = cache.serve('b', 1);
    cache.release('b');
    await b;
    expect(cache.serve('b', 2)).toBeUndefined();
  });

  it('keeps at most maxEntries pages, dropping the oldest', () => {
    const cache = new PageCache(1_000, 2);
    cache.set('a', page('a'), 0);
    cache.set('b', page('b'), 0);
    cache.set('c', page('c'), 0);
    expect(cache.get('a', 1)).toBeUndefined();
    expect(cache.get('b', 1)?.body.toString()).toBe('b');
    expect(cache.get('c', 1)?.body.toString()).toBe('c');
  });

  it('keys by path, query and the languages asked for, and is one instance per process', () => {
    expect(pageKey('/actions/x', 'es')).not.toBe(pageKey('/actions/x', 'fr'));
    expect(pageKey('/actions/x?source=a', null)).not.toBe(pageKey('/actions/x', null));
    expect(pageCache()).toBe(pageCache());
  });
});
