import { describe, expect, it } from 'vitest';
import { PageCache, pageCache, pageKey } from './page-cache.ts';

const page = (body: string) => ({ status: 200, headers: { 'content-type': 'text/html' }, body: Buffer.from(body) });

describe('PageCache', () => {
  it('serves a page for its time to live, then forgets it', () => {
    const cache = new PageCache(1_000, 10);
    cache.set('a', page('one'), 10_000);
    expect(cache.get('a', 10_999)?.body.toString()).toBe('one');
    expect(cache.get('a', 11_000)).toBeUndefined();
    expect(cache.get('a', 10_500)).toBeUndefined(); // gone for good once expired
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
