// The public action page is rendered about once a second and otherwise served from nginx's cache
// in front (deploy/nginx, as production runs it), which Chorus tells what it may share
// (web/src/hooks.server.ts): the cached copy must be the same page with the same security
// headers, requests with a cookie must go past it, a new count must still reach the page within
// a few seconds, and no visitor may wait on a page the cache does not store.
import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { createBenchAction, insertConfirmed, type BenchAction } from '../bench/data.ts';

let platform: Platform;
let db: Db;
let pool: pg.Pool;
let action: BenchAction;

beforeAll(async () => {
  db = createDb(process.env.DATABASE_URL!, { max: 4 });
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  action = await createBenchAction(db, { name: 'page-cache' });
  // the tests here are many readers on one address, as a load generator is: nginx's limit on one
  // address's reads past the cache is tried in scale-out.test.ts
  platform = await startPlatform({}, { nginx: { missRate: '10000r/s', missBurst: 10_000 } });
});

afterAll(async () => {
  await platform?.stop();
  await pool?.query(`UPDATE actions SET status = 'ARCHIVED', archived_at = now() WHERE id = $1`, [action.id]).catch(() => {});
  await pool?.end();
  await db?.close();
});

const SECURITY_HEADERS = ['content-type', 'content-security-policy', 'x-frame-options', 'referrer-policy', 'x-content-type-options', 'vary'];

it('serves the same page and headers from the cache, bypasses it with a cookie, and shows a new count within seconds', async () => {
  const url = `${platform.baseUrl}/actions/${action.slug}`;
  const get = (headers: Record<string, string> = {}) => fetch(url, { headers: { 'accept-language': 'en', ...headers } });
  const first = await get();
  const firstBody = await first.text();
  const second = await get();
  const secondBody = await second.text();
  expect(first.status).toBe(200);
  expect(second.status).toBe(200);
  expect(firstBody).toContain(`Benchmark: page-cache`);
  expect(secondBody).toBe(firstBody);
  expect(first.headers.get('x-cache-status')).toBe('MISS');
  expect(second.headers.get('x-cache-status')).toBe('HIT');
  for (const h of SECURITY_HEADERS) expect([h, second.headers.get(h)]).toEqual([h, first.headers.get(h)]);
  expect(second.headers.get('content-security-policy')).toContain("default-src 'self'");

  // another language is another page
  const es = await get({ 'accept-language': 'es' });
  expect(await es.text()).toContain('lang="es"');

  // a new count reaches the page (folded, cached, rendered) within a few seconds
  await insertConfirmed(pool, action.id, 1234);
  let shown = false;
  for (let i = 0; i < 40 && !shown; i++) {
    await new Promise((r) => setTimeout(r, 250));
    shown = /1,234|1234/.test(await (await get()).text());
  }
  expect(shown).toBe(true);

  // with a cookie (staff), the page is rendered for this request, not taken from the cache
  const withCookie = await get({ cookie: 'chorus_staff=nothing' });
  expect(withCookie.status).toBe(200);
  expect(withCookie.headers.get('x-cache-status')).toBe('BYPASS');
  expect(await withCookie.text()).toMatch(/1,234|1234/);
}, 60_000);

// Each request below must be answered at once: an in-process page cache once made every
// cookieless GET wait up to 5 s on a rendering only action pages ever stored or released; a
// cache lock in front could do the same (3 s is far above any rendering here).
const quick = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(3_000) });

it('never makes a visitor wait on a page the cache does not store, however many come', async () => {
  const base = platform.baseUrl;
  const html = await (await quick(`${base}/actions/${action.slug}`)).text();
  const stylesheet = /<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"/.exec(html)?.[1] ?? /<link[^>]+href="([^"]+\.css)"/.exec(html)?.[1];
  expect(stylesheet).toBeTruthy();
  const urls = [
    '/',
    '/es',
    '/?' + 'q'.repeat(500),
    '/admin/login',
    '/en/my-data',
    `/actions/${action.slug}/check-email`,
    `/actions/${action.slug}/thanks`,
    '/confirm/not-a-token',
    '/packet/not-a-token',
    `/actions/${action.slug}/`,
    `/actions/${action.slug}?other=1`,
  ];
  // the stylesheet is shared (built once, immutable): answered at once, and from the cache
  const css = new URL(stylesheet!, base).pathname;
  await Promise.all([1, 2, 3].map(async () => (await quick(base + css)).arrayBuffer()));
  expect((await quick(base + css)).headers.get('x-cache-status')).toBe('HIT');
  for (const path of urls) {
    // three new visitors one after the other, then three at once
    for (let i = 0; i < 3; i++) {
      const res = await quick(base + path);
      await res.arrayBuffer();
      // never stored: past the cache, or where the cache is off
      expect([path, res.headers.get('x-cache-status')]).not.toEqual([path, 'HIT']);
    }
    await Promise.all([1, 2, 3].map(async () => (await quick(base + path)).arrayBuffer()));
  }
}, 60_000);

it('shares a missing action page for a second too, so that its readers do not wait on each other', async () => {
  const base = platform.baseUrl;
  // a page that does not exist, asked by several at once: one rendering, the others go on
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all([1, 2, 3, 4].map(() => quick(`${base}/actions/no-such-action-${round}`)));
    for (const res of answers) {
      expect(res.status).toBe(404);
      expect(res.headers.get('cache-control')).toBe('public, max-age=1, stale-while-revalidate=2');
    }
    const again = await quick(`${base}/actions/no-such-action-${round}`);
    expect(again.headers.get('x-cache-status')).toBe('HIT');
  }
  // a language prefix that is not one of ours: not an action page, never stored
  for (let i = 0; i < 2; i++) {
    const other = await quick(`${base}/xx/actions/${action.slug}`);
    expect(other.headers.get('x-cache-status')).not.toBe('HIT');
    expect(other.headers.get('cache-control') ?? '').not.toContain('public');
  }
}, 60_000);

it('gives the first reader after a quiet spell the page as it is now, never an old copy', async () => {
  const url = `${platform.baseUrl}/actions/${action.slug}`;
  const get = () => fetch(url, { headers: { 'accept-language': 'en' } });
  await (await get()).text();
  const before = await get();
  expect(before.headers.get('x-cache-status')).toBe('HIT');
  const countBefore = ((await (await fetch(`${platform.baseUrl}/api/actions/${action.slug}/count`, { headers: { cookie: 'fresh=1' } })).json()) as { count: number }).count;
  await insertConfirmed(pool, action.id, 7);
  // the server knows the new count (its cache refreshes within 250 ms here) ...
  await expect
    .poll(async () => ((await (await fetch(`${platform.baseUrl}/api/actions/${action.slug}/count`, { headers: { cookie: 'fresh=1' } })).json()) as { count: number }).count, { timeout: 10_000 })
    .toBe(countBefore + 7);
  // ... and after four quiet seconds (past max-age=1 and stale-while-revalidate=2) the first
  // reader is not sent the copy from before
  await new Promise((r) => setTimeout(r, 4_000));
  const after = await get();
  expect(after.headers.get('x-cache-status')).not.toBe('STALE');
  expect(await after.text()).toContain((countBefore + 7).toLocaleString('en-US'));
}, 60_000);

it('lets no request choose the language stored for others by sending the header twice', async () => {
  const u = new URL(`${platform.baseUrl}/actions/${action.slug}`);
  // a raw request with two Accept-Language headers (headers as a list: Host must be given)
  const twice = (headers: string[]) =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: u.hostname, port: u.port, path: u.pathname, headers, setHost: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(/<html lang="([a-z]+)"/.exec(body)?.[1] ?? ''));
        })
        .on('error', reject);
    });
  const first = 'de-DE,de;q=0.9,es;q=0.8';
  for (let i = 0; i < 3; i++) expect(await twice(['host', u.host, 'accept-language', first, 'accept-language', 'fr'])).toBe('es');
  // a reader who sends only the first gets the page for it, from the cache or not
  const res = await fetch(u, { headers: { 'accept-language': first } });
  expect(/<html lang="([a-z]+)"/.exec(await res.text())?.[1]).toBe('es');
});

it('keys the cache on the language chosen, not on how the header is spelt', async () => {
  const path = `/actions/${action.slug}`;
  const read = (acceptLanguage: string) =>
    fetch(`${platform.baseUrl}${path}`, { headers: { 'accept-language': acceptLanguage } }).then(async (r) => ({
      status: r.status,
      cache: r.headers.get('x-cache-status'),
      lang: /<html lang="([a-z]+)"/.exec(await r.text())?.[1],
    }));
  // the first Russian reader stores the Russian page; every other spelling of "Russian first"
  // is then served that copy, however long the header (a 6 kB one included)
  const first = await read('ru-RU,ru;q=0.9,en;q=0.8');
  expect(first.lang).toBe('ru');
  const long = `${Array.from({ length: 1000 }, (_, i) => `x${i}`).join(',')},ru`;
  expect(long.length).toBeGreaterThan(4000);
  for (const spelling of ['ru', 'RU', 'ru-KZ, en;q=0.5', ' ru ;q=1', long]) {
    const r = await read(spelling);
    expect(r.lang, spelling).toBe('ru');
    expect(r.cache, spelling).toMatch(/^(HIT|UPDATING|STALE|EXPIRED|MISS)$/);
  }
  // within the second the page is shared, the spellings after the first share its copy
  const burst = await Promise.all(['ru', 'RU', 'ru-RU', long].map(read));
  expect(burst.filter((r) => r.cache === 'HIT').length).toBeGreaterThanOrEqual(3);
  // q=0 is "not this one"; a language Chorus lacks is passed over; none at all is the default
  expect((await read('fr;q=0, es')).lang).toBe('es');
  expect((await read('de, fr;q=0')).lang).toBe('en');
  expect((await read('de-CH, fr-CA;q=0.7')).lang).toBe('fr');
});

it('sends the page uncompressed to a reader who says gzip;q=0', async () => {
  const u = new URL(`${platform.baseUrl}/actions/${action.slug}`);
  const encodingFor = (acceptEncoding: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      http
        .get({ host: u.hostname, port: u.port, path: u.pathname, headers: { 'accept-language': 'en', 'accept-encoding': acceptEncoding } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['content-encoding']));
        })
        .on('error', reject);
    });
  expect(await encodingFor('gzip')).toBe('gzip');
  expect(await encodingFor('gzip;q=0')).toBeUndefined();
  expect(await encodingFor('identity, gzip ; q=0.0')).toBeUndefined();
  expect(await encodingFor('br;q=1, gzip;q=0.5')).toBe('gzip');
});

it('never lets a console page be kept, by a browser or by the cache in front', async () => {
  for (const path of ['/admin/login', '/admin']) {
    const res = await fetch(`${platform.baseUrl}${path}`, { redirect: 'manual' });
    await res.arrayBuffer();
    expect([path, res.headers.get('cache-control')]).toEqual([path, 'private, no-store']);
  }
});

it('never gives a page visitor the data request of the same page, nor the other way round', async () => {
  const base = platform.baseUrl;
  const page = `${base}/es/actions/${action.slug}`;
  const data = await quick(`${page}/__data.json`);
  expect(data.headers.get('content-type')).toMatch(/json/);
  await data.arrayBuffer();
  for (let i = 0; i < 3; i++) {
    const res = await quick(page);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('lang="es"');
  }
  // and the page now stored does not answer the data request either
  const again = await quick(`${page}/__data.json`);
  expect(again.headers.get('content-type')).toMatch(/json/);
  expect(again.headers.get('x-cache-status')).toBeNull();
}, 60_000);
