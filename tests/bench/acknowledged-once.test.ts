// Under concurrent load with repeated addresses, every signature the API acknowledged (202)
// is in the database exactly once, the moment the load stops: the answer comes after COMMIT,
// and a repeat of the same sign-up (the unique index of waiting sign-ups) and canonical emails
// hold under races.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { expectSealed } from '../support/sealed-checks.ts';
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
  // shedding off: this test is about what happens to the writes that are acknowledged, and
  // on a busy machine the shedder would turn most of them away
  platform = await startPlatform({ SMTP_URL: `smtp://127.0.0.1:${sink.port}?tls=off`, SHED_EVENT_LOOP_LAG_MS: '60000', SHED_WRITER_WAIT_MS: '60000' });
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
  // the server's action cache reloads every 2 s: wait until it knows the new action(s)
  await expect.poll(async () => (await fetch(`${platform.baseUrl}/api/actions/${action.slug}`)).status, { timeout: 10_000, interval: 50 }).toBe(200);
  const traffic = new SigningTraffic(`ack-${Date.now()}`, 0.3);
  const acks = new Map<string, number>();
  const request = {
    ...traffic.request(action.slug),
    onResponse: (status: number, ctx: Record<string, unknown>) => {
      traffic.onResponse(status, ctx);
      if (status === 202) acks.set(ctx.email as string, (acks.get(ctx.email as string) ?? 0) + 1);
    },
  };
  // 2 s rounds until enough was acknowledged (a busy machine may need more than one)
  let acknowledged = 0;
  for (let round = 0; round < 5 && acknowledged < 100; round++) {
    const load = await runLoad({ label: 'acknowledged once', url: platform.baseUrl, connections: 50, seconds: 2, requests: [request], quiet: true });
    acknowledged += load.byStatus['202'] ?? 0;
  }

  // the load really was concurrent and really acknowledged repeated addresses
  expect(acknowledged).toBeGreaterThanOrEqual(100);
  expect([...acks.values()].some((n) => n > 1)).toBe(true);
  // the last requests of the load may still be committing: read once the action's rows stop changing
  let settled = -1;
  for (let i = 0; i < 50; i++) {
    const { rows: n } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM signatures WHERE action_id = $1`, [action.id]);
    if (n[0]!.n === settled) break;
    settled = n[0]!.n;
    await new Promise((r) => setTimeout(r, 300));
  }
  const check = await checkExactlyOnce(pool, action.id, traffic.accepted);
  expect(check.acceptedEmails).toBe(traffic.accepted.size);
  expect(check).toMatchObject({ missing: 0, duplicated: 0 });
  // nothing was stored that was never sent, and repeats made no second row
  expect(check.rows).toBeLessThanOrEqual(traffic.sent.length);
  // (people are known by the blind index of their address: the address is stored only sealed)
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM signatures s JOIN supporters p ON p.id = s.supporter_id
     WHERE s.action_id = $1 AND COALESCE(p.email_index <> ALL($2::text[]), true)`,
    [action.id, traffic.sent.map(indexOfEmail)],
  );
  expect(rows[0]!.n).toBe(0);
  // and each row's address, opened, is one that was sent, stored sealed as were the name and receipt
  const sent = new Set(traffic.sent);
  const stored = await openedSignatures(pool, 's.action_id = $1', [action.id]);
  expect(stored).toHaveLength(check.rows);
  for (const r of stored) {
    expect(sent.has(r.email)).toBe(true);
    expect(r.pending_first_name).toBe('Ana');
    expect(r.receipt).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
    expectSealed(r.supporter_email, r.email);
    expectSealed(r.pending_name, 'Ana', 'López');
    expectSealed(r.receipt_sealed, r.receipt);
  }
}, 60_000);
