// From the attack on sealed data and receipts: a sign-up's keyed fingerprint of its details (a
// hash of a name, a country and choices, which a leaked SECRET_KEY could try names against) is
// kept only while the sign-up waits; a percent-encoded path is still a receipt lookup to the rate
// limit and to the log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, confirmSignatures, signBody, uniqueEmail, type Harness } from '../testing/harness.ts';
import { indexOfEmail } from '../testing/sealed.ts';
import { eraseSupporter } from '../supporter/supporter.repository.ts';
import { redactUrl } from '../http/logging.ts';
import { decodedPath } from '../http/rate-limits.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ env: { PUBLIC_POST_LIMIT_PER_IP: '3', TRUSTED_PROXIES: '' } });
});
afterAll(async () => {
  await h?.close();
});

const versions = async (email: string) =>
  (await h.db.pool.query<{ status: string; signup_version: string | null }>(`SELECT s.status, s.signup_version FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1 ORDER BY s.created_at`, [indexOfEmail(email)])).rows;

describe('the fingerprint of a sign-up’s details', () => {
  it('is kept while it waits, and goes when it is confirmed, set aside, discarded, flagged or erased', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('fingerprint');
    const sign = async (extra: Record<string, unknown>) => {
      const res = await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email, ...extra }) });
      expect(res.statusCode).toBe(202);
    };
    await sign({ firstName: 'Waiting', lastName: 'One' });
    await sign({ firstName: 'Waiting', lastName: 'Two' });
    let rows = await versions(email);
    expect(rows.map((r) => r.status)).toEqual(['PENDING', 'PENDING']);
    for (const r of rows) expect(r.signup_version).toMatch(/^[\w-]{22}$/);
    // confirming one sets the other aside: neither keeps a fingerprint
    const first = (await h.db.pool.query<{ id: string }>(`SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1 ORDER BY s.created_at LIMIT 1`, [indexOfEmail(email)])).rows[0]!.id;
    await confirmSignatures(h.db.pool, 's.id = $1', [first]);
    rows = await versions(email);
    expect(rows.map((r) => r.status)).toEqual(['CONFIRMED', 'INVALIDATED']);
    expect(rows.map((r) => r.signup_version)).toEqual([null, null]);

    // a flagged sign-up (the honeypot) never waits, so it keeps none, and is answered as any other
    const other = uniqueEmail('fingerprint-flagged');
    const flagged = await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email: other, website: 'http://spam.example' }) });
    expect(flagged.statusCode).toBe(202);
    expect((await versions(other)).map((r) => [r.status, r.signup_version])).toEqual([['INVALIDATED', null]]);

    // erasure takes what is left
    const third = uniqueEmail('fingerprint-erased');
    await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email: third }) });
    expect((await versions(third))[0]!.signup_version).not.toBeNull();
    const { rows: sup } = await h.db.pool.query<{ id: string }>(`SELECT id FROM supporters WHERE email_index = $1`, [indexOfEmail(third)]);
    expect(await eraseSupporter(h.db.pool, sup[0]!.id, new Date())).toBe(true);
    const { rows: erased } = await h.db.pool.query(`SELECT signup_version FROM signatures WHERE supporter_id = $1`, [sup[0]!.id]);
    expect(erased.map((r) => r.signup_version)).toEqual([null]);
  });
});

describe('percent-encoded paths', () => {
  it('are read as the router reads them: a receipt lookup by any spelling counts against the limit and is logged without its code', async () => {
    expect(decodedPath('/api/%72eceipts/ABCDE?x=1')).toBe('/api/receipts/ABCDE');
    expect(decodedPath('/api/%zz')).toBe('/api/%zz');
    expect(redactUrl('/api/%72eceipts/7K2QX-9MD4R-PZ1WA-E6TNB')).toBe('/api/receipts/[token]');
    expect(redactUrl('/api/%6Dy-data/some-token?x=1')).toBe('/api/my-data/[token]');
    expect(redactUrl('/api/%zz/x')).toBe('[undecodable path]');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const url = i % 2 ? `/api/%72eceipts/0000${i}-00000-00000-00000` : `/api/receipts/0000${i}-00000-00000-00000`;
      statuses.push((await h.app.inject({ method: 'GET', url, remoteAddress: '198.51.100.77' })).statusCode);
    }
    // three lookups from this address, then 429 whatever the spelling
    expect(statuses.slice(0, 3)).toEqual([404, 404, 404]);
    expect(statuses.slice(3)).toEqual([429, 429]);
  });
});
