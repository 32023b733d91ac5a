// Scale-out: two server processes and two worker processes against the same PostgreSQL and
// Redis. Signatures arrive at both servers, are confirmed through both, and are delivered by
// whichever worker gets there first. Nothing may be lost or sent twice: one confirmation email
// per signature, every confirmed signature in exactly one batch, one copy of each letter, and
// both servers show the same count. (The servers keep no state of their own: sessions, rate
// limits and caches that must agree live in PostgreSQL or Redis.)
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../server/src/queue/queue.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { startFaultySmtp, type FaultySmtp } from '../support/faulty-smtp.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const RUN = randomUUID().slice(0, 8);
const SIGNERS = 60;
const TARGETS = 4;

let smtp: FaultySmtp;
let platform: Platform;
let pool: pg.Pool;
let actionId = '';

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
  smtp = await startFaultySmtp();
  platform = await startPlatform(
    { SMTP_URL: smtp.url, BATCH_INTERVAL_MS: '300', SWEEP_INTERVAL_MS: '1000', SWEEP_GRACE_MS: '3000', LETTERS_PER_DOMAIN_PER_MINUTE: '1000000' },
    { servers: 2, workers: 2 },
  );
}, 120_000);

afterAll(async () => {
  if (actionId) await pool?.query(`UPDATE actions SET status = 'ARCHIVED', archived_at = now() WHERE id = $1`, [actionId]);
  await platform?.stop();
  await smtp?.close();
  await pool?.end();
});

async function createAction(slug: string) {
  const { rows: c } = await pool.query<{ id: string }>(
    `INSERT INTO campaigns (slug) VALUES ('scale-tests') ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id`,
  );
  const { rows: a } = await pool.query<{ id: string }>(
    `INSERT INTO actions (campaign_id, slug, kind, status, delivery_policy, delivery_every_n, published_at)
     VALUES ($1, $2, 'PETITION', 'PUBLISHED', 'IMMEDIATE', 1, now()) RETURNING id`,
    [c[0]!.id, slug],
  );
  await pool.query(
    `INSERT INTO action_texts (action_id, locale, title, summary, body, letter_subject, official_request)
     VALUES ($1, 'en', 'Scale-out test', 'Summary', 'Body', 'Scale-out letter', 'Please act.')`,
    [a[0]!.id],
  );
  const idx = Array.from({ length: TARGETS }, (_, i) => i);
  const { rows: t } = await pool.query<{ id: string }>(
    `INSERT INTO targets (slug, name, kind, email, language, salutation)
     SELECT s, 'Minister', 'MINISTRY', e, 'en', 'Dear Minister' FROM unnest($1::text[], $2::text[]) AS x(s, e) RETURNING id`,
    [idx.map((i) => `${slug}-t${i}`), idx.map((i) => `t${i}@scale.${RUN}.gov.example`)],
  );
  await pool.query(`INSERT INTO action_targets (action_id, target_id, position) SELECT $1, t, p FROM unnest($2::uuid[], $3::int[]) AS x(t, p)`, [
    a[0]!.id,
    t.map((r) => r.id),
    idx,
  ]);
  return a[0]!.id;
}

async function until<T>(what: string, fn: () => Promise<T | null | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not within ${timeoutMs} ms\n${platform.logs.slice(-15).join('')}`);
}

describe('two servers and two workers on one PostgreSQL and Redis', () => {
  it('sign to delivery across both: no lost signature or letter, no duplicate email or letter, the same count on both', async () => {
    const slug = `scale-${RUN}`;
    actionId = await createAction(slug);
    for (const base of platform.baseUrls) await until(`action on ${base}`, async () => (await fetch(`${base}/api/actions/${slug}`)).ok, 10_000);

    // both worker processes are on the queues (the platform is up when its servers answer; the
    // workers may still be starting)
    const q = new Queue(QUEUE_NAMES.delivery, { connection: { url: process.env.REDIS_URL! } });
    try {
      await until('both workers on the queues', async () => (await q.getWorkersCount()) >= 2, 60_000);
    } finally {
      await q.close();
    }

    // signatures arrive at both servers, concurrently
    const emails = Array.from({ length: SIGNERS }, (_, i) => `scale.${RUN}.${i}@example.org`);
    const answers = await Promise.all(
      emails.map((email, i) =>
        fetch(`${platform.baseUrls[i % 2]}/api/actions/${slug}/signatures`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ firstName: 'Scale', lastName: 'Out', email, country: 'CA', consentCount: true }),
        }).then((r) => r.status),
      ),
    );
    expect(answers).toEqual(emails.map(() => 202));

    // one confirmation email per signature, from whichever worker
    const { rows: sigs } = await pool.query<{ id: string }>('SELECT id FROM signatures WHERE action_id = $1', [actionId]);
    expect(sigs).toHaveLength(SIGNERS);
    await until(
      'every confirmation email',
      async () => {
        const { rows } = await pool.query('SELECT 1 FROM confirmation_emails WHERE action_id = $1 AND sent_at IS NOT NULL', [actionId]);
        return rows.length === SIGNERS;
      },
      30_000,
    );
    const confirmations = smtp.seen.filter((m) => sigs.some((s) => m.messageId?.startsWith(`<confirm.${s.id}.`)));
    expect(confirmations).toHaveLength(SIGNERS);
    expect(new Set(confirmations.map((m) => m.messageId)).size).toBe(SIGNERS);

    // confirmed through both servers, as the button on the page does
    const secret = process.env.SECRET_KEY!;
    const confirmed = await Promise.all(
      sigs.map((s, i) =>
        fetch(`${platform.baseUrls[(i + 1) % 2]}/api/confirmations/${confirmationToken({ secret, clock: () => new Date(), confirmLinkTtlHours: 1 }, s.id)}`, {
          method: 'POST',
        }).then(async (r) => (await r.json()) as { status: string }),
      ),
    );
    expect(confirmed.map((c) => c.status)).toEqual(sigs.map(() => 'confirmed'));

    // delivered: every confirmed signature in exactly one batch, every letter SENT once
    const letters = await until(
      'every signature delivered',
      async () => {
        const { rows: open } = await pool.query(`SELECT 1 FROM signatures WHERE action_id = $1 AND batch_id IS NULL`, [actionId]);
        if (open.length > 0) return null;
        const { rows } = await pool.query<{ id: string; status: string; message_id: string; signature_count: number; target_id: string }>(
          `SELECT l.id, l.status, l.message_id, l.signature_count, l.target_id FROM letters l JOIN delivery_batches b ON b.id = l.batch_id WHERE b.action_id = $1`,
          [actionId],
        );
        return rows.length > 0 && rows.every((l) => l.status === 'SENT') ? rows : null;
      },
      60_000,
    );
    const held = smtp.held().filter((m) => letters.some((l) => l.message_id === m.messageId));
    expect(held).toHaveLength(letters.length);
    expect(new Set(held.map((m) => m.messageId)).size).toBe(letters.length);
    // each target was told about every signature exactly once, across however many batches
    const perTarget = new Map<string, number>();
    for (const l of letters) perTarget.set(l.target_id, (perTarget.get(l.target_id) ?? 0) + l.signature_count);
    expect([...perTarget.values()]).toEqual(Array.from({ length: TARGETS }, () => SIGNERS));

    // the public count agrees on both servers (folded once, by one writer)
    for (const base of platform.baseUrls) {
      await until(`count ${SIGNERS} on ${base}`, async () => ((await (await fetch(`${base}/api/actions/${slug}`)).json()) as { count: number }).count === SIGNERS, 10_000);
    }
    const { rows: batches } = await pool.query('SELECT count(*)::int AS n FROM delivery_batches WHERE action_id = $1', [actionId]);
    console.log(`[scale-out] ${SIGNERS} signatures over 2 servers, ${batches[0].n} batches, ${letters.length} letters over 2 workers, 0 duplicates`);
  }, 150_000);
});
