// Letter delivery under faults, across real processes: the platform (mailbox, server and
// workers as child processes, the test PostgreSQL and Redis) sends its letters to a
// programmable SMTP server (tests/support/faulty-smtp.ts). Each scenario creates its own
// action and targets with SQL, lets the batcher and workers deliver, and then compares the
// `letters` rows with what the SMTP server received: every letter ends in the state it
// should, none is lost, and any second copy carries the same Message-ID.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '../../server/src/queue/queue.ts';
import { insertSupporter, newSealedReceipt } from '../../server/src/testing/sealed.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultySmtp, type Decide, type FaultySmtp, type SeenMessage } from '../support/faulty-smtp.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const RUN = randomUUID().slice(0, 8);
const SOCKET_TIMEOUT_MS = 800;
const STALE_MS = 4_000;

let smtp: FaultySmtp;
let platform: Platform;
let pool: pg.Pool;
const actionIds: string[] = [];
const report: string[] = [];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
  smtp = await startFaultySmtp();
  smtp.setDecide(route);
  platform = await startPlatform({
    SMTP_URL: smtp.url,
    BATCH_INTERVAL_MS: '300',
    SWEEP_INTERVAL_MS: '500',
    SWEEP_GRACE_MS: '1000',
    SUBMITTING_STALE_MS: String(STALE_MS),
    SMTP_SOCKET_TIMEOUT_MS: String(SOCKET_TIMEOUT_MS),
    SMTP_GREETING_TIMEOUT_MS: '2000',
    SMTP_CONNECTION_TIMEOUT_MS: '2000',
    // these tests are about faults, not about the per-domain limit
    LETTERS_PER_DOMAIN_PER_MINUTE: '1000000',
  });
});

afterAll(async () => {
  if (actionIds.length) await pool?.query(`UPDATE actions SET status = 'ARCHIVED', archived_at = now() WHERE id = ANY($1::uuid[])`, [actionIds]);
  await platform?.stop();
  await smtp?.close();
  await pool?.end();
  if (report.length) console.log(`[faults]\n${report.join('\n')}`);
});

// ------------------------------------------------------------------ per-scenario SMTP behaviour

const deciders = new Map<string, Decide>();
/** messages to this run's targets go to their scenario's decider; anything else is accepted */
const route: Decide = (m) => {
  const scenario = /^t\d+\.([a-z]+)@/.exec(m.to[0] ?? '')?.[1];
  const d = scenario && m.to[0]!.endsWith(`.${RUN}.faults.example`) ? deciders.get(scenario) : undefined;
  return d ? d(m) : 'accept';
};

// ------------------------------------------------------------------ fixtures

/** An action with `n` targets and one confirmed signature, so the batcher writes one letter per target. */
async function createDelivery(scenario: string, n: number): Promise<string> {
  const { rows: c } = await pool.query<{ id: string }>(
    `INSERT INTO campaigns (slug) VALUES ('fault-tests') ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id`,
  );
  await pool.query(`INSERT INTO campaign_texts (campaign_id, locale, name) VALUES ($1, 'en', 'Fault tests') ON CONFLICT DO NOTHING`, [c[0]!.id]);
  const slug = `faults-${scenario}-${RUN}`;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: a } = await client.query<{ id: string }>(
      `INSERT INTO actions (campaign_id, slug, kind, status, delivery_policy, delivery_every_n, published_at)
       VALUES ($1, $2, 'PETITION', 'PUBLISHED', 'IMMEDIATE', 1, now()) RETURNING id`,
      [c[0]!.id, slug],
    );
    const actionId = a[0]!.id;
    await client.query(
      `INSERT INTO action_texts (action_id, locale, title, summary, body, letter_subject, official_request)
       VALUES ($1, 'en', $2, 'Summary', 'Body', 'Fault test letter', 'Please act.')`,
      [actionId, `Fault test ${scenario} ${RUN}`],
    );
    const idx = Array.from({ length: n }, (_, i) => i);
    const { rows: targets } = await client.query<{ id: string; email: string }>(
      `INSERT INTO targets (slug, name, kind, email, language, salutation)
       SELECT s, nm, 'MINISTRY', e, 'en', 'Dear Minister' FROM unnest($1::text[], $2::text[], $3::text[]) AS x(s, nm, e)
       RETURNING id, email`,
      [
        idx.map((i) => `${slug}-t${i}`),
        idx.map((i) => `Minister ${i}`),
        // ten recipient domains, so that even a worker with the default per-domain limit (another
        // test run sharing the queues) would not hold these letters back
        idx.map((i) => `t${i}.${scenario}@d${i % 10}.${scenario}.${RUN}.faults.example`),
      ],
    );
    await client.query(
      `INSERT INTO action_targets (action_id, target_id, position) SELECT $1, t, p FROM unnest($2::uuid[], $3::int[]) AS x(t, p)`,
      [actionId, targets.map((t) => t.id), targets.map((_, i) => i)],
    );
    const email = `signer.${scenario}.${RUN}@example.org`;
    // as the signature writer stores them: the address and name sealed under the supporter's data key, with a receipt
    const supporter = await insertSupporter(client, { email, firstName: 'Ada', lastName: 'Faults', country: 'CA' });
    const receipt = newSealedReceipt(supporter.key, supporter.id);
    await client.query(
      `INSERT INTO signatures (action_id, supporter_id, status, country, confirmed_at, receipt_leaf, receipt_sealed)
       VALUES ($1, $2, 'CONFIRMED', 'CA', now(), $3, $4)`,
      [actionId, supporter.id, receipt.receipt_leaf, receipt.receipt_sealed],
    );
    await client.query('COMMIT');
    actionIds.push(actionId);
    return actionId;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

interface LetterRow {
  id: string;
  status: string;
  message_id: string;
  attempts: number;
  last_error: string | null;
}

async function letters(actionId: string): Promise<LetterRow[]> {
  const { rows } = await pool.query<LetterRow>(
    `SELECT l.id, l.status, l.message_id, l.attempts, l.last_error
     FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE b.action_id = $1 ORDER BY l.created_at, l.id`,
    [actionId],
  );
  return rows;
}

const tally = (rows: LetterRow[]) =>
  Object.entries(rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {}))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

/** Polls the action's letters until `done` holds, or fails with their states. */
async function waitForLetters(actionId: string, expected: number, done: (rows: LetterRow[]) => boolean, timeoutMs: number): Promise<LetterRow[]> {
  const until = Date.now() + timeoutMs;
  let rows: LetterRow[] = [];
  while (Date.now() < until) {
    rows = await letters(actionId);
    if (rows.length === expected && done(rows)) return rows;
    await new Promise((r) => setTimeout(r, 200));
  }
  const stuck = rows.filter((r) => r.status !== 'SENT').slice(0, 5);
  const jobs = await jobStates(stuck.map((r) => r.id));
  const queue = new Queue(QUEUE_NAMES.delivery, { connection: { url: process.env.REDIS_URL! } });
  const workers = await queue.getWorkersCount().catch(() => -1);
  await queue.close();
  throw new Error(
    `letters of action ${actionId} not done within ${timeoutMs} ms: ${rows.length}/${expected} letters, ${tally(rows)}; ` +
      `${workers} delivery workers on the queue (more than 1 means another test run shares the queues and may take these letters); ` +
      `e.g. ${JSON.stringify(stuck)}\njobs in Redis: ${jobs.join('; ')}\nlast logs:\n${platform.logs.slice(-15).join('')}`,
  );
}

/** Where each letter's jobs sit in BullMQ, for failure messages. */
async function jobStates(letterIds: string[]): Promise<string[]> {
  const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
  try {
    const q = 'bull:chorus-delivery';
    const out: string[] = [];
    for (const id of letterIds) {
      const keys = (await redis.keys(`${q}:letter-${id}-*`)).filter((k) => !k.endsWith(':lock') && !k.endsWith(':logs'));
      if (keys.length === 0) out.push(`${id}: no job`);
      for (const k of keys) {
        const jobId = k.slice(q.length + 1);
        const [active, wait, delayed, completed, failed, lock, returned] = await Promise.all([
          redis.lpos(`${q}:active`, jobId),
          redis.lpos(`${q}:wait`, jobId),
          redis.zscore(`${q}:delayed`, jobId),
          redis.zscore(`${q}:completed`, jobId),
          redis.zscore(`${q}:failed`, jobId),
          redis.exists(`${k}:lock`),
          redis.hget(k, 'returnvalue'),
        ]);
        out.push(`${jobId} active=${active} wait=${wait} delayed=${delayed} completed=${completed} failed=${failed} lock=${lock} returned=${returned}`);
      }
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

const allFinal = (rows: LetterRow[]) => rows.every((r) => r.status === 'SENT' || r.status === 'FAILED');

/** What the SMTP server saw of these letters, checked for consistency with the database. */
function received(rows: LetterRow[]) {
  const byMessageId = new Map(rows.map((r) => [r.message_id, r]));
  const seen = smtp.seen.filter((m) => m.messageId && byMessageId.has(m.messageId));
  // a copy always carries the Message-ID of the letter it belongs to
  for (const m of seen) expect(m.letterId, `copy ${m.seq} of ${m.messageId}`).toBe(byMessageId.get(m.messageId!)!.id);
  const held = seen.filter((m) => m.fault === 'accept' || m.fault === 'drop');
  const sentElsewhere = rows.filter((r) => r.status === 'SENT' && !held.some((m) => m.messageId === r.message_id));
  expect(sentElsewhere.map((r) => r.id), 'SENT in the database but never held by this SMTP server: sent by a worker outside this test?').toEqual([]);
  const count = (list: SeenMessage[], id: string) => list.filter((m) => m.messageId === id).length;
  return {
    seen,
    held,
    seenOf: (r: LetterRow) => count(seen, r.message_id),
    heldOf: (r: LetterRow) => count(held, r.message_id),
    duplicates: rows.filter((r) => count(held, r.message_id) > 1),
  };
}

// ------------------------------------------------------------------ scenarios

describe('letter delivery under SMTP and process faults', () => {
  it('a. 451 then 250: every letter ends SENT with exactly one accepted copy', async () => {
    const t = Date.now();
    deciders.set('tempfail', (m) => (m.copy === 1 ? 'tempfail' : 'accept'));
    const actionId = await createDelivery('tempfail', 30);
    const rows = await waitForLetters(actionId, 30, (r) => r.every((l) => l.status === 'SENT'), 40_000);
    const r = received(rows);
    for (const l of rows) {
      expect(r.heldOf(l), l.id).toBe(1);
      expect(r.seenOf(l), l.id).toBe(2);
      expect(l.attempts).toBe(2);
    }
    expect(new Set(r.held.map((m) => m.messageId)).size).toBe(30);
    report.push(`a. 451→250: 30 letters SENT, ${r.seen.length} DATA seen, ${r.held.length} accepted, 0 duplicates, ${Date.now() - t} ms`);
  }, 60_000);

  it('b. 550: the letter ends FAILED at once with the 550 in last_error, and is never retried', async () => {
    const t = Date.now();
    deciders.set('permfail', (m) => (/^t[01]\./.test(m.to[0]!) ? 'permfail' : 'accept'));
    const actionId = await createDelivery('permfail', 5);
    let rows = await waitForLetters(actionId, 5, allFinal, 30_000);
    // longer than the first backoff and two sweeps: a retry would have shown by now
    await new Promise((res) => setTimeout(res, 3_000));
    rows = await letters(actionId);
    const r = received(rows);
    const failed = rows.filter((l) => l.status === 'FAILED');
    expect(failed).toHaveLength(2);
    for (const l of failed) {
      expect(l.last_error).toMatch(/^550 /);
      expect(l.attempts).toBe(1);
      expect(r.seenOf(l)).toBe(1);
      expect(r.heldOf(l)).toBe(0);
    }
    for (const l of rows.filter((x) => x.status !== 'FAILED')) {
      expect(l.status).toBe('SENT');
      expect(r.heldOf(l)).toBe(1);
    }
    report.push(`b. 550: 2 of 5 letters FAILED after 1 attempt each (seen once, "${failed[0]!.last_error!.slice(0, 40)}…"), 3 SENT, ${Date.now() - t} ms`);
  }, 60_000);

  it('c. hang: the send times out, is retried, and ends SENT once the server behaves', async () => {
    const t = Date.now();
    deciders.set('hang', (m) => (m.copy === 1 ? 'hang' : 'accept'));
    const actionId = await createDelivery('hang', 10);
    const rows = await waitForLetters(actionId, 10, (x) => x.every((l) => l.status === 'SENT'), 40_000);
    const r = received(rows);
    for (const l of rows) {
      expect(r.seenOf(l), l.id).toBe(2);
      expect(r.heldOf(l), l.id).toBe(1);
      expect(l.attempts).toBeGreaterThanOrEqual(2);
    }
    const first = new Map<string, number>();
    for (const m of r.seen) if (m.copy === 1) first.set(m.messageId!, m.at);
    const gaps = r.seen.filter((m) => m.copy === 2).map((m) => m.at - first.get(m.messageId!)!);
    // the second copy came only after the client gave up on the first (socket timeout)
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(SOCKET_TIMEOUT_MS);
    report.push(`c. hang: 10 letters SENT after a ${SOCKET_TIMEOUT_MS} ms socket timeout each (retry ${Math.min(...gaps)}–${Math.max(...gaps)} ms after the hung copy), 0 duplicates, ${Date.now() - t} ms`);
  }, 60_000);

  it('d. connection dropped after DATA: retried under the same Message-ID, duplicates only where the reply was lost', async () => {
    const t = Date.now();
    deciders.set('drop', (m) => (m.copy === 1 && /^t\d*[02468]\./.test(m.to[0]!) ? 'drop' : 'accept'));
    const actionId = await createDelivery('drop', 20);
    const rows = await waitForLetters(actionId, 20, (x) => x.every((l) => l.status === 'SENT'), 40_000);
    const r = received(rows);
    const dropped = new Set(r.seen.filter((m) => m.fault === 'drop').map((m) => m.messageId));
    expect(dropped.size).toBe(10);
    for (const l of rows) expect(r.heldOf(l), l.id).toBe(dropped.has(l.message_id) ? 2 : 1);
    expect(r.duplicates.map((l) => l.message_id).sort()).toEqual([...dropped].sort());
    expect(new Set(r.held.map((m) => m.messageId)).size).toBe(20);
    report.push(`d. drop after DATA: 20 letters SENT, 10 replies lost → 10 duplicates, each with the same Message-ID, ${r.held.length} copies held, ${Date.now() - t} ms`);
  }, 60_000);

  it('e. SIGKILL of the workers in the middle of 300 letters: none lost, duplicates share the Message-ID', async () => {
    const t = Date.now();
    const N = 300;
    // a short pause before each first reply, so the kill lands while some replies are still owed
    deciders.set('kill', (m) => (m.copy === 1 ? { fault: 'accept', replyDelayMs: 60 } : 'accept'));
    let killed: Promise<void> | null = null;
    let heldAtKill = 0;
    const mine = (m: SeenMessage) => m.to[0]!.endsWith(`.kill.${RUN}.faults.example`);
    smtp.onSeen((m) => {
      if (killed || !mine(m)) return;
      heldAtKill = smtp.seen.filter(mine).length;
      if (heldAtKill >= 100) killed = platform.kill('workers', 'SIGKILL');
    });
    const actionId = await createDelivery('kill', N);
    const until = Date.now() + 40_000;
    while (!killed && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
    expect(killed, `workers were never killed; ${smtp.seen.filter(mine).length} letters arrived`).not.toBeNull();
    await killed;
    smtp.onSeen(null);
    const atKill = await letters(actionId);
    await platform.restart('workers');
    const tRestart = Date.now();
    const rows = await waitForLetters(actionId, N, (x) => x.every((l) => l.status === 'SENT'), 100_000);
    const r = received(rows);
    for (const l of rows) expect(r.heldOf(l), l.id).toBeGreaterThanOrEqual(1);
    expect(new Set(r.held.map((m) => m.messageId)).size).toBe(N);
    // the kill landed between "accepted" and "SENT recorded" for at least one letter: it was sent again, same Message-ID
    expect(r.duplicates.length).toBeGreaterThanOrEqual(1);
    for (const l of r.duplicates) expect(atKill.find((x) => x.id === l.id)!.status).toBe('SUBMITTING');
    // letters whose job the killed process had taken but not yet claimed wait for BullMQ's stalled-job check
    const { rows: late } = await pool.query<{ id: string }>(
      `SELECT l.id FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE b.action_id = $1 AND l.sent_at > $2`,
      [actionId, new Date(tRestart + 15_000)],
    );
    const lateAtKill = tally(atKill.filter((l) => late.some((x) => x.id === l.id)));
    report.push(
      `e. late (sent > 15 s after the restart): ${late.length} letters, at the kill: ${lateAtKill || '-'}`,
    );
    report.push(
      `e. SIGKILL at the ${heldAtKill}th message: letters at kill ${tally(atKill)}; ${N} SENT ${Date.now() - tRestart} ms after the restart, ` +
        `${new Set(r.held.map((m) => m.messageId)).size} distinct Message-IDs held, ${r.duplicates.length} duplicates (all SUBMITTING at the kill, same Message-ID), ${Date.now() - t} ms`,
    );
  }, 180_000);

  it('f. FLUSHDB of Redis in the middle of a run: the sweeper re-enqueues what the database owes, every letter ends SENT', async () => {
    const t = Date.now();
    const N = 150;
    // every first try is refused for now, so letters wait in delayed jobs that only Redis knows about
    deciders.set('flush', (m) => (m.copy === 1 ? 'tempfail' : 'accept'));
    const mine = (m: SeenMessage) => m.to[0]!.endsWith(`.flush.${RUN}.faults.example`);
    const actionId = await createDelivery('flush', N);
    const until = Date.now() + 30_000;
    while (smtp.seen.filter(mine).length < N / 2 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    expect(smtp.seen.filter(mine).length).toBeGreaterThanOrEqual(N / 2);
    const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
    try {
      // never the database `npm start` uses (0): npm test chooses 15, or TEST_REDIS_URL's
      expect(new URL(process.env.REDIS_URL!).pathname.replace('/', '') || '0').not.toBe('0');
      await redis.flushdb();
    } finally {
      redis.disconnect();
    }
    const atFlush = await letters(actionId);
    const owed = atFlush.filter((l) => l.status !== 'SENT').length;
    expect(owed).toBeGreaterThan(0);
    const rows = await waitForLetters(actionId, N, (x) => x.every((l) => l.status === 'SENT'), 60_000);
    const r = received(rows);
    for (const l of rows) expect(r.heldOf(l), l.id).toBe(1);
    expect(new Set(r.held.map((m) => m.messageId)).size).toBe(N);
    report.push(`f. FLUSHDB mid-run: ${owed} of ${N} letters owed at the flush (${tally(atFlush)}); all ${N} SENT afterwards, ${r.duplicates.length} duplicates, ${Date.now() - t} ms`);
  }, 90_000);
});
