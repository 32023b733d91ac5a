// After the whole suite (vitest.config.ts runs the privacy project alone, after all the others):
// no raw email address, signer name or client IP address in any Redis key or value of any
// world's Redis database (tests/support/worlds.ts), nor in the captured output of any platform
// process that ran in this vitest run (tests/support/platform.ts keeps it in .data/test-logs/).
//
// So that the scan never passes on an empty log, it first runs a platform of its own at log
// level info and pushes personal data through every public path: signing by JSON and by the
// page's form, with forged client addresses, a bad submission, a "my data" request, the
// confirmation email.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { createAction } from '../../server/src/testing/harness.ts';
import { LOG_DIR, startPlatform, type Platform } from '../support/platform.ts';
import { allWorlds } from '../support/worlds.ts';

const STAMP = Date.now().toString(36);
const SIGNERS = [
  { firstName: 'Zelda', lastName: `Privacyscan${STAMP}`, email: `zelda.privacy.${STAMP}@example.org` },
  { firstName: 'Ilya', lastName: `Formsigner${STAMP}`, email: `ilya.form.${STAMP}@example.net` },
];
const FORGED_IPS = ['192.0.2.77', '192.0.2.78', '198.51.100.23'];

/** Addresses that are not members': our own sender and reply-to, and the officials of test fixtures. */
const NOT_PERSONAL = /@(chorus\.example\.org|([a-z0-9-]+\.)*gov\.example|([a-z0-9-]+\.)*faults\.example|([a-z0-9-]+\.)*pfaults\.example)$/i;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const IPV4 = /(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])/g;
/** loopback and "any": where our own processes listen, not a client */
const NOT_A_CLIENT = new Set(['127.0.0.1', '0.0.0.0']);

let platform: Platform;
let db: Db;

beforeAll(async () => {
  db = createDb(process.env.DATABASE_URL!, { max: 2 });
  platform = await startPlatform({ LOG_LEVEL: 'info' });
  const { action } = await createAction(db);
  const until = Date.now() + 10_000;
  while (Date.now() < until && !(await fetch(`${platform.baseUrl}/api/actions/${action.slug}`)).ok) await new Promise((r) => setTimeout(r, 100));

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${platform.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': FORGED_IPS[0]!, 'x-chorus-client-ip': FORGED_IPS[1]!, 'x-real-ip': FORGED_IPS[2]!, ...headers },
      body: JSON.stringify(body),
    });
  const s0 = SIGNERS[0]!;
  expect((await post(`/api/actions/${action.slug}/signatures`, { ...s0, country: 'FR', consentCount: true, consentNamed: true })).status).toBe(202);
  // a bad submission carrying the address: refused, and the refusal logs no value
  expect((await post(`/api/actions/${action.slug}/signatures`, { ...s0, email: `${s0.email}@@`, country: 'FR', consentCount: true })).status).toBe(422);
  expect((await post('/api/my-data/requests', { email: s0.email })).status).toBe(202);
  // the page's own form, through SvelteKit's action and its call to the API
  const s1 = SIGNERS[1]!;
  const form = await fetch(`${platform.baseUrl}/actions/${action.slug}?/sign`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.baseUrl, 'x-forwarded-for': FORGED_IPS[0]! },
    body: new URLSearchParams({ ...s1, country: 'SE', consentCount: 'on', website: '' }).toString(),
  });
  expect([200, 303]).toContain(form.status);
  // wait for both confirmation emails: the workers have handled these signers too
  const { rows } = await db.pool.query(`SELECT 1 FROM supporters WHERE canonical_email = ANY($1::text[])`, [SIGNERS.map((s) => s.email)]);
  expect(rows).toHaveLength(2);
  const mailUntil = Date.now() + 30_000;
  while (Date.now() < mailUntil) {
    const { rows: sent } = await db.pool.query(
      `SELECT 1 FROM confirmation_emails e JOIN supporters p ON p.id = e.supporter_id WHERE p.canonical_email = ANY($1::text[]) AND e.sent_at IS NOT NULL`,
      [SIGNERS.map((s) => s.email)],
    );
    if (sent.length === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await db?.close();
});

/** Names of every signer any world's database still knows (others were erased or removed by retention). */
async function knownNames(): Promise<string[]> {
  const names = new Set<string>(SIGNERS.map((s) => s.lastName));
  for (const w of allWorlds()) {
    const other = createDb(w.DATABASE_URL, { max: 1 });
    try {
      const { rows } = await other.pool.query<{ name: string }>(
        `SELECT DISTINCT trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) AS name FROM supporters WHERE last_name IS NOT NULL`,
      );
      // full names of some length only: "Ana López" appears in fixtures, "Ana" alone would match words
      for (const r of rows) if (r.name.length >= 8) names.add(r.name);
    } finally {
      await other.close();
    }
  }
  // and those of the worlds wiped for a file of their own during the run (world-setup.ts)
  for (const f of readdirSync(LOG_DIR).filter((f) => f.endsWith('.names.txt'))) {
    for (const n of readFileSync(join(LOG_DIR, f), 'utf8').split('\n')) if (n.length >= 8) names.add(n);
  }
  return [...names];
}

function findings(where: string, text: string, names: string[]): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(EMAIL)) if (!NOT_PERSONAL.test(m[0])) out.push(`${where}: email ${m[0]}`);
  for (const m of text.matchAll(IPV4)) if (!NOT_A_CLIENT.has(m[0])) out.push(`${where}: IP ${m[0]}`);
  for (const n of names) if (text.includes(n)) out.push(`${where}: name ${n}`);
  return out;
}

describe('privacy scan after the suite', () => {
  it('finds no email address, signer name or client IP in any Redis key or value of any world', async () => {
    const names = await knownNames();
    const problems: string[] = [];
    let keys = 0;
    for (const w of allWorlds()) {
      const redis = new Redis(w.REDIS_URL, { maxRetriesPerRequest: 2 });
      try {
        let cursor = '0';
        do {
          const [next, batch] = await redis.scan(cursor, 'COUNT', 500);
          cursor = next;
          for (const key of batch) {
            keys++;
            problems.push(...findings(`${w.REDIS_URL} key ${key}`, key, names));
            const type = await redis.type(key);
            let value = '';
            if (type === 'string') value = (await redis.get(key)) ?? '';
            else if (type === 'hash') value = JSON.stringify(await redis.hgetall(key));
            else if (type === 'list') value = JSON.stringify(await redis.lrange(key, 0, -1));
            else if (type === 'set') value = JSON.stringify(await redis.smembers(key));
            else if (type === 'zset') value = JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'));
            else if (type === 'stream') value = JSON.stringify(await redis.xrange(key, '-', '+'));
            problems.push(...findings(`${w.REDIS_URL} value of ${key}`, value, names));
          }
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    }
    // the platform above queued jobs and counted rate limits: there was something to scan
    expect(keys).toBeGreaterThan(0);
    expect(problems.slice(0, 20)).toEqual([]);
  });

  it('finds none in the captured output of the platform processes', async () => {
    await platform.stop();
    const names = await knownNames();
    // the development mailbox stands in for the recipients' mail servers: it holds the emails
    // and names their recipients by design, and is no part of Chorus in production
    // the processes' output, and the Redis keys and values of each world as a file left it before
    // the world was made afresh for the next (world-setup.ts)
    const files = readdirSync(LOG_DIR).filter((f) => (f.endsWith('.log') && !f.endsWith('-mailbox.log')) || f.endsWith('.redis.txt'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const problems: string[] = [];
    let bytes = 0;
    for (const f of files) {
      const text = readFileSync(join(LOG_DIR, f), 'utf8');
      bytes += text.length;
      problems.push(...findings(f, text, names));
    }
    // at level info the server logged every request above: the scan read real logs
    const all = files.map((f) => readFileSync(join(LOG_DIR, f), 'utf8')).join('\n');
    expect(all).toMatch(/"url":"\/api\/actions\/[^"]+\/signatures"/);
    expect(bytes).toBeGreaterThan(1000);
    expect(problems.slice(0, 20)).toEqual([]);
  });
});
