// Public counts and the widget script: served from memory (no database query per request),
// cacheable with an ETag, open to other origins; the widget is far under 15 KB gzipped.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldConfirmations } from '../signature/counter.service.ts';
import { confirmationToken } from '../signature/signature.service.ts';
import { createAction, createHarness, signBody, type Harness } from '../testing/harness.ts';
import { documented } from '../testing/openapi.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

describe('public counts', () => {
  it('per action and overall, from memory, with CORS, max-age and an ETag', async () => {
    const inject = documented(h.app);
    const { action } = await createAction(h.db);
    await h.db.pool.query(`INSERT INTO action_stats (action_id, confirmed_count) VALUES ($1, 42)`, [action.id]);
    await h.cache.refresh();

    let acquired = 0;
    const onAcquire = () => acquired++;
    h.db.pool.on('acquire', onAcquire);
    const one = await inject({ url: `/api/counts/${action.slug}` });
    const all = await inject({ url: '/api/counts' });
    for (let i = 0; i < 20; i++) await h.app.inject({ url: `/api/counts/${action.slug}` });
    h.db.pool.off('acquire', onAcquire);
    expect(acquired).toBe(0);

    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual({ slug: action.slug, count: 42, goal: 100, status: 'PUBLISHED' });
    expect(one.headers['access-control-allow-origin']).toBe('*');
    expect(one.headers['cache-control']).toMatch(/public, max-age=\d+/);
    expect(one.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(all.json().actions).toEqual(expect.arrayContaining([{ slug: action.slug, count: 42, goal: 100, status: 'PUBLISHED' }]));
    expect(all.json().total).toBeGreaterThanOrEqual(42);

    const again = await inject({ url: `/api/counts/${action.slug}`, headers: { 'if-none-match': String(one.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    await h.db.pool.query(`UPDATE action_stats SET confirmed_count = 43 WHERE action_id = $1`, [action.id]);
    await h.cache.refresh();
    const changed = await inject({ url: `/api/counts/${action.slug}`, headers: { 'if-none-match': String(one.headers.etag) } });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().count).toBe(43);

    expect((await inject({ url: '/api/counts/no-such-action' })).statusCode).toBe(404);
    expect((await inject({ url: '/api/counts/..%2F..%2Fetc' })).statusCode).toBe(422);
  });
});

describe('a confirmation in the public count', () => {
  it('shows at once on the process that confirmed it, and counts once through reads and folds', async () => {
    const { action } = await createAction(h.db);
    await h.db.pool.query(`INSERT INTO action_stats (action_id, confirmed_count) VALUES ($1, 7)`, [action.id]);
    await h.cache.refresh();
    const count = async () => (await h.app.inject({ url: `/api/actions/${action.slug}/count` })).json().count as number;
    expect(await count()).toBe(7);

    const signed = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody({ country: 'KE' }) });
    expect(signed.statusCode).toBe(202);
    const { rows } = await h.db.pool.query<{ id: string }>('SELECT id FROM signatures WHERE action_id = $1', [action.id]);
    const token = confirmationToken({ secret: h.secret, clock: () => h.now.value, confirmLinkTtlHours: 24 }, rows[0]!.id);
    const confirmed = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` });
    expect(confirmed.json()).toMatchObject({ status: 'confirmed' });
    // no refresh of the cache yet: this process shows it already
    expect(await count()).toBe(8);
    // a second confirmation of the same link changes nothing
    await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` });
    expect(await count()).toBe(8);

    // read before the counter folded it (the not yet folded confirmations are added), then after
    await h.cache.refresh();
    expect(await count()).toBe(8);
    await h.cache.refresh();
    expect(await count()).toBe(8);
    while ((await foldConfirmations(h.db.pool)) > 0);
    await h.cache.refresh();
    expect(await count()).toBe(8);
    const page = (await h.app.inject({ url: `/api/actions/${action.slug}` })).json();
    // one signer from Kenya is never a public count by country (tests/promises/06-*)
    expect(JSON.stringify(page.countries)).not.toContain('KE');
  });
});

describe('/widget.js', () => {
  it('is a small script that frames /embed/<slug>, open to other origins', async () => {
    const res = await h.app.inject({ url: '/widget.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/javascript/);
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(res.body).toContain("'/embed/'");
    expect(res.body).not.toMatch(/cookie|localStorage|document\.referrer/i);
    const gz = gzipSync(res.body).length;
    expect(gz).toBeLessThan(15 * 1024);
    expect(gz).toBeLessThan(1024);
  });
});
