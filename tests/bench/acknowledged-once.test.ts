// Under concurrent load with repeated addresses, every signature the API acknowledged (202)
// is in the database exactly once, the moment the load stops: the answer comes after COMMIT,
// and the unique (action, supporter) constraint and canonical emails hold under races.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { startChild, type Child } from './child.ts';
import { createBenchAction } from './data.ts';
import { runLoad } from './load.ts';
import { SigningTraffic, checkExactlyOnce } from './scenarios.ts';

let platform: Platform;
let sink: Child;
let db: Db;
let pool: pg.Pool;

beforeAll(async () => {
  sink = await startChild('./sink.ts');
  db = createDb(process.env.DATABASE_URL!, { max: 4 });
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
  platform = await startPlatform({ SMTP_URL: `smtp://127.0.0.1:${sink.port}?tls=off` });
});

afterAll(async () => {
  // this file's actions leave the public pages, which later cross-process tests read
  await pool
    ?.query(`UPDATE actions SET status = 'ARCHIVED', archived_at = now() WHERE campaign_id IN (SELECT id FROM campaigns WHERE slug = 'bench') AND status <> 'ARCHIVED'`)
    .catch(() => {});
  await platform?.stop();
  await sink?.stop();
  await pool?.end();
  await db?.close();
});

it('every acknowledged signature is stored exactly once (50 connections, 2 s, 30% repeats)', async () => {
  const action = await createBenchAction(db, { name: 'ack-once' });
  await new Promise((r) => setTimeout(r, 2500)); // the server's action cache reloads every 2 s
  const traffic = new SigningTraffic(`ack-${Date.now()}`, 0.3);
  const load = await runLoad({ label: 'acknowledged once', url: platform.baseUrl, connections: 50, seconds: 2, requests: [traffic.request(action.slug)], quiet: true });

  // the load really was concurrent and really repeated addresses
  expect(load.byStatus['202']).toBeGreaterThan(50);
  expect(load.byStatus['202']).toBeGreaterThan(traffic.sent.length);
  const check = await checkExactlyOnce(pool, action.id, traffic.accepted);
  expect(check.acceptedEmails).toBe(traffic.accepted.size);
  expect(check).toMatchObject({ missing: 0, duplicated: 0 });
  // nothing was stored that was never sent, and repeats made no second row
  expect(check.rows).toBeLessThanOrEqual(traffic.sent.length);
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE s.action_id = $1 AND p.canonical_email <> ALL($2::text[])`,
    [action.id, traffic.sent.map((e) => e.toLowerCase())],
  );
  expect(rows[0]!.n).toBe(0);
}, 60_000);
