// The public signing API against the real test database and Redis, through inject().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, signBody, uniqueEmail, type Harness } from '../testing/harness.ts';
import { foldConfirmations } from './counter.service.ts';
import { confirmationToken } from './signature.service.ts';
import { CONSENT_RECORDS } from '../testing/consent-records.ts';
import { openSignatureRow, SUPPORTER_SEALED } from '../testing/sealed.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

async function published(opts: Parameters<typeof createAction>[1] = {}) {
  const fx = await createAction(h.db, opts);
  await h.cache.refresh();
  return fx;
}

const sign = (slug: string, payload: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

/** The action's signatures, with the sign-up's and supporter's personal data opened (email, first_name, pending_first_name...). */
async function rowsFor(actionId: string) {
  const { rows } = await h.db.pool.query(
    `SELECT s.*, e.requested_at AS confirmation_requested_at, e.sent_at AS confirmation_sent_at, e.released_at AS confirmation_released_at, e.reminder_sent_at, ${SUPPORTER_SEALED} FROM signatures s JOIN supporters p ON p.id = s.supporter_id LEFT JOIN confirmation_emails e ON e.signature_id = s.id WHERE s.action_id = $1`,
    [actionId],
  );
  for (const r of rows) Object.assign(r, openSignatureRow(r));
  return rows;
}

describe('GET /api/actions', () => {
  it('lists published actions with counts, and not drafts', async () => {
    const pub = await published();
    const draft = await published({ status: 'DRAFT' });
    const res = await h.app.inject({ url: '/api/actions' });
    expect(res.statusCode).toBe(200);
    const slugs = res.json().actions.map((a: { slug: string }) => a.slug);
    expect(slugs).toContain(pub.action.slug);
    expect(slugs).not.toContain(draft.action.slug);
    const one = res.json().actions.find((a: { slug: string }) => a.slug === pub.action.slug);
    expect(one).toMatchObject({ kind: 'PETITION', goal: 100, count: 0, signingOpen: true, title: `Title en ${pub.action.slug}` });
  });

  it('serves texts in the asked locale, falling back to the default', async () => {
    const { action } = await published({ locales: ['en', 'es'] });
    const es = await h.app.inject({ url: `/api/actions/${action.slug}?locale=es` });
    expect(es.json()).toMatchObject({ locale: 'es', title: `Title es ${action.slug}` });
    const fr = await h.app.inject({ url: `/api/actions/${action.slug}?locale=fr` });
    expect(fr.json()).toMatchObject({ locale: 'en' });
    const bad = await h.app.inject({ url: `/api/actions/${action.slug}?locale=xx` });
    expect(bad.statusCode).toBe(422);
  });

  it('answers 404 for an unknown action and 422 for a malformed slug', async () => {
    expect((await h.app.inject({ url: '/api/actions/no-such-action' })).json()).toMatchObject({ statusCode: 404, code: 'action_not_found' });
    expect((await h.app.inject({ url: '/api/actions/Bad%20Slug' })).statusCode).toBe(422);
  });
});

describe('POST /api/actions/:slug/signatures', () => {
  it('records supporter and pending signature in one go with the sign-up’s details, and answers 202; consents are recorded at confirmation', async () => {
    const { action } = await published();
    const body = signBody({ consentNamed: true, consentWall: false, consentContact: 'on' });
    const res = await sign(action.slug, body);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ status: 'received', message: expect.any(String) });
    const rows = await rowsFor(action.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      status: 'PENDING',
      country: 'MX',
      named_disclosure: true,
      public_wall: false,
      email: body.email,
      // the sign-up's own name and contact choice wait on the signature; the supporter has none yet
      pending_first_name: 'Ana',
      pending_last_name: 'López',
      pending_contact: true,
      first_name: null,
    });
    // stored sealed: the address and the sign-up's name are bytes without them in clear, the old columns empty
    expect(rows[0].supporter_email).toBeInstanceOf(Buffer);
    expect(rows[0].supporter_email.includes(Buffer.from(body.email as string))).toBe(false);
    expect(rows[0].pending_name).toBeInstanceOf(Buffer);
    expect(rows[0].pending_name.includes(Buffer.from('López'))).toBe(false);
    expect(rows[0]).toMatchObject({ pending_first_name_clear: null, pending_last_name_clear: null });
    expect(rows[0].ip_hash).toMatch(/^[0-9a-f]{32}$/);
    const consents = () => h.db.pool.query(`SELECT purpose, granted, wording_version FROM ${CONSENT_RECORDS} c WHERE signature_id = $1 ORDER BY purpose`, [rows[0].id]);
    expect((await consents()).rows).toEqual([]);

    const token = confirmationToken({ secret: h.secret, clock: () => h.now.value, confirmLinkTtlHours: 24 }, rows[0].id);
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` })).json()).toMatchObject({ status: 'confirmed' });
    expect((await consents()).rows).toEqual([
      { purpose: 'COUNT', granted: true, wording_version: expect.stringMatching(/^sign-/) },
      { purpose: 'NAMED_DISCLOSURE', granted: true, wording_version: expect.any(String) },
      { purpose: 'PUBLIC_WALL', granted: false, wording_version: expect.any(String) },
      { purpose: 'CONTACT', granted: true, wording_version: expect.any(String) },
      // enum order: the own-country choice was added after the first four
      { purpose: 'NAMED_TO_OWN_COUNTRY', granted: false, wording_version: expect.any(String) },
    ]);
    expect((await rowsFor(action.id))[0]).toMatchObject({ first_name: 'Ana', pending_first_name: null, pending_contact: null });
  });

  it('queues the confirmation email by id only: no name or address in Redis', async () => {
    const { action } = await published();
    const body = signBody({ firstName: 'Zuhra', email: uniqueEmail('zuhra') });
    expect((await sign(action.slug, body)).statusCode).toBe(202);
    const [row] = await rowsFor(action.id);
    let job;
    for (let i = 0; i < 50 && !job; i++) {
      const jobs = await h.queues.mail.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
      job = jobs.find((j) => j?.data.kind === 'confirmation' && j.data.signatureId === row.id);
      if (!job) await new Promise((r) => setTimeout(r, 20));
    }
    expect(job?.data).toEqual({ kind: 'confirmation', signatureId: row.id });
    const raw = JSON.stringify(await h.redis.hgetall(`bull:chorus-mail:${job!.id}`));
    expect(raw).not.toContain('Zuhra');
    expect(raw).not.toContain(body.email);
  });

  it('answers a duplicate exactly as a new signature: the same details ask again on one row, other details wait beside it', async () => {
    const { action } = await published();
    const email = uniqueEmail('dup');
    const first = await sign(action.slug, signBody({ email }));
    const [before] = await rowsFor(action.id);
    // the same sign-up again while its email waits: one row, and its email keeps its place in the queue
    const again = await sign(action.slug, signBody({ email }));
    expect(again.statusCode).toBe(first.statusCode);
    expect(again.body).toBe(first.body);
    const once = await rowsFor(action.id);
    expect(once).toHaveLength(1);
    expect(once[0].confirmation_requested_at).toEqual(before.confirmation_requested_at);
    // once its email went, the same sign-up again asks for a fresh one
    await h.db.pool.query('UPDATE confirmation_emails SET sent_at = requested_at WHERE signature_id = $1', [before.id]);
    await sign(action.slug, signBody({ email }));
    const twice = await rowsFor(action.id);
    expect(twice).toHaveLength(1);
    expect(twice[0].confirmation_requested_at.getTime()).toBeGreaterThan(before.confirmation_requested_at.getTime());
    // other details with the same address (in capitals): a sign-up of its own, beside the
    // first, which keeps what it said; the supporter has no name until one is confirmed
    const variant = email.toUpperCase();
    const second = await sign(action.slug, signBody({ email: variant, firstName: 'Someone', lastName: 'Else' }));
    expect(second.statusCode).toBe(first.statusCode);
    expect(second.body).toBe(first.body);
    const rows = await rowsFor(action.id);
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r: { supporter_id: string }) => r.supporter_id)).size).toBe(1);
    expect(rows.map((r: { status: string; first_name: string | null; pending_first_name: string }) => [r.status, r.first_name, r.pending_first_name]).sort()).toEqual([
      ['PENDING', null, 'Ana'],
      ['PENDING', null, 'Someone'],
    ]);
  });

  it('takes an HTML form post and answers 303 to the check-your-email page in the signer’s language', async () => {
    const { action } = await published();
    const form = new URLSearchParams({ firstName: 'Bo', lastName: 'K', email: uniqueEmail('bo'), country: 'kz', consentCount: 'on', locale: 'ru' });
    const res = await sign(action.slug, form.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/ru/actions/${action.slug}/check-email`);
    expect((await rowsFor(action.id))[0]).toMatchObject({ country: 'KZ', locale: 'ru' });
  });

  it('marks a filled honeypot as invalid without telling the sender', async () => {
    const { action } = await published();
    const res = await sign(action.slug, signBody({ website: 'http://spam.example' }));
    expect(res.statusCode).toBe(202);
    expect((await rowsFor(action.id))[0]).toMatchObject({ status: 'INVALIDATED', invalid_reason: 'honeypot' });
  });

  const hostile: [string, Record<string, unknown>, string][] = [
    ['missing first name', { firstName: undefined }, 'firstName'],
    ['empty last name', { lastName: '   ' }, 'lastName'],
    ['missing email', { email: undefined }, 'email'],
    ['bad email', { email: 'not-an-email' }, 'email'],
    ['email with CR/LF header injection', { email: 'a@example.org\r\nBcc: b@example.org' }, 'email'],
    ['name with CR/LF', { firstName: 'Ana\r\nBcc: x@example.org' }, 'firstName'],
    ['letter subject with CR/LF', { letterSubject: 'Hello\r\nBcc: x@example.org' }, 'letterSubject'],
    ['name with a right-to-left override', { firstName: 'Ana\u202Egnp.exe' }, 'firstName'],
    ['name with a NUL', { lastName: 'L\u0000' }, 'lastName'],
    ['name with markup', { firstName: '<script>alert(1)</script>' }, 'firstName'],
    ['100 KB name', { firstName: 'a'.repeat(100_000) }, 'firstName'],
    ['number as name', { firstName: 42 }, 'firstName'],
    ['object as email', { email: { $gt: '' } }, 'email'],
    ['unknown country', { country: 'QQ' }, 'country'],
    ['country as array', { country: ['MX'] }, 'country'],
    ['consent not given', { consentCount: false }, 'consentCount'],
    ['consent as gibberish', { consentCount: 'maybe' }, 'consentCount'],
    ['unknown field', { isAdmin: true }, 'isAdmin'],
    ['unknown locale', { locale: 'xx' }, 'locale'],
    ['source with spaces', { source: 'a b' }, 'source'],
  ];
  it.each(hostile)('refuses %s with 422 naming the field, and stores nothing', async (_label, override, field) => {
    const { action } = await published();
    const res = await sign(action.slug, signBody(override));
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body).toMatchObject({ statusCode: 422, code: 'validation_failed' });
    expect(body.issues.map((i: { path: string }) => i.path)).toContain(field);
    expect(res.body).not.toContain('<script>');
    expect(await rowsFor(action.id)).toHaveLength(0);
  });

  it.each([
    ['a 600-character last name', { lastName: 'x'.repeat(600) }, 'lastName', 'too_long'],
    ['a 101-character first name', { firstName: 'é'.repeat(101) }, 'firstName', 'too_long'],
    ['a 255-character email', { email: `${'a'.repeat(243)}@example.org` }, 'email', 'too_long'],
    ['a 201-character letter subject', { letterSubject: 's'.repeat(201) }, 'letterSubject', 'too_long'],
    ['a right-to-left override in a name', { lastName: 'Ana\u202Egnp' }, 'lastName', 'forbidden_characters'],
  ])('refuses %s with 422 and the issue code, never cutting it', async (_label, override, field, code) => {
    const { action } = await published();
    const res = await sign(action.slug, signBody(override));
    expect(res.statusCode).toBe(422);
    expect(res.json().issues).toContainEqual(expect.objectContaining({ path: field, code }));
    expect(await rowsFor(action.id)).toHaveLength(0);
  });

  it('takes a name of exactly 100 characters whole', async () => {
    const { action } = await published();
    const lastName = 'Ñ'.repeat(100);
    expect((await sign(action.slug, signBody({ lastName }))).statusCode).toBe(202);
    const rows = await rowsFor(action.id);
    expect(rows).toHaveLength(1);
    expect(rows[0].pending_last_name).toBe(lastName);
  });

  it.each([
    ['invalid JSON', '{"firstName": ', 'application/json', 400],
    ['an empty JSON body', '', 'application/json', 400],
    ['a JSON array', '[1,2]', 'application/json', 422],
    ['a JSON string', '"hello"', 'application/json', 422],
    ['text/plain', 'hello', 'text/plain', 415],
    ['XML', '<a/>', 'application/xml', 415],
  ])('refuses %s with a clear 4xx', async (_label, payload, type, status) => {
    const { action } = await published();
    const res = await sign(action.slug, payload, { 'content-type': type });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ statusCode: status, message: expect.any(String) });
    expect(res.body).not.toMatch(/at \w+ \(|node_modules|SELECT|INSERT/);
  });

  it('refuses a body over the size limit with 413', async () => {
    const { action } = await published();
    const res = await sign(action.slug, signBody({ lastName: 'x'.repeat(300_000) }));
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('body_too_large');
  });

  it('answers 404 for an unknown or draft action, 409 for a closed or paused one', async () => {
    expect((await sign('no-such-action', signBody())).json()).toMatchObject({ statusCode: 404, code: 'action_not_found' });
    const draft = await published({ status: 'DRAFT' });
    expect((await sign(draft.action.slug, signBody())).statusCode).toBe(404);
    const closed = await published({ status: 'CLOSED' });
    expect((await sign(closed.action.slug, signBody())).json()).toMatchObject({ statusCode: 409, code: 'action_closed' });
    const paused = await published({ signingEnabled: false });
    expect((await sign(paused.action.slug, signBody())).json()).toMatchObject({ statusCode: 409, code: 'signing_paused' });
    for (const a of [draft, closed, paused]) expect(await rowsFor(a.action.id)).toHaveLength(0);
  });

  it('stores exactly one signature per person under concurrent duplicate submissions', async () => {
    const { action } = await published();
    const people = Array.from({ length: 40 }, () => uniqueEmail('crowd'));
    const submissions = [...people, ...people.slice(0, 10).map((e) => e.toUpperCase()), ...people.slice(0, 10)];
    const results = await Promise.all(submissions.map((email) => sign(action.slug, signBody({ email }))));
    expect(results.every((r) => r.statusCode === 202)).toBe(true);
    const rows = await rowsFor(action.id);
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((r) => r.email_index)).size).toBe(40);
  });
});

describe('confirmation', () => {
  const deps = () => ({ secret: h.secret, clock: () => h.now.value, confirmLinkTtlHours: 24 });

  it('shows the link without confirming, confirms on POST, and answers a second POST without counting twice', async () => {
    const { action } = await published();
    await sign(action.slug, signBody({ country: 'PH' }));
    const [row] = await rowsFor(action.id);
    const token = confirmationToken(deps(), row.id);

    const view = await h.app.inject({ url: `/api/confirmations/${token}` });
    expect(view.json()).toEqual({
      status: 'pending',
      action: { slug: action.slug, title: `Title en ${action.slug}`, locale: 'en' },
      signup: {
        firstName: 'Ana',
        lastName: 'López',
        country: 'PH',
        consents: { count: true, named: false, namedToOwnCountry: false, wall: false, contact: false },
        letter: null,
      },
      version: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      // no other sign-up with the address waits for the action
      others: [],
    });
    expect((await rowsFor(action.id))[0].status).toBe('PENDING');

    const first = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` });
    expect(first.json()).toMatchObject({ status: 'confirmed' });
    const second = await h.app.inject({ method: 'POST', url: `/api/confirmations/${token}` });
    expect(second.json()).toMatchObject({ status: 'already_confirmed' });

    while ((await foldConfirmations(h.db.pool)) > 0);
    await h.cache.refresh();
    const shown = (await h.app.inject({ url: `/api/actions/${action.slug}` })).json();
    expect(shown.count).toBe(1);
    // counts by country: as of the start of the day, never below PUBLIC_COUNTRY_MIN (tests/promises/06-*)
    expect(shown.countries).toEqual([]);
  });

  it('redirects a form POST to the thank-you page', async () => {
    const { action } = await published();
    await sign(action.slug, signBody());
    const [row] = await rowsFor(action.id);
    const res = await h.app.inject({
      method: 'POST',
      url: `/api/confirmations/${confirmationToken(deps(), row.id)}?locale=es`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/es/actions/${action.slug}/thanks?confirmed=1`);
  });

  it('refuses expired, tampered and foreign tokens', async () => {
    const { action } = await published();
    await sign(action.slug, signBody());
    const [row] = await rowsFor(action.id);
    const old = confirmationToken({ ...deps(), clock: () => new Date(Date.now() - 48 * 3_600_000) }, row.id);
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${old}` })).json()).toMatchObject({ statusCode: 410, code: 'link_expired' });
    const good = confirmationToken(deps(), row.id);
    const tampered = good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA');
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${tampered}` })).json()).toMatchObject({ statusCode: 404, code: 'invalid_link' });
    const foreign = confirmationToken({ ...deps(), secret: 'another-secret-another-secret-0123456789' }, row.id);
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${foreign}` })).statusCode).toBe(404);
    expect((await h.app.inject({ method: 'POST', url: `/api/confirmations/${'x'.repeat(600)}` })).statusCode).toBe(422);
    expect((await rowsFor(action.id))[0].status).toBe('PENDING');
  });

  it('will not confirm an invalidated signature', async () => {
    const { action } = await published();
    await sign(action.slug, signBody({ website: 'bot' }));
    const [row] = await rowsFor(action.id);
    const res = await h.app.inject({ method: 'POST', url: `/api/confirmations/${confirmationToken(deps(), row.id)}` });
    expect(res.statusCode).toBe(404);
  });
});

describe('health', () => {
  it('reports liveness and readiness of PostgreSQL and Redis', async () => {
    expect((await h.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await h.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready', postgres: true, redis: true });
  });

  it('answers unknown API paths with a JSON 404', async () => {
    const res = await h.app.inject({ url: '/api/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'not_found' });
  });
});
