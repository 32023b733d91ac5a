// OSDI under /api/osdi/v1, checked against the examples of the specification
// (opensupporter.github.io/osdi-docs: aep, petitions, signatures, advocacy_campaigns,
// outreaches, people, record_signature): field names, HAL links, _embedded and paging; the
// record helpers go through our form and its double opt-in. Answers are checked against the
// OpenAPI document too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, createAction, createHarness, staffSession, uniqueEmail, type Harness } from '../testing/harness.ts';
import { documented } from '../testing/openapi.ts';
import { confirmationToken } from '../signature/signature.service.ts';
import { indexOfEmail, openedSignatures } from '../testing/sealed.ts';

let h: Harness;
let inject: ReturnType<typeof documented>;
let reader: string;
let writer: string;
let publicOnly: string;
const BASE = () => `${process.env.PUBLIC_BASE_URL ?? 'http://localhost:3000'}`;

async function key(cookie: string, scopes: string[]) {
  const res = await asStaff(h.app, cookie, { method: 'POST', url: '/api/admin/api-keys', payload: { name: 'OSDI test', scopes } });
  return res.json().secret as string;
}

beforeAll(async () => {
  h = await createHarness();
  inject = documented(h.app);
  const admin = await staffSession(h.db, 'ADMIN');
  reader = await key(admin.cookie, ['read_public', 'read_signatures']);
  writer = await key(admin.cookie, ['write_signatures']);
  publicOnly = await key(admin.cookie, ['read_public']);
});
afterAll(async () => h?.close());

const osdiGet = (url: string, token = reader) => inject({ url, headers: { 'osdi-api-token': token } });
/** an absolute href of ours, as a path inject() can follow */
const path = (href: string) => new URL(href).pathname + new URL(href).search;

async function confirmedSignature(slug: string, opts: { contact: boolean }) {
  const email = uniqueEmail('osdi');
  const res = await inject({
    method: 'POST',
    url: `/api/actions/${slug}/signatures`,
    payload: { firstName: 'Olga', lastName: 'Petrova', email, country: 'GE', consentCount: true, consentContact: opts.contact },
  });
  expect(res.statusCode).toBe(202);
  const { rows } = await h.db.pool.query<{ id: string; supporter_id: string }>(
    `SELECT s.id, s.supporter_id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`,
    [indexOfEmail(email)],
  );
  // confirmed by the link, as its owner would: that is when the consents are recorded
  const token = confirmationToken({ secret: h.secret, clock: () => h.now.value, confirmLinkTtlHours: 24 }, rows[0]!.id);
  expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` })).json().status).toBe('confirmed');
  return { ...rows[0]!, email };
}

describe('the API entry point', () => {
  it('links every collection with the osdi: relations and curies, as HAL+JSON', async () => {
    const res = await osdiGet('/api/osdi/v1/', publicOnly);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/hal\+json/);
    const aep = res.json();
    expect(aep).toMatchObject({ motd: expect.any(String), max_pagesize: 100 });
    for (const rel of ['osdi:petitions', 'osdi:advocacy_campaigns', 'osdi:people', 'osdi:tags']) {
      expect(aep._links[rel].href, rel).toMatch(/^https?:\/\/.+\/api\/osdi\/v1\//);
      expect(aep._links[rel].title).toEqual(expect.any(String));
    }
    expect(aep._links.self.href).toMatch(/\/api\/osdi\/v1\/$/);
    expect(aep._links.curies[0]).toMatchObject({ name: 'osdi', templated: true, href: expect.stringContaining('{rel}') });
  });

  it('needs a key: none, a wrong one or a Bearer of nonsense is 401', async () => {
    expect((await inject({ url: '/api/osdi/v1/' })).statusCode).toBe(401);
    expect((await osdiGet('/api/osdi/v1/', 'chorus_000000000000_' + 'a'.repeat(43))).statusCode).toBe(401);
    expect((await inject({ url: '/api/osdi/v1/petitions', headers: { authorization: `Bearer ${reader}` } })).statusCode).toBe(200);
  });
});

describe('petitions and signatures', () => {
  it('a petition has the specification’s fields and links', async () => {
    const { action, targets } = await createAction(h.db);
    await h.cache.refresh();
    const res = await osdiGet(`/api/osdi/v1/petitions/${action.id}`);
    expect(res.statusCode).toBe(200);
    const p = res.json();
    // the keys of the petition in the specification's example
    for (const k of ['identifiers', 'origin_system', 'created_date', 'modified_date', 'name', 'title', 'description', 'summary', 'petition_text', 'browser_url', 'total_signatures', 'target', '_links']) {
      expect(p, k).toHaveProperty(k);
    }
    expect(p.identifiers).toContain(`chorus:${action.id}`);
    expect(p.created_date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(p.target[0].name).toContain(targets[0]!.name);
    expect(p.browser_url).toMatch(new RegExp(`/actions/${action.slug}$`));
    expect(path(p._links.self.href)).toBe(`/api/osdi/v1/petitions/${action.id}`);
    expect(path(p._links['osdi:signatures'].href)).toBe(`/api/osdi/v1/petitions/${action.id}/signatures`);
    expect(path(p._links['osdi:record_signature_helper'].href)).toBe(`/api/osdi/v1/petitions/${action.id}/record_signature_helper`);
    // a letter action is not a petition
    const { action: letter } = await createAction(h.db, { kind: 'LETTER' });
    await h.cache.refresh();
    expect((await osdiGet(`/api/osdi/v1/petitions/${letter.id}`)).statusCode).toBe(404);
    expect((await osdiGet(`/api/osdi/v1/advocacy_campaigns/${letter.id}`)).statusCode).toBe(200);
  });

  it('pages collections with page, per_page, total_pages, total_records, next and previous', async () => {
    for (let i = 0; i < 3; i++) await createAction(h.db);
    await h.cache.refresh();
    const first = await osdiGet('/api/osdi/v1/petitions?per_page=2');
    const body = first.json();
    expect(body).toMatchObject({ page: 1, per_page: 2 });
    expect(body.total_records).toBeGreaterThanOrEqual(3);
    expect(body.total_pages).toBe(Math.ceil(body.total_records / 2));
    expect(body._embedded['osdi:petitions']).toHaveLength(2);
    expect(body._links['osdi:petitions'].map((l: { href: string }) => l.href)).toEqual(body._embedded['osdi:petitions'].map((p: { _links: { self: { href: string } } }) => p._links.self.href));
    expect(body._links.previous).toBeUndefined();
    // follow next to the end: every record once
    const seen = new Set<string>(body._embedded['osdi:petitions'].map((p: { identifiers: string[] }) => p.identifiers[0]));
    let next = body._links.next?.href as string | undefined;
    let pages = 1;
    while (next) {
      const page = (await osdiGet(path(next))).json();
      pages++;
      expect(page.page).toBe(pages);
      expect(page._links.previous).toBeDefined();
      for (const p of page._embedded['osdi:petitions']) seen.add(p.identifiers[0]);
      next = page._links.next?.href;
    }
    expect(pages).toBe(body.total_pages);
    expect(seen.size).toBe(body.total_records);
  });

  it('signatures: confirmed only, with action_date and links; a person link only with contact consent', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const withContact = await confirmedSignature(action.slug, { contact: true });
    const without = await confirmedSignature(action.slug, { contact: false });
    const res = await osdiGet(`/api/osdi/v1/petitions/${action.id}/signatures`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ page: 1, per_page: 25, total_pages: 1, total_records: 2 });
    const sigs = body._embedded['osdi:signatures'];
    const a = sigs.find((s: { identifiers: string[] }) => s.identifiers[0] === `chorus:${withContact.id}`);
    const b = sigs.find((s: { identifiers: string[] }) => s.identifiers[0] === `chorus:${without.id}`);
    for (const k of ['identifiers', 'origin_system', 'created_date', 'modified_date', 'action_date', '_links']) expect(a, k).toHaveProperty(k);
    expect(path(a._links['osdi:petition'].href)).toBe(`/api/osdi/v1/petitions/${action.id}`);
    expect(path(a._links['osdi:person'].href)).toBe(`/api/osdi/v1/people/${withContact.supporter_id}`);
    expect(b._links['osdi:person']).toBeUndefined();
    expect(res.body).not.toContain(without.email);

    // the person behind the link, with the specification's field names
    const person = (await osdiGet(path(a._links['osdi:person'].href))).json();
    expect(person).toMatchObject({
      given_name: 'Olga',
      family_name: 'Petrova',
      email_addresses: [{ address: withContact.email, primary: true, status: 'subscribed' }],
      postal_addresses: [{ country: 'GE', primary: true }],
    });
    expect((await osdiGet(`/api/osdi/v1/people/${without.supporter_id}`)).statusCode).toBe(404);
    const self = await osdiGet(path(a._links.self.href));
    expect(self.json().identifiers).toEqual([`chorus:${withContact.id}`]);

    // incremental: modified_date filter
    const later = await osdiGet(`/api/osdi/v1/petitions/${action.id}/signatures?filter=${encodeURIComponent(`modified_date gt '${new Date(Date.now() + 60_000).toISOString()}'`)}`);
    expect(later.json()).toMatchObject({ total_records: 0, _embedded: { 'osdi:signatures': [] } });

    // scopes: a public-only key reads petitions but not signatures or people
    expect((await osdiGet(`/api/osdi/v1/petitions/${action.id}/signatures`, publicOnly)).statusCode).toBe(403);
    expect((await osdiGet('/api/osdi/v1/people', publicOnly)).statusCode).toBe(403);
    const people = (await osdiGet('/api/osdi/v1/people?per_page=100')).json();
    expect(people._embedded['osdi:people'].every((p: { email_addresses: unknown[] }) => p.email_addresses.length === 1)).toBe(true);
    expect(JSON.stringify(people)).not.toContain(without.email);
  });

  it('refuses hostile paging, filters and ids with 422', async () => {
    for (const q of ['page=0', 'per_page=1000', 'per_page=-1', 'page=abc', "filter=name eq 'x'", 'filter=modified_date%20gt%20%27not a date%27']) {
      expect((await osdiGet(`/api/osdi/v1/people?${q}`)).statusCode, q).toBe(422);
    }
    expect((await osdiGet('/api/osdi/v1/petitions/not-a-uuid')).statusCode).toBe(422);
    expect((await osdiGet('/api/osdi/v1/petitions/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  });
});

describe('record helpers', () => {
  it('record_signature_helper: an OSDI person becomes a pending signature, emailed to confirm', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('helper');
    const res = await inject({
      method: 'POST',
      url: `/api/osdi/v1/petitions/${action.id}/record_signature_helper`,
      headers: { 'osdi-api-token': writer, 'content-type': 'application/hal+json' },
      payload: JSON.stringify({
        person: {
          family_name: 'Edwin',
          given_name: 'Labadie',
          email_addresses: [{ address: email, primary: true, address_type: 'Personal' }],
          postal_addresses: [{ primary: true, country: 'RU', locality: 'ignored' }],
          languages_spoken: ['ru'],
          gender: 'ignored',
        },
        origin_system: 'OpenSupporter',
        referrer_data: { source: 'facebook-101016-mainpage' },
        consents: { count: true, contact: false },
      }),
    });
    expect(res.statusCode).toBe(200);
    const rows = await openedSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    // the sign-up holds the name until the person confirms it (sealed under the supporter's data key)
    expect(rows[0]).toMatchObject({ status: 'PENDING', source: 'facebook-101016-mainpage', locale: 'ru', country: 'RU', pending_first_name: 'Labadie', email });
    expect(rows[0]!.pending_name).toBeInstanceOf(Buffer);
    expect(rows[0]!.pending_name.includes(Buffer.from('Labadie'))).toBe(false);
  });

  it('refuses a body without the count consent, a bad address or country, with OSDI field paths', async () => {
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    const url = `/api/osdi/v1/petitions/${action.id}/record_signature_helper`;
    const person = { given_name: 'A', family_name: 'B', email_addresses: [{ address: uniqueEmail() }], postal_addresses: [{ country: 'FR' }] };
    const post = (payload: unknown, token = writer) => inject({ method: 'POST', url, headers: { 'osdi-api-token': token }, payload: payload as object });
    expect((await post({ person })).statusCode).toBe(422);
    expect((await post({ person, consents: { count: false } })).statusCode).toBe(422);
    const badEmail = await post({ person: { ...person, email_addresses: [{ address: 'not an address' }] }, consents: { count: true } });
    expect(badEmail.statusCode).toBe(422);
    expect(badEmail.json().issues[0].path).toBe('person.email_addresses');
    const badCountry = await post({ person: { ...person, postal_addresses: [{ country: 'XX' }] }, consents: { count: true } });
    expect(badCountry.json().issues[0].path).toBe('person.postal_addresses.country');
    expect((await post({ person, consents: { count: true } }, reader)).statusCode).toBe(403);
  });

  it('record_outreach_helper on a letter action', async () => {
    const { action } = await createAction(h.db, { kind: 'LETTER' });
    await h.cache.refresh();
    const email = uniqueEmail('outreach');
    const res = await inject({
      method: 'POST',
      url: `/api/osdi/v1/advocacy_campaigns/${action.id}/record_outreach_helper`,
      headers: { authorization: `Bearer ${writer}` },
      payload: { person: { given_name: 'Mia', family_name: 'K', email_addresses: [{ address: email }], postal_addresses: [{ country: 'DE' }] }, consents: { count: true } },
    });
    expect(res.statusCode).toBe(200);
    const c = await h.db.pool.query(`SELECT s.status FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`, [indexOfEmail(email)]);
    expect(c.rows[0].status).toBe('PENDING');
    const campaign = (await osdiGet(`/api/osdi/v1/advocacy_campaigns/${action.id}`)).json();
    for (const k of ['identifiers', 'origin_system', 'title', 'description', 'browser_url', 'type', 'targets', 'total_outreaches', '_links']) expect(campaign, k).toHaveProperty(k);
    expect(campaign.targets[0]).toEqual(expect.objectContaining({ title: 'Minister', given_name: expect.any(String), family_name: expect.any(String) }));
    expect(path(campaign._links['osdi:record_outreach_helper'].href)).toBe(`/api/osdi/v1/advocacy_campaigns/${action.id}/record_outreach_helper`);
    const outreaches = (await osdiGet(path(campaign._links['osdi:outreaches'].href))).json();
    expect(outreaches._embedded['osdi:outreaches']).toEqual([]);
  });

  it('tags are campaigns', async () => {
    await createAction(h.db);
    await h.cache.refresh();
    const tags = (await osdiGet('/api/osdi/v1/tags')).json();
    const t = tags._embedded['osdi:tags'].find((x: { identifiers: string[] }) => x.identifiers[0] === 'chorus_campaign:test-campaign');
    expect(t).toMatchObject({ name: 'Test campaign', origin_system: 'Chorus' });
    expect((await osdiGet(path(t._links.self.href))).json().name).toBe('Test campaign');
    expect(BASE()).toBeTruthy();
  });
});
