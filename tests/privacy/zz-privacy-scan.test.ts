// After the whole suite (vitest.config.ts runs the privacy project alone, after all the others):
// no raw email address, signer name, member's letter or client IP address in any Redis key or
// value of any world's Redis database (tests/support/worlds.ts), in the captured output of any
// platform process that ran in this vitest run (tests/support/platform.ts keeps it in
// .data/test-logs/), nor anywhere in a dump (pg_dump) of every world's database: personal data
// is sealed at rest (server/src/privacy/personal-data.ts).
//
// So that the scan never passes on empty data, it first runs a platform of its own at log
// level info and pushes personal data through every public path: signing by JSON and by the
// page's form, with forged client addresses, a bad submission, a "my data" request, the
// confirmation email, and a member's own letter confirmed and delivered to an official.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/src/db/db.ts';
import { createAction } from '../../server/src/testing/harness.ts';
import { LOG_DIR, startPlatform, type Platform } from '../support/platform.ts';
import { allWorlds } from '../support/worlds.ts';
import { signerNames } from '../support/signer-names.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { openLetter, SealedDataError, supporterKey } from '../../server/src/privacy/personal-data.ts';

const STAMP = Date.now().toString(36);
const SIGNERS = [
  { firstName: 'Zelda', lastName: `Privacyscan${STAMP}`, email: `zelda.privacy.${STAMP}@example.org` },
  { firstName: 'Ilya', lastName: `Formsigner${STAMP}`, email: `ilya.form.${STAMP}@example.net` },
];
const FORGED_IPS = ['192.0.2.77', '192.0.2.78', '198.51.100.23'];
/** a member's own letter, confirmed and delivered: its words may be nowhere but in the letter sent */
const LETTER = { firstName: 'Oksana', lastName: `Lettersigner${STAMP}`, email: `oksana.letter.${STAMP}@example.com`, subject: `Release the detained lawyers ${STAMP}`, body: `I write as a nurse from Almaty, marker ${STAMP}: let independent doctors visit every detainee.` };

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
  const indexes = SIGNERS.map((s) => indexOfEmail(s.email));
  const { rows } = await db.pool.query(`SELECT 1 FROM supporters WHERE email_index = ANY($1::text[])`, [indexes]);
  expect(rows).toHaveLength(2);
  const mailUntil = Date.now() + 30_000;
  while (Date.now() < mailUntil) {
    const { rows: sent } = await db.pool.query(
      `SELECT 1 FROM confirmation_emails e JOIN supporters p ON p.id = e.supporter_id WHERE p.email_index = ANY($1::text[]) AND e.sent_at IS NOT NULL`,
      [indexes],
    );
    if (sent.length === 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  // a member's own letter: signed, confirmed through the link in the email, delivered at once
  const { action: letterAction } = await createAction(db);
  await db.pool.query(`UPDATE actions SET kind = 'LETTER', allow_personalisation = true WHERE id = $1`, [letterAction.id]);
  const letterUntil = Date.now() + 10_000;
  while (Date.now() < letterUntil && !((await fetch(`${platform.baseUrl}/api/actions/${letterAction.slug}`).then((r) => r.json())) as { allowPersonalisation?: boolean }).allowPersonalisation)
    await new Promise((r) => setTimeout(r, 200));
  expect(
    (
      await post(`/api/actions/${letterAction.slug}/signatures`, {
        firstName: LETTER.firstName,
        lastName: LETTER.lastName,
        email: LETTER.email,
        country: 'KZ',
        consentCount: true,
        consentNamed: true,
        letterSubject: LETTER.subject,
        letterBody: LETTER.body,
      })
    ).status,
  ).toBe(202);
  let link: string | undefined;
  const linkUntil = Date.now() + 30_000;
  while (!link && Date.now() < linkUntil) {
    const messages = (await (await fetch(`${platform.mailboxUrl}/api/messages`)).json()) as { envelope: { to: string[] }; text?: string }[];
    const mine = messages.find((m) => m.envelope.to.includes(LETTER.email) && m.text?.includes('/confirm/'));
    link = mine?.text?.match(/\/confirm\/([A-Za-z0-9._~-]+)/)?.[1];
    if (!link) await new Promise((r) => setTimeout(r, 200));
  }
  expect(link).toBeDefined();
  const confirmed = await fetch(`${platform.baseUrl}/api/confirmations/${link}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(confirmed.status).toBe(200);
  expect(((await confirmed.json()) as { receipt?: string }).receipt).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
  // the letter reaches the official (the mailbox stands in for their mail server)
  const sentUntil = Date.now() + 30_000;
  let delivered = false;
  while (!delivered && Date.now() < sentUntil) {
    const messages = (await (await fetch(`${platform.mailboxUrl}/api/messages`)).json()) as { envelope: { to: string[] }; text?: string }[];
    delivered = messages.some((m) => m.envelope.to.some((t) => t.endsWith('gov.example')) && (m.text ?? '').includes(`marker ${STAMP}`));
    if (!delivered) await new Promise((r) => setTimeout(r, 300));
  }
  expect(delivered).toBe(true);
}, 180_000);

afterAll(async () => {
  await platform?.stop();
  await db?.close();
});

/** Names of every signer any world's database still knows (others were erased or removed by retention). */
async function knownNames(): Promise<string[]> {
  const names = new Set<string>([...SIGNERS.map((s) => s.lastName), LETTER.lastName]);
  for (const w of allWorlds()) {
    const other = createDb(w.DATABASE_URL, { max: 1 });
    try {
      // full names of some length only: "Ana López" appears in fixtures, "Ana" alone would match words
      for (const n of await signerNames(other.pool)) if (n.length >= 8) names.add(n);
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

/** The members' own letters any world's database holds (sealed): phrases of them, to look for in the dumps. */
async function knownLetterPhrases(): Promise<string[]> {
  const phrases = new Set<string>([LETTER.subject, LETTER.body.slice(0, 40)]);
  for (const w of allWorlds()) {
    const other = createDb(w.DATABASE_URL, { max: 1 });
    try {
      const { rows } = await other.pool.query<{ supporter_id: string; data_key: Buffer; letter: Buffer }>(
        `SELECT s.supporter_id, p.data_key, s.letter FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE s.letter IS NOT NULL AND p.data_key IS NOT NULL`,
      );
      for (const r of rows) {
        try {
          const l = openLetter(supporterKey(r.supporter_id, r.data_key), r.supporter_id, r.letter);
          // a long enough stretch of a body, not the fixtures' common words
          if (l.body && l.body.length >= 30) phrases.add(l.body.slice(0, 30));
        } catch (err) {
          if (!(err instanceof SealedDataError)) throw err;
        }
      }
    } finally {
      await other.close();
    }
  }
  return [...phrases];
}

/** Addresses that are not members' in a world's database: staff accounts and officials (neither is sealed, by design). */
async function notMembers(url: string): Promise<Set<string>> {
  const other = createDb(url, { max: 1 });
  try {
    // the addresses in staff's and officials' own rows, and any that staff wrote into an action's
    // texts, its reply-to or a target (tests put hostile ones there): none of them a member's
    const { rows } = await other.pool.query<{ text: string }>(
      `SELECT email AS text FROM staff_users UNION ALL SELECT concat_ws(' ', email, name, title, organisation, salutation, notes, names::text) FROM targets
       UNION ALL SELECT reply_to FROM actions WHERE reply_to IS NOT NULL
       UNION ALL SELECT concat_ws(' ', title, summary, body, letter_subject, official_request, share_text) FROM action_texts`,
    );
    const out = new Set<string>();
    for (const r of rows) for (const m of (r.text ?? '').matchAll(EMAIL)) out.add(m[0].toLowerCase());
    return out;
  } finally {
    await other.close();
  }
}

describe('privacy scan after the suite', () => {
  it('finds no member\'s email address, name or letter in a dump of any world\'s database', async () => {
    const names = await knownNames();
    const phrases = await knownLetterPhrases();
    const problems: string[] = [];
    let bytes = 0;
    let worlds = 0;
    for (const w of allWorlds()) {
      const dump = spawnSync('pg_dump', ['--no-owner', '--no-privileges', w.DATABASE_URL], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
      if (dump.status !== 0 && /does not exist/.test(dump.stderr)) continue;
      expect(dump.status, dump.stderr).toBe(0);
      worlds++;
      bytes += dump.stdout.length;
      const staffAndOfficials = await notMembers(w.DATABASE_URL);
      for (const m of dump.stdout.matchAll(EMAIL)) {
        if (!NOT_PERSONAL.test(m[0]) && !staffAndOfficials.has(m[0].toLowerCase())) problems.push(`${w.DATABASE_URL}: email ${m[0]}`);
      }
      for (const n of names) if (dump.stdout.includes(n)) problems.push(`${w.DATABASE_URL}: name ${n}`);
      for (const p of phrases) if (dump.stdout.includes(p)) problems.push(`${w.DATABASE_URL}: letter "${p}"`);
    }
    // this file's own world holds the signers above, sealed: there was something to find
    expect(worlds).toBeGreaterThan(0);
    expect(bytes).toBeGreaterThan(100_000);
    const own = spawnSync('pg_dump', ['--data-only', '--table=supporters', process.env.DATABASE_URL!], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    expect(own.stdout).toMatch(/COPY public\.supporters/);
    for (const s of [...SIGNERS, LETTER]) expect(own.stdout).not.toContain(s.email);
    expect(problems.slice(0, 20)).toEqual([]);
  }, 300_000);

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
