// Promise 8: IP addresses are kept only as keyed hashes, and only as long as the retention
// schedule says.
// Requests come from two distinctive addresses (IPv4 and IPv6) through every public path that
// sees a client address (signing as JSON and as a form, confirming, unsubscribing, asking for
// "my data", a letter preview) and the staff sign-in; then every column of every table and every
// Redis key and value is searched for those addresses, their networks and their integer form.
// The signature rows carry keyed hashes (HMAC with SECRET_KEY), not plain digests; the retention
// job, with a clock the test moves, removes every address-derived hash after the schedule's
// days (IP_HASH_RETENTION_DAYS) and not before.
import { createHash } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetention } from '../../server/src/privacy/retention.service.ts';
import { hashIp, hashNetwork } from '../../server/src/shared/tokens.ts';
import { confirmationToken } from '../../server/src/signature/signature.service.ts';
import { myDataToken, unsubscribeToken } from '../../server/src/supporter/supporter.service.ts';
import { createAction, createHarness, signBody, uniqueEmail, type Harness } from '../../server/src/testing/harness.ts';
import { indexOfEmail, openedSignatures } from '../../server/src/testing/sealed.ts';
import { expectSignatureSealed } from '../support/sealed-checks.ts';

const DAY = 86_400_000;
const V4 = '198.51.100.203';
const V6 = '2001:db8:4d:7e::2a';
/** every spelling of the two addresses (and of their networks) that must not be stored */
const NEEDLES = [V4, '198.51.100.', String(((198 * 256 + 51) * 256 + 100) * 256 + 203), V6, '2001:db8:4d:7e', '2001:0db8:004d:007e'];

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

const tokenDeps = () => ({ secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 24 });

async function fromBoth(slug: string, email: (ip: string) => string) {
  for (const ip of [V4, V6]) {
    const inject = (opts: InjectOptions) => h.app.inject({ ...opts, remoteAddress: ip });
    expect((await inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody({ email: email(ip) }) })).statusCode).toBe(202);
    const form = new URLSearchParams({ firstName: 'Form', lastName: 'Signer', email: `form.${email(ip)}`, country: 'UZ', consentCount: 'on' });
    expect(
      (await inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form.toString() }))
        .statusCode,
    ).toBe(303);
    const { rows } = await h.db.pool.query<{ id: string; supporter_id: string }>(
      `SELECT s.id, s.supporter_id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
      [indexOfEmail(email(ip))],
    );
    const sig = rows[0]!;
    expect((await inject({ method: 'POST', url: `/api/confirmations/${confirmationToken(tokenDeps(), sig.id)}`, payload: {} })).statusCode).toBe(200);
    expect((await inject({ method: 'POST', url: `/api/unsubscribe/${unsubscribeToken(tokenDeps(), sig.supporter_id)}`, payload: {} })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: `/api/my-data/${myDataToken(tokenDeps(), sig.supporter_id)}` })).statusCode).toBe(200);
    expect((await inject({ method: 'POST', url: '/api/my-data/requests', payload: { email: email(ip) } })).statusCode).toBe(202);
    expect((await inject({ method: 'POST', url: '/api/staff/login', headers: { 'x-chorus-csrf': '1' }, payload: { email: uniqueEmail('nobody'), password: 'wrong password here' } })).statusCode).toBe(401);
  }
}

/** The four addresses fromBoth() signs with (as JSON and as a form, from each address), by the blind index they are found by. */
function indexesOf(email: (ip: string) => string): string[] {
  return [V4, V6].flatMap((ip) => [email(ip), `form.${email(ip)}`]).map(indexOfEmail);
}

async function tablesHolding(needles: string[]): Promise<string[]> {
  const { rows: tables } = await h.db.pool.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const found: string[] = [];
  for (const { name } of tables) {
    const { rows } = await h.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name} t WHERE t::text ILIKE ANY($1)`, [
      needles.map((n) => `%${n}%`),
    ]);
    if (rows[0]!.n > 0) found.push(`${name} (${rows[0]!.n} rows)`);
  }
  return found;
}

async function redisHolding(needles: string[]): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await h.redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await h.redis.type(key);
      const value =
        type === 'string' ? await h.redis.get(key)
        : type === 'hash' ? JSON.stringify(await h.redis.hgetall(key))
        : type === 'list' ? JSON.stringify(await h.redis.lrange(key, 0, -1))
        : type === 'set' ? JSON.stringify(await h.redis.smembers(key))
        : type === 'zset' ? JSON.stringify(await h.redis.zrange(key, 0, -1))
        : type === 'stream' ? JSON.stringify(await h.redis.xrange(key, '-', '+'))
        : '';
      const text = `${key}\n${value ?? ''}`.toLowerCase();
      if (needles.some((n) => text.includes(n.toLowerCase()))) found.push(key);
    }
  } while (cursor !== '0');
  return found;
}

describe('promise 8: IP addresses', () => {
  it('no table column and no Redis key or value holds a client address, in any spelling; signatures carry keyed hashes', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const tag = uniqueEmail('ip8').split('@')[0]!;
    const emailOf = (ip: string) => `${tag}.${ip.includes(':') ? 'six' : 'four'}@example.org`;
    await fromBoth(action.slug, emailOf);
    // the letter preview sees the address too
    await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/letter-preview`, payload: { firstName: 'Ana' }, remoteAddress: V4 });

    expect(await tablesHolding(NEEDLES)).toEqual([]);
    expect(await redisHolding(NEEDLES)).toEqual([]);

    // the addresses are sealed: found by their blind index, opened to tell the two clients apart
    const rows = (await openedSignatures(h.db.pool, `p.email_index = ANY($1::text[])`, [indexesOf(emailOf)])).sort((a, b) => (a.email < b.email ? -1 : 1));
    expect(rows).toHaveLength(4);
    expect(rows.map((r) => r.email).sort()).toEqual([V4, V6].flatMap((ip) => [emailOf(ip), `form.${emailOf(ip)}`]).sort());
    for (const r of rows) {
      expectSignatureSealed(r);
      const ip = r.email.includes('.six@') ? V6 : V4;
      expect(r.ip_hash).toBe(hashIp(h.secret, ip));
      expect(r.net_hash).toBe(hashNetwork(h.secret, ip));
      // keyed: not a digest anyone could compute from a guessed address without SECRET_KEY
      for (const plain of [ip, `ip\n${ip}`]) {
        for (const alg of ['sha256', 'sha1', 'md5']) expect(createHash(alg).update(plain).digest('hex').startsWith(r.ip_hash)).toBe(false);
      }
      expect(hashIp('another key of the same length as the test key!', ip)).not.toBe(r.ip_hash);
    }
  });

  it('the retention job removes the address hashes and network hashes of signatures after IP_HASH_RETENTION_DAYS, not before', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const tag = uniqueEmail('ret8').split('@')[0]!;
    const emailOf = (ip: string) => `${tag}.${ip.includes(':') ? 'six' : 'four'}@example.org`;
    await fromBoth(action.slug, emailOf);
    const hashes = async () =>
      (
        await h.db.pool.query<{ ip_hash: string | null; net_hash: string | null }>(
          `SELECT s.ip_hash, s.net_hash FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = ANY($1::text[])`,
          [indexesOf(emailOf)],
        )
      ).rows;
    expect((await hashes()).length).toBe(4);
    const t0 = Date.now();
    // the job works in chunks and the whole suite's rows are its work too: run it until it has nothing left
    const runUntilDone = async (days: number) => {
      for (let i = 0; i < 200; i++) {
        const r = await runRetention({ pool: h.db.pool, clock: () => new Date(t0 + days * DAY), ipHashDays: 7, unconfirmedDays: 30, chunk: 20_000 });
        if (r.ipHashesCleared + r.signaturesDeleted + r.supportersDeleted === 0) return;
      }
      throw new Error('the retention job did not finish');
    };
    await runUntilDone(6);
    for (const r of await hashes()) {
      expect(r.ip_hash).not.toBeNull();
      expect(r.net_hash).not.toBeNull();
    }
    await runUntilDone(8);
    const after = await hashes();
    expect(after.length).toBe(4);
    expect(after).toEqual(after.map(() => ({ ip_hash: null, net_hash: null })));
    // and nowhere else in the database does a hash of these addresses remain
    const derived = [V4, V6].flatMap((ip) => [hashIp(h.secret, ip), hashNetwork(h.secret, ip)!]);
    expect(await tablesHolding(derived)).toEqual([]);
  }, 180_000);
});
