// The reads answered before routing (fast-reads.ts), on a real socket: the same status, body
// and headers as Fastify's own route gives, and anything the fast path does not know goes on
// to Fastify unchanged. (Pages from the page cache are checked end to end in
// tests/e2e/page-cache.test.ts, where the server runs with its SvelteKit handler.)
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAction, createHarness, type Harness } from '../testing/harness.ts';

let h: Harness;
let base: string;
beforeAll(async () => {
  h = await createHarness();
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
});
afterAll(async () => h?.close());

const IGNORED = new Set(['date', 'connection', 'keep-alive']);
const headersOf = (entries: Iterable<[string, string]>) => Object.fromEntries([...entries].filter(([k]) => !IGNORED.has(k)));

describe('GET /api/actions/:slug/count before routing', () => {
  it('answers from the cache what the route answers, headers included', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const peek = vi.spyOn(h.cache, 'peek');
    const find = vi.spyOn(h.cache, 'find');
    try {
      const fast = await fetch(`${base}/api/actions/${action.slug}/count`);
      expect(peek).toHaveBeenCalledWith(action.slug);
      // the route was not entered: it would have asked find()
      expect(find).not.toHaveBeenCalled();
      const routed = await h.app.inject({ url: `/api/actions/${action.slug}/count` });
      expect(fast.status).toBe(200);
      expect(await fast.json()).toEqual(routed.json());
      expect(headersOf(fast.headers.entries())).toEqual(headersOf(Object.entries(routed.headers).map(([k, v]) => [k, String(v)])));
    } finally {
      peek.mockRestore();
      find.mockRestore();
    }
  });

  it('leaves to the route what it does not know: an unknown action, a query string, another method', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const missing = await fetch(`${base}/api/actions/no-such-action-here/count`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ statusCode: 404, code: 'action_not_found' });
    const withQuery = await fetch(`${base}/api/actions/${action.slug}/count?fresh=1`);
    expect(withQuery.status).toBe(200);
    expect((await fetch(`${base}/api/actions/${action.slug}/count`, { method: 'POST' })).status).toBe(404);
    const hostile = await fetch(`${base}/api/actions/${encodeURIComponent('<script>')}/count`);
    expect([404, 422]).toContain(hostile.status);
  });
});
