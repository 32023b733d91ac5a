// The public action page is rendered about once a second and otherwise served from the page
// cache (server/src/shared/page-cache.ts), across real processes: the cached copy must be the
// same page with the same security headers, requests with a cookie must bypass it, and a new
// count must still reach the page within a few seconds.
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
  platform = await startPlatform();
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
  expect(first.headers.get('x-cache')).toBeNull();
  expect(second.headers.get('x-cache')).toBe('hit');
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
  expect(withCookie.headers.get('x-cache')).toBeNull();
  expect(await withCookie.text()).toMatch(/1,234|1234/);
}, 60_000);
