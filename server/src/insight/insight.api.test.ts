// The staff console's dashboard, fraud and moderation, and exports, through the HTTP API
// against the real test database: figures, count corrections, audit, role refusals and
// hostile input.
import { randomUUID } from 'node:crypto';
import { parseCsv as parse } from '../testing/csv.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRouteTable } from '../http/routes/admin/index.ts';
import { foldConfirmations } from '../signature/counter.service.ts';
import { hashIp, hashNetwork } from '../shared/tokens.ts';
import { asStaff, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness } from '../testing/harness.ts';
import type { SignatureStatus } from '../db/db.ts';
import { signaturesInvalidated } from '../shared/metrics.ts';
import { indexOfDomain, indexOfEmail, insertSupporters } from '../testing/sealed.ts';

let h: Harness;
let campaigner: { id: string; cookie: string };
let viewer: { id: string; cookie: string };
let admin: { id: string; cookie: string };

beforeAll(async () => {
  h = await createHarness();
  // the harness's clock stands still unless moved; here it follows real time
  Object.defineProperty(h.now, 'value', { get: () => new Date(), set: () => {} });
  campaigner = await staffSession(h.db, 'CAMPAIGNER');
  viewer = await staffSession(h.db, 'VIEWER');
  admin = await staffSession(h.db, 'ADMIN');
});
afterAll(async () => {
  await h?.close();
});

interface Seed {
  n: number;
  domain?: string;
  status?: SignatureStatus;
  country?: string;
  firstName?: string;
  lastName?: string;
  ip?: string;
  source?: string | null;
  createdAt?: Date;
  publicWall?: boolean;
}

/**
 * Writes n supporters and their signatures in one statement (what the signing path stores),
 * with their confirmation email already sent: no worker of a later test owes them mail.
 */
async function seed(actionId: string, s: Seed): Promise<string[]> {
  const tag = randomUUID().slice(0, 8);
  const ip = s.ip ?? `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.7`;
  const domain = s.domain ?? 'example.org';
  const country = s.country ?? 'MX';
  // the supporters as the signing path stores them: address and name sealed, found by blind index
  const supporters = await insertSupporters(
    h.db.pool,
    Array.from({ length: s.n }, (_, i) => ({ email: `P${i + 1}.${tag}@${domain}`, firstName: s.firstName ?? 'Ana', lastName: `${s.lastName ?? 'Test'}${i + 1}`, country })),
  );
  const { rows } = await h.db.pool.query<{ id: string }>(
    `INSERT INTO signatures (action_id, supporter_id, country, status, confirmed_at, invalidated_at, ip_hash, net_hash, source, created_at, public_wall)
     SELECT $3, u.id, $2, $4::"SignatureStatus", CASE WHEN $4 = 'CONFIRMED' THEN $8::timestamptz END,
            CASE WHEN $4 = 'INVALIDATED' THEN $8::timestamptz END, $5, $6, $7, $8, $9
       FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n RETURNING id`,
    [
      supporters,
      country,
      actionId,
      s.status ?? 'CONFIRMED',
      hashIp(h.secret, ip),
      hashNetwork(h.secret, ip),
      s.source === undefined ? 'web' : s.source,
      s.createdAt ?? new Date(),
      s.publicWall ?? false,
    ],
  );
  return rows.map((r) => r.id);
}

async function fold() {
  while ((await foldConfirmations(h.db.pool)) > 0);
  await h.cache.refresh();
}

async function publicCount(slug: string) {
  const res = await h.app.inject({ method: 'GET', url: `/api/actions/${slug}` });
  expect(res.statusCode).toBe(200);
  const body = res.json();
  return {
    count: body.count as number,
    countries: body.countries as { country: string; count: number }[],
    otherCountries: body.otherCountries as number,
    wall: body.wall as { firstName: string }[],
  };
}

async function stats(actionId: string) {
  const a = await h.db.pool.query<{ confirmed_count: number }>('SELECT confirmed_count FROM action_stats WHERE action_id = $1', [actionId]);
  const c = await h.db.pool.query<{ country: string; confirmed_count: number }>(
    'SELECT country, confirmed_count FROM action_country_stats WHERE action_id = $1 ORDER BY country',
    [actionId],
  );
  return { total: a.rows[0]?.confirmed_count ?? 0, byCountry: Object.fromEntries(c.rows.map((r) => [r.country, r.confirmed_count])) };
}

const MY_PREFIXES = ['/api/admin/dashboard', '/api/admin/fraud', '/api/admin/exports'];

describe('access', () => {
  it('every dashboard, fraud and export route refuses strangers (401) and the wrong role (403)', async () => {
    const routes = adminRouteTable().filter((r) => MY_PREFIXES.some((p) => r.url.startsWith(p)));
    expect(routes.length).toBeGreaterThanOrEqual(11);
    const fill = (url: string) => url.replace(/:[a-zA-Z]+/g, randomUUID());
    for (const r of routes) {
      const url = fill(r.url);
      const anon = await asStaff(h.app, null, { method: r.method as 'GET', url });
      expect(anon.statusCode, `${r.method} ${r.url} without a session`).toBe(401);
      for (const [role, who] of [
        ['VIEWER', viewer],
        ['CAMPAIGNER', campaigner],
        ['ADMIN', admin],
      ] as const) {
        const res = await asStaff(h.app, who.cookie, { method: r.method as 'GET', url });
        if (r.roles.includes(role)) expect(res.statusCode, `${r.method} ${r.url} as ${role}`).not.toBe(403);
        else expect(res.statusCode, `${r.method} ${r.url} as ${role}`).toBe(403);
      }
    }
    // what each area declares
    const roles = Object.fromEntries(routes.map((r) => [`${r.method} ${r.url}`, r.roles.join(',')]));
    expect(roles['GET /api/admin/dashboard']).toBe('ADMIN,CAMPAIGNER,VIEWER');
    expect(roles['GET /api/admin/fraud/signatures']).toBe('ADMIN,CAMPAIGNER');
    expect(roles['GET /api/admin/fraud/wall']).toBe('ADMIN,CAMPAIGNER');
    expect(roles['POST /api/admin/fraud/invalidate']).toBe('ADMIN,CAMPAIGNER');
    expect(roles['POST /api/admin/fraud/wall/:signatureId/hide']).toBe('ADMIN,CAMPAIGNER');
    expect(roles['POST /api/admin/exports']).toBe('ADMIN,CAMPAIGNER');
  });

  it('state-changing calls without the CSRF header are refused', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/admin/fraud/invalidate',
      headers: { cookie: campaigner.cookie },
      payload: { filter: { emailDomain: 'x.example' }, asOf: new Date().toISOString(), expectedCount: 1 },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('csrf');
  });
});

describe('dashboard', () => {
  it('gives totals, a continuous time series, countries, sources and deliveries per action', async () => {
    const { action } = await createAction(h.db);
    const now = new Date();
    const twoHoursAgo = new Date(now.getTime() - 2 * 3_600_000);
    await seed(action.id, { n: 5, status: 'CONFIRMED', country: 'MX', source: 'newsletter' });
    await seed(action.id, { n: 3, status: 'CONFIRMED', country: 'PH', source: 'newsletter', createdAt: twoHoursAgo });
    await seed(action.id, { n: 4, status: 'PENDING', country: 'MX', source: null });
    await seed(action.id, { n: 2, status: 'INVALIDATED', country: 'FR' });
    await fold();

    const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/dashboard/actions/${action.id}?range=hour` });
    expect(res.statusCode).toBe(200);
    const d = res.json();
    expect(d.totals).toMatchObject({ confirmed: 8, pending: 4, invalidated: 2, counted: 8 });
    expect(d.totals.confirmationRate).toBeCloseTo(8 / 12);
    expect(d.series).toHaveLength(48);
    const sum = (k: string) => d.series.reduce((n: number, b: Record<string, number>) => n + b[k]!, 0);
    expect([sum('confirmed'), sum('pending'), sum('invalidated')]).toEqual([8, 4, 2]);
    expect(d.series.at(-1)).toMatchObject({ confirmed: 5, pending: 4, invalidated: 2 });
    expect(d.series.at(-3)).toMatchObject({ confirmed: 3, pending: 0 });
    expect(d.countries).toEqual([
      { country: 'MX', count: 5 },
      { country: 'PH', count: 3 },
    ]);
    expect(d.belowMinimum).toBeNull();
    expect(d.sources).toEqual([
      { source: 'newsletter', count: 8 },
      { source: '', count: 4 },
    ]);
    expect(d.delivery).toMatchObject({ batches: 0, waiting: 8, signaturesDelivered: 0 });
    expect(d.action).toMatchObject({ id: action.id, slug: action.slug, kind: 'PETITION' });
    expect(d.ledger).toEqual([]);

    const minutes = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/dashboard/actions/${action.id}?range=minute` });
    expect(minutes.json().series).toHaveLength(60);
    const days = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/dashboard/actions/${action.id}?range=day` });
    expect(days.json().series).toHaveLength(30);
    expect(days.json().series.at(-1).confirmed + days.json().series.at(-2).confirmed).toBe(8);
  });

  it('shows a viewer only the countries the public sees (PUBLIC_COUNTRY_MIN), the others counted together; campaigners and admins every country', async () => {
    const { action } = await createAction(h.db);
    const min = h.config.PUBLIC_COUNTRY_MIN;
    await seed(action.id, { n: min, status: 'CONFIRMED', country: 'MX' });
    await seed(action.id, { n: 1, status: 'CONFIRMED', country: 'UZ' });
    await seed(action.id, { n: 2, status: 'CONFIRMED', country: 'KZ' });
    await fold();
    for (const url of [`/api/admin/dashboard/actions/${action.id}?range=minute`, '/api/admin/dashboard?range=minute']) {
      const seen = (await asStaff(h.app, viewer.cookie, { method: 'GET', url })).json();
      const mine = seen.countries.filter((c: { country: string }) => ['MX', 'UZ', 'KZ'].includes(c.country));
      if (url.includes('/actions/')) {
        expect(seen.countries).toEqual([{ country: 'MX', count: min }]);
        expect(seen.belowMinimum).toEqual({ count: 3, min });
      } else {
        // every action together: no country under the minimum is named, whatever other tests left
        expect(seen.countries.every((c: { count: number }) => c.count >= min)).toBe(true);
        expect(mine.map((c: { country: string }) => c.country)).toContain('MX');
        expect(seen.belowMinimum.min).toBe(min);
      }
      for (const who of [campaigner, admin]) {
        const full = (await asStaff(h.app, who.cookie, { method: 'GET', url })).json();
        expect(full.belowMinimum).toBeNull();
        expect(full.countries.find((c: { country: string }) => c.country === 'UZ')?.count).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('overall: every action with its counts, and totals that add them up', async () => {
    const { action } = await createAction(h.db);
    await seed(action.id, { n: 3, status: 'CONFIRMED' });
    await seed(action.id, { n: 1, status: 'PENDING' });
    await fold();
    const res = await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/dashboard?range=day&locale=en' });
    expect(res.statusCode).toBe(200);
    const d = res.json();
    const line = d.actions.find((a: { id: string }) => a.id === action.id);
    expect(line).toMatchObject({ confirmed: 3, pending: 1, invalidated: 0, counted: 3, title: `Title en ${action.slug}` });
    const sum = (k: string) => d.actions.reduce((n: number, a: Record<string, number>) => n + a[k]!, 0);
    expect(d.totals.confirmed).toBe(sum('confirmed'));
    expect(d.totals.pending).toBe(sum('pending'));
    expect(d.series).toHaveLength(30);
  });

  it('answers 404 for an unknown action and 422 for a malformed id or range', async () => {
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/dashboard/actions/${randomUUID()}` })).statusCode).toBe(404);
    const bad = await asStaff(h.app, viewer.cookie, { method: 'GET', url: "/api/admin/dashboard/actions/1'%20OR%201=1" });
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ statusCode: 422, code: expect.any(String) });
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/dashboard?range=week' })).statusCode).toBe(422);
  });
});

describe('fraud: preview and bulk invalidation', () => {
  it('finds a burst by email domain, shows no full address, invalidates it and corrects the public counts', async () => {
    const { action } = await createAction(h.db);
    const domain = `burst-${randomUUID().slice(0, 6)}.example`;
    // signed two days ago: public counts by country are those of the start of today (promise 6)
    const createdAt = new Date(Date.now() - 2 * 86_400_000);
    await seed(action.id, { n: 10, status: 'CONFIRMED', country: 'MX', createdAt });
    await seed(action.id, { n: 6, status: 'CONFIRMED', country: 'MX', domain, createdAt });
    await seed(action.id, { n: 4, status: 'CONFIRMED', country: 'UZ', domain, createdAt });
    await fold();
    // confirmed after the last fold: not folded into action_stats yet, but in the public count
    // at once (the cache adds the confirmations the counter has not folded yet)
    await seed(action.id, { n: 3, status: 'CONFIRMED', country: 'UZ', domain, createdAt });
    // still pending
    await seed(action.id, { n: 2, status: 'PENDING', country: 'MX', domain, createdAt });
    await h.cache.refresh();
    await h.cache.refreshCountries();

    const before = await publicCount(action.slug);
    expect(before.count).toBe(23);
    // Uzbekistan, below the public minimum of 10, is counted under "other countries"
    expect(before.countries).toEqual([{ country: 'MX', count: 16 }]);
    expect(before.otherCountries).toBe(7);
    expect(await stats(action.id)).toEqual({ total: 20, byCountry: { MX: 16, UZ: 4 } });

    const preview = await asStaff(h.app, campaigner.cookie, {
      method: 'GET',
      url: `/api/admin/fraud/signatures?actionId=${action.id}&emailDomain=${domain.toUpperCase()}`,
    });
    expect(preview.statusCode).toBe(200);
    const p = preview.json();
    expect(p.count).toBe(15);
    expect(p.sample).toHaveLength(15);
    expect(p.sample[0]).toMatchObject({ emailDomain: domain, firstName: 'Ana', actionSlug: action.slug });
    expect(JSON.stringify(p.sample)).not.toMatch(/@/);
    expect(JSON.stringify(p.sample)).not.toMatch(/Test\d/); // no last names
    expect(p.clusters.emailDomain).toEqual([{ value: domain, count: 15 }]);

    // a viewer may neither look nor act
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${action.id}&emailDomain=${domain}` })).statusCode).toBe(403);
    const body = { filter: { actionId: action.id, emailDomain: domain }, asOf: p.asOf, expectedCount: p.count, reason: 'burst from one domain' };
    expect((await asStaff(h.app, viewer.cookie, { method: 'POST', url: '/api/admin/fraud/invalidate', payload: body })).statusCode).toBe(403);

    // a wrong expected count changes nothing (nor the chorus_signatures_invalidated_total{reason="fraud"} count)
    const fraudCount = async () => (await signaturesInvalidated.get()).values.find((v) => v.labels.reason === 'fraud')?.value ?? 0;
    const fraudBefore = await fraudCount();
    const stale = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/fraud/invalidate', payload: { ...body, expectedCount: 14 } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().code).toBe('count_changed');
    await h.cache.refresh();
    expect((await publicCount(action.slug)).count).toBe(23);

    // a signature from the same domain arriving after the preview is left alone
    await seed(action.id, { n: 1, status: 'PENDING', domain, createdAt: new Date(Date.now() + 1000) });

    const done = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/fraud/invalidate', payload: body });
    expect(done.statusCode).toBe(200);
    expect(done.json()).toEqual({ invalidated: 15, uncounted: 10 });
    expect((await fraudCount()) - fraudBefore).toBe(15);

    // the total at once; the counts by country at their next reading (at most 10 minutes)
    await h.cache.refreshCountries();
    const after = await publicCount(action.slug);
    expect(after.count).toBe(10);
    expect(after.countries).toEqual([{ country: 'MX', count: 10 }]);
    expect(after.otherCountries).toBe(0);
    expect(await stats(action.id)).toEqual({ total: 10, byCountry: { MX: 10, UZ: 0 } });
    // the 3 confirmed but never folded are never folded now
    await fold();
    expect(await stats(action.id)).toEqual({ total: 10, byCountry: { MX: 10, UZ: 0 } });

    const { rows } = await h.db.pool.query(
      `SELECT status, invalid_reason, invalidated_at IS NOT NULL AS at, count(*)::int AS n FROM signatures s JOIN supporters p ON p.id = s.supporter_id
        WHERE s.action_id = $1 AND p.email_domain_index = $2 GROUP BY 1, 2, 3 ORDER BY 1`,
      [action.id, indexOfDomain(domain)],
    );
    expect(rows).toEqual([
      { status: 'PENDING', invalid_reason: null, at: false, n: 1 },
      { status: 'INVALIDATED', invalid_reason: 'burst from one domain', at: true, n: 15 },
    ]);

    const audit = await h.db.pool.query(`SELECT staff_id, entity, before, after FROM audit_log WHERE verb = 'bulk_invalidated' AND entity_id = $1`, [action.id]);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]).toMatchObject({
      staff_id: campaigner.id,
      // the record acted on is the action whose signatures were set aside
      entity: 'action',
      before: { filter: { actionId: action.id, emailDomain: domain } },
      after: { invalidated: 15, uncounted: 10, reason: 'burst from one domain' },
    });

    // the dashboard agrees at once
    const dash = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/dashboard/actions/${action.id}` });
    expect(dash.json().totals).toMatchObject({ confirmed: 10, invalidated: 15, counted: 10 });
  });

  it('finds by typed address, by network, by address or network hash, without storing the address', async () => {
    const { action } = await createAction(h.db);
    await seed(action.id, { n: 3, ip: '203.0.113.9' });
    await seed(action.id, { n: 2, ip: '203.0.113.77' });
    await seed(action.id, { n: 4, ip: '2001:db8:1:2::5' });
    await seed(action.id, { n: 1, ip: '2001:db8:1:2:ffff::1' });
    await seed(action.id, { n: 1, ip: '198.51.100.1' });
    const count = async (q: string) => {
      const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${action.id}&${q}` });
      expect(res.statusCode, q).toBe(200);
      return res.json().count as number;
    };
    expect(await count('ip=203.0.113.9')).toBe(3);
    expect(await count('network=203.0.113.200')).toBe(5);
    expect(await count(`ipHash=${hashIp(h.secret, '203.0.113.77')}`)).toBe(2);
    expect(await count(`netHash=${hashNetwork(h.secret, '203.0.113.1')}`)).toBe(5);
    expect(await count(`network=${encodeURIComponent('2001:db8:1:2::abcd')}`)).toBe(5);
    // another spelling of the same address, and IPv4 as a server listening on :: sees it
    expect(await count(`ip=${encodeURIComponent('2001:0DB8:0001:0002:0000:0000:0000:0005')}`)).toBe(4);
    await seed(action.id, { n: 2, ip: '::ffff:192.0.2.4' });
    expect(await count('ip=192.0.2.4')).toBe(2);
    expect(await count('network=192.0.2.99')).toBe(2);
    const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${action.id}&network=203.0.113.5` });
    expect(JSON.stringify(res.json())).not.toContain('203.0.113');
    expect(res.json().clusters.netHash).toEqual([{ value: hashNetwork(h.secret, '203.0.113.5'), count: 5 }]);
  });

  it('matches names as literal case-insensitive substrings, by time window and status', async () => {
    const { action } = await createAction(h.db);
    const old = new Date(Date.now() - 3 * 86_400_000);
    await seed(action.id, { n: 2, firstName: 'Bot', lastName: '100%_x' });
    await seed(action.id, { n: 3, firstName: 'Bot', lastName: '100ab', status: 'PENDING' });
    await seed(action.id, { n: 4, firstName: 'Ana', createdAt: old });
    const count = async (q: string) => {
      const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${action.id}&${q}` });
      expect(res.statusCode, q).toBe(200);
      return res.json().count as number;
    };
    expect(await count('namePattern=bot')).toBe(5);
    expect(await count(`namePattern=${encodeURIComponent('100%_')}`)).toBe(2);
    expect(await count(`namePattern=${encodeURIComponent("'; DROP TABLE signatures; --")}`)).toBe(0);
    expect(await count('namePattern=bot&status=PENDING')).toBe(3);
    expect(await count(`to=${new Date(Date.now() - 86_400_000).toISOString()}`)).toBe(4);
    expect(await count(`from=${new Date(Date.now() - 86_400_000).toISOString()}`)).toBe(5);
    expect(await count(`from=${new Date(Date.now() - 86_400_000).toISOString()}&namePattern=nobody`)).toBe(0);
  });

  it('refuses hostile or empty filters with a clear 422, and unknown actions with 404', async () => {
    const bad: [string, string][] = [
      ['', 'validation'],
      ['emailDomain=example.org', 'validation'], // no action: every search is within one
      [`actionId=${randomUUID()}`, 'filter_too_broad'],
      ['ip=999.1.1.1', 'validation'],
      ['network=not-an-ip', 'validation'],
      ['ipHash=abc', 'validation'],
      ["ipHash=' OR 1=1 --", 'validation'],
      ['emailDomain=%25', 'validation'],
      ['emailDomain=a@b@c', 'validation'],
      ['from=yesterday', 'validation'],
      ['namePattern=a', 'validation'],
      [`namePattern=${encodeURIComponent('bad\u0000name')}`, 'validation'],
      ['status=INVALIDATED&namePattern=xx', 'validation'],
      ['actionId=1;DROP&namePattern=xx', 'validation'],
    ];
    for (const [q, code] of bad) {
      const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?${q}` });
      expect(res.statusCode, q).toBe(422);
      const body = res.json();
      expect(body.statusCode).toBe(422);
      if (code !== 'validation') expect(body.code, q).toBe(code);
    }
    const unknown = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/signatures?actionId=${randomUUID()}&namePattern=xx` });
    expect(unknown.statusCode).toBe(404);
    for (const payload of [
      {},
      { filter: {}, asOf: new Date().toISOString(), expectedCount: 1 },
      { filter: { emailDomain: 'x.example' }, asOf: 'soon', expectedCount: 1 },
      { filter: { emailDomain: 'x.example' }, asOf: new Date().toISOString(), expectedCount: 0 },
      { filter: { emailDomain: 'x.example' }, asOf: new Date().toISOString(), expectedCount: 1, reason: 'two\nlines' },
    ]) {
      const res = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/fraud/invalidate', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(422);
    }
  });
});

describe('wall moderation', () => {
  it('hides a signer from the public wall and shows them again, audited', async () => {
    const { action } = await createAction(h.db);
    // the wall shows signers from the day after they signed (promise 6)
    const createdAt = new Date(Date.now() - 2 * 86_400_000);
    const [rude] = await seed(action.id, { n: 1, firstName: 'Rude', publicWall: true, createdAt });
    await seed(action.id, { n: 1, firstName: 'Kind', publicWall: true, createdAt });
    await seed(action.id, { n: 1, firstName: 'Private', publicWall: false, createdAt });
    await h.cache.refresh();
    expect((await publicCount(action.slug)).wall.map((w) => w.firstName).sort()).toEqual(['Kind', 'Rude']);

    const list = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/wall?actionId=${action.id}` });
    expect(list.statusCode).toBe(200);
    expect(list.json().entries.map((e: { firstName: string }) => e.firstName).sort()).toEqual(['Kind', 'Rude']);

    expect((await asStaff(h.app, viewer.cookie, { method: 'POST', url: `/api/admin/fraud/wall/${rude}/hide` })).statusCode).toBe(403);
    const hide = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/fraud/wall/${rude}/hide` });
    expect(hide.statusCode).toBe(200);
    expect(hide.json()).toMatchObject({ signatureId: rude, firstName: 'Rude', hiddenAt: expect.any(String) });
    expect((await publicCount(action.slug)).wall.map((w) => w.firstName)).toEqual(['Kind']);
    const again = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/fraud/wall?actionId=${action.id}` });
    expect(again.json().entries.find((e: { signatureId: string }) => e.signatureId === rude).hiddenAt).not.toBeNull();
    // hiding twice changes nothing more
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/fraud/wall/${rude}/hide` })).statusCode).toBe(200);

    const show = await asStaff(h.app, admin.cookie, { method: 'POST', url: `/api/admin/fraud/wall/${rude}/show` });
    expect(show.json().hiddenAt).toBeNull();
    expect((await publicCount(action.slug)).wall.map((w) => w.firstName).sort()).toEqual(['Kind', 'Rude']);

    const audit = await h.db.pool.query(`SELECT verb, staff_id FROM audit_log WHERE entity = 'signature' AND entity_id = $1 ORDER BY id`, [rude]);
    expect(audit.rows).toEqual([
      { verb: 'wall_hidden', staff_id: campaigner.id },
      { verb: 'wall_shown', staff_id: admin.id },
    ]);

    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/fraud/wall/${randomUUID()}/hide` })).statusCode).toBe(404);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/fraud/wall/nope/hide' })).statusCode).toBe(422);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: '/api/admin/fraud/wall' })).statusCode).toBe(422);
  });
});

describe('the signing path', () => {
  it('stores the keyed hashes of the address and of its network, never the address', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('net');
    const res = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody({ email }) });
    expect(res.statusCode).toBe(202);
    const { rows } = await h.db.pool.query(
      `SELECT s.ip_hash, s.net_hash FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
      [indexOfEmail(email)],
    );
    expect(rows[0]).toEqual({ ip_hash: hashIp(h.secret, '127.0.0.1'), net_hash: hashNetwork(h.secret, '127.0.0.1') });
    // the address itself is stored only sealed: nowhere in the supporter's and signature's rows in clear
    const { rows: raw } = await h.db.pool.query(
      `SELECT row_to_json(p)::text || row_to_json(s)::text AS t, p.email FROM supporters p JOIN signatures s ON s.supporter_id = p.id WHERE p.email_index = $1`,
      [indexOfEmail(email)],
    );
    expect(raw[0].email).toBeInstanceOf(Buffer);
    expect(raw[0].t).not.toContain(email);
    expect(raw[0].t).not.toContain(email.split('@')[0]);
  });
});

async function waitExport(cookie: string, id: string) {
  for (let i = 0; i < 200; i++) {
    const res = await asStaff(h.app, cookie, { method: 'GET', url: `/api/admin/exports/${id}` });
    const job = res.json().job;
    if (job.status !== 'RUNNING') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('export did not finish');
}

describe('exports', () => {
  it('says for each signer whether the name may go to officials of their own country (a separate choice)', async () => {
    const { action } = await createAction(h.db);
    const [namedAbroadOnly] = await seed(action.id, { n: 1, firstName: 'Aigul', country: 'KZ' });
    const [namedEverywhere] = await seed(action.id, { n: 1, firstName: 'Dana', country: 'KZ' });
    await h.db.pool.query(`UPDATE signatures SET named_disclosure = true, named_to_own_country = (id = $2) WHERE id = ANY($1::uuid[])`, [
      [namedAbroadOnly, namedEverywhere],
      namedEverywhere,
    ]);
    const start = await asStaff(h.app, campaigner.cookie, {
      method: 'POST',
      url: '/api/admin/exports',
      payload: { kind: 'SIGNATURES', actionId: action.id, includePersonal: true },
    });
    expect(start.statusCode).toBe(202);
    const job = await waitExport(campaigner.cookie, start.json().job.id);
    const file = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` });
    const rows = parse(file.body, { columns: true }) as Record<string, string>[];
    const byName = Object.fromEntries(rows.map((r) => [r.first_name, r]));
    expect(byName.Aigul).toMatchObject({ named_disclosure: 'yes', named_to_own_country: 'no', country: 'KZ' });
    expect(byName.Dana).toMatchObject({ named_disclosure: 'yes', named_to_own_country: 'yes', country: 'KZ' });
  });

  it("puts a person's name only on the rows they confirmed, never beside a sign-up they did not", async () => {
    const { action } = await createAction(h.db);
    const [confirmedRow] = await seed(action.id, { n: 1, firstName: 'Ana', status: 'CONFIRMED' });
    const [waitingRow] = await seed(action.id, { n: 1, firstName: 'Bea', status: 'PENDING' });
    const [setAsideRow] = await seed(action.id, { n: 1, firstName: 'Cruz', status: 'INVALIDATED' });
    // one confirmed, then set aside by staff as fraud: it was theirs, and keeps the name
    const [fraudRow] = await seed(action.id, { n: 1, firstName: 'Dora', status: 'CONFIRMED' });
    await h.db.pool.query(`UPDATE signatures SET status = 'INVALIDATED', invalidated_at = now(), invalid_reason = 'fraud' WHERE id = $1`, [fraudRow]);
    const start = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/exports', payload: { kind: 'SIGNATURES', actionId: action.id, includePersonal: true } });
    expect(start.statusCode).toBe(202);
    const job = await waitExport(campaigner.cookie, start.json().job.id);
    const file = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` });
    const rows = Object.fromEntries((parse(file.body, { columns: true }) as Record<string, string>[]).map((r) => [r.signature_id, r]));
    expect(rows[confirmedRow!]).toMatchObject({ status: 'CONFIRMED', first_name: 'Ana' });
    expect(rows[fraudRow!]).toMatchObject({ status: 'INVALIDATED', first_name: 'Dora' });
    expect(rows[waitingRow!]).toMatchObject({ status: 'PENDING', first_name: '', last_name: '' });
    expect(rows[setAsideRow!]).toMatchObject({ status: 'INVALIDATED', first_name: '', last_name: '' });
  });

  it('counts, exports signatures as CSV with formulas neutralised, and audits it', async () => {
    const { action } = await createAction(h.db);
    const hostile = ['=HYPERLINK("http://x","y")', '+cmd', '-2+3', '@SUM(A1)', '\tTab', '\rCR'];
    for (const name of hostile) await seed(action.id, { n: 1, firstName: name, lastName: name, country: 'DE' });
    await seed(action.id, { n: 5, status: 'PENDING', country: 'MX' });
    await seed(action.id, { n: 2, status: 'CONFIRMED', country: 'MX', source: '=cmd|calc' });

    const count = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/count?kind=SIGNATURES&actionId=${action.id}&status=CONFIRMED` });
    expect(count.json()).toEqual({ count: 8 });
    const de = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/count?kind=SIGNATURES&actionId=${action.id}&country=de` });
    expect(de.json()).toEqual({ count: 6 });

    const start = await asStaff(h.app, campaigner.cookie, {
      method: 'POST',
      url: '/api/admin/exports',
      payload: { kind: 'SIGNATURES', actionId: action.id, status: 'CONFIRMED', includePersonal: true },
    });
    expect(start.statusCode).toBe(202);
    expect(start.json().job).toMatchObject({ status: 'RUNNING', total: 8, kind: 'SIGNATURES' });
    const job = await waitExport(campaigner.cookie, start.json().job.id);
    expect(job).toMatchObject({ status: 'DONE', total: 8, rowsDone: 8 });

    const file = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` });
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(file.headers['content-disposition']).toMatch(/^attachment; filename="chorus-signatures-\d{4}-\d\d-\d\d-[0-9a-f]{8}\.csv"$/);
    const rows = parse(file.body, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(8);
    expect(Object.keys(rows[0]!)).toEqual([
      'signature_id', 'action', 'status', 'created_at', 'confirmed_at', 'invalidated_at', 'invalid_reason', 'country', 'locale',
      'source', 'named_disclosure', 'named_to_own_country', 'public_wall', 'first_name', 'last_name', 'contact_consent', 'email',
    ]);
    const firstNames = rows.map((r) => r.first_name).sort();
    for (const name of hostile) expect(firstNames).toContain(`'${name}`);
    expect(file.body).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(file.body).toMatch(/'\+cmd/);
    expect(file.body).toMatch(/'-2\+3/);
    expect(file.body).toMatch(/'@SUM\(A1\)/);
    expect(rows.filter((r) => r.source === "'=cmd|calc")).toHaveLength(2);
    // no cell begins with a formula character
    for (const r of rows) for (const v of Object.values(r)) expect(v, v).not.toMatch(/^[=+\-@\t\r]/);
    // none of these signers agreed to be contacted: names, but no address (tests/promises/10-...)
    expect(rows.every((r) => r.email === '' && r.contact_consent === 'no' && r.action === action.slug)).toBe(true);

    const audit = await h.db.pool.query(`SELECT verb, staff_id, after FROM audit_log WHERE entity = 'export' AND entity_id = $1 ORDER BY id`, [job.id]);
    expect(audit.rows.map((r) => r.verb)).toEqual(['export_started', 'export_completed', 'export_downloaded']);
    expect(audit.rows[0].after).toMatchObject({ kind: 'SIGNATURES', actionId: action.id, status: 'CONFIRMED', includePersonal: true, rows: 8 });
    expect(audit.rows[1].after).toMatchObject({ rows: 8 });

    // without includePersonal: no names, no addresses
    const minimal = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/exports', payload: { kind: 'SIGNATURES', actionId: action.id } });
    const mjob = await waitExport(campaigner.cookie, minimal.json().job.id);
    const mfile = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${mjob.id}/download` });
    expect(mfile.body.split('\n')[0]).not.toMatch(/first_name|last_name|email/);
    expect(mfile.body).not.toContain('@');
    expect(parse(mfile.body, { columns: true })).toHaveLength(13);

    // only the staff member who started it, or an admin, downloads it
    const other = await staffSession(h.db, 'CAMPAIGNER');
    expect((await asStaff(h.app, other.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` })).statusCode).toBe(403);
    expect((await asStaff(h.app, admin.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` })).statusCode).toBe(200);
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` })).statusCode).toBe(403);

    const list = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: '/api/admin/exports' });
    expect(list.json().exports.map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining([job.id, mjob.id]));
  });

  it('exports letters with their delivery facts', async () => {
    const { action, targets } = await createAction(h.db, { targets: [{ country: 'UZ', language: 'en', email: '=evil@gov.example' }] });
    const batch = await h.db.pool.query<{ id: string }>(
      `INSERT INTO delivery_batches (action_id, reason, signature_count, total_count) VALUES ($1, 'test', 3, 3) RETURNING id`,
      [action.id],
    );
    await h.db.pool.query(
      `INSERT INTO letters (batch_id, target_id, status, signature_count, locale, message_id, sent_at) VALUES ($1, $2, 'SENT', 3, 'en', $3, now())`,
      [batch.rows[0]!.id, targets[0]!.id, `<${randomUUID()}@test>`],
    );
    const count = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/count?kind=LETTERS&actionId=${action.id}&status=SENT&country=UZ` });
    expect(count.json()).toEqual({ count: 1 });
    const start = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/exports', payload: { kind: 'LETTERS', actionId: action.id } });
    const job = await waitExport(campaigner.cookie, start.json().job.id);
    const file = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` });
    const rows = parse(file.body, { columns: true }) as Record<string, string>[];
    expect(rows).toEqual([expect.objectContaining({ action: action.slug, status: 'SENT', signatures: '3', target_country: 'UZ', target_email: "'=evil@gov.example" })]);
  });

  it('refuses hostile filters and unknown or unfinished exports clearly', async () => {
    for (const q of ['kind=PEOPLE', '', 'kind=SIGNATURES&status=SENT', 'kind=LETTERS&status=CONFIRMED', 'kind=SIGNATURES&country=ZZ', 'kind=SIGNATURES&from=never', 'kind=SIGNATURES&actionId=x']) {
      const res = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/count?${q}` });
      expect(res.statusCode, q).toBe(422);
      expect(res.json().statusCode).toBe(422);
    }
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/count?kind=SIGNATURES&actionId=${randomUUID()}` })).statusCode).toBe(404);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${randomUUID()}` })).statusCode).toBe(404);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${randomUUID()}/download` })).statusCode).toBe(404);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: '/api/admin/exports/..%2F..%2Fetc%2Fpasswd/download' })).statusCode).toBe(422);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/exports', payload: { kind: 'SIGNATURES', includePersonal: 'maybe' } })).statusCode).toBe(422);
  });

  it('deletes files after 24 hours and answers 410 for them', async () => {
    const { action } = await createAction(h.db);
    await seed(action.id, { n: 2 });
    const start = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: '/api/admin/exports', payload: { kind: 'SIGNATURES', actionId: action.id } });
    const job = await waitExport(campaigner.cookie, start.json().job.id);
    await h.db.pool.query(`UPDATE export_jobs SET created_at = now() - interval '25 hours' WHERE id = $1`, [job.id]);
    const list = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: '/api/admin/exports' });
    expect(list.json().exports.find((e: { id: string }) => e.id === job.id).status).toBe('EXPIRED');
    const { existsSync } = await import('node:fs');
    expect(existsSync(`.data/exports/${job.id}.csv`)).toBe(false);
    expect((await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/exports/${job.id}/download` })).statusCode).toBe(410);
  });
});
