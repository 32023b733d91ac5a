// Running actions through /api/admin/actions: roles, create, texts per language, targets,
// lifecycle, the kill switches as signers meet them, the letter preview, and the audit rows.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asStaff, createAction, createHarness, signBody, staffSession, uniqueSlug, type Harness } from '../testing/harness.ts';
import { prismaOn } from '../db/prisma.ts';

let h: Harness;
let campaigner: { id: string; cookie: string };
let viewer: { cookie: string };
let admin: { cookie: string };
beforeAll(async () => {
  h = await createHarness();
  campaigner = await staffSession(h.db, 'CAMPAIGNER');
  viewer = await staffSession(h.db, 'VIEWER');
  admin = await staffSession(h.db, 'ADMIN');
  await prismaOn(h.db.pool).campaign.upsert({
    where: { slug: 'test-campaign' },
    update: {},
    create: { slug: 'test-campaign', texts: { create: { locale: 'en', name: 'Test campaign' } } },
  });
});
afterAll(async () => {
  // never leave the platform paused for the other tests
  await h?.db.pool.query(`DELETE FROM platform_settings WHERE key = 'signing_paused'`);
  await h?.close();
});

const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object, cookie = campaigner.cookie) =>
  asStaff(h.app, cookie, { method, url, payload });

async function auditVerbs(id: string): Promise<string[]> {
  const { rows } = await h.db.pool.query(`SELECT verb FROM audit_log WHERE entity = 'action' AND entity_id = $1 ORDER BY id`, [id]);
  return rows.map((r) => r.verb);
}

async function newTarget(language: string, country: string | null, salutation: string) {
  const res = await call('POST', '/api/admin/targets', {
    name: `Official ${randomUUID().slice(0, 6)}`,
    title: 'Minister',
    kind: 'MINISTRY',
    country,
    email: `${uniqueSlug('off')}@gov.example`,
    language,
    salutation,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; name: string };
}

async function draftLetter() {
  const slug = uniqueSlug('console');
  const res = await call('POST', '/api/admin/actions', {
    slug,
    campaign: 'test-campaign',
    kind: 'LETTER',
    defaultLocale: 'en',
    goal: 500,
    milestones: [100, 250],
    title: 'Independent forensic services',
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; slug: string; status: string };
}

const letterTexts = (locale: string) => ({
  title: locale === 'es' ? 'Servicios forenses independientes' : 'Independent forensic services',
  summary: locale === 'es' ? 'Pedimos independencia.' : 'We ask for independence.',
  body: 'Body',
  letterSubject: locale === 'es' ? 'Independencia forense' : 'Forensic independence',
  officialRequest: locale === 'es' ? 'Le pedimos garantizar la independencia de los servicios forenses.' : 'We ask you to guarantee the independence of forensic services.',
});

describe('access', () => {
  const id = randomUUID();
  const routes = [
    ['GET', '/api/admin/actions'],
    ['POST', '/api/admin/actions'],
    ['GET', `/api/admin/actions/${id}`],
    ['PATCH', `/api/admin/actions/${id}`],
    ['PUT', `/api/admin/actions/${id}/texts/es`],
    ['DELETE', `/api/admin/actions/${id}/texts/es`],
    ['PUT', `/api/admin/actions/${id}/targets`],
    ['POST', `/api/admin/actions/${id}/publish`],
    ['POST', `/api/admin/actions/${id}/close`],
    ['POST', `/api/admin/actions/${id}/archive`],
    ['POST', `/api/admin/actions/${id}/signing`],
    ['GET', '/api/admin/signing'],
    ['PUT', '/api/admin/signing'],
    ['GET', `/api/admin/actions/${id}/letter-preview`],
  ] as const;
  it.each(routes)('%s %s refuses without a session (401)', async (method, url) => {
    const res = await asStaff(h.app, null, { method, url, payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
    expect(res.statusCode).toBe(401);
  });
  it.each(routes.filter(([m]) => m !== 'GET'))('%s %s refuses a viewer (403)', async (method, url) => {
    const res = await asStaff(h.app, viewer.cookie, { method, url, payload: method === 'DELETE' ? undefined : {} });
    expect(res.statusCode).toBe(403);
  });
  it('refuses a state change without the CSRF header (403)', async () => {
    const res = await h.app.inject({ method: 'PUT', url: '/api/admin/signing', payload: { paused: true }, headers: { cookie: campaigner.cookie } });
    expect(res.statusCode).toBe(403);
    expect((await call('GET', '/api/admin/signing', undefined, viewer.cookie)).json().pausedAll).toBe(false);
  });
});

describe('create and edit', () => {
  it('creates a draft with its default-language text, audited, and lists it with counts', async () => {
    const a = await draftLetter();
    expect(a).toMatchObject({ status: 'DRAFT', goal: 500, milestones: [100, 250], locales: ['en'], confirmed: 0, pending: 0, targetCount: 0 });
    // the campaign by its slug and by its name in each language it has one (the console shows the name)
    expect(a).toMatchObject({ campaign: 'test-campaign', campaignNames: [{ locale: 'en', name: 'Test campaign' }] });
    expect(await auditVerbs(a.id)).toEqual(['create']);
    // a new action sends one digest a day, in office hours, until staff choose otherwise
    expect((await h.db.pool.query(`SELECT delivery_policy FROM actions WHERE id = $1`, [a.id])).rows[0].delivery_policy).toBe('DAILY_DIGEST');
    const list = (await call('GET', '/api/admin/actions', undefined, viewer.cookie)).json();
    expect(list.actions.find((x: { id: string }) => x.id === a.id)).toMatchObject({ title: 'Independent forensic services', status: 'DRAFT' });
    expect(list.statusCounts.DRAFT).toBeGreaterThanOrEqual(1);
    expect(list.campaigns.map((c: { slug: string }) => c.slug)).toContain('test-campaign');
    const drafts = (await call('GET', '/api/admin/actions?status=DRAFT', undefined, viewer.cookie)).json();
    expect(drafts.actions.every((x: { status: string }) => x.status === 'DRAFT')).toBe(true);
  });

  it.each([
    ['a slug with spaces', { slug: 'two words' }, 'slug'],
    ['an unknown kind', { kind: 'POLL' }, 'kind'],
    ['an unknown locale', { defaultLocale: 'de' }, 'defaultLocale'],
    ['a negative goal', { goal: -5 }, 'goal'],
    ['milestones that fall', { milestones: [500, 100] }, 'milestones'],
    ['markup in the title', { title: '<img src=x onerror=alert(1)>' }, 'title'],
    ['an unknown field', { status: 'PUBLISHED' }, 'status'],
  ])('refuses %s (422, with the field)', async (_l, patch, field) => {
    const res = await call('POST', '/api/admin/actions', { slug: uniqueSlug('bad'), campaign: 'test-campaign', kind: 'LETTER', title: 'T', ...patch });
    expect(res.statusCode).toBe(422);
    expect(res.json().issues.map((i: { path: string }) => i.path)).toContain(field);
  });

  it('refuses an unknown campaign (422) and a slug in use (409)', async () => {
    const a = await draftLetter();
    expect((await call('POST', '/api/admin/actions', { slug: uniqueSlug('x'), campaign: 'no-such-campaign', kind: 'PETITION', title: 'T' })).statusCode).toBe(422);
    const dup = await call('POST', '/api/admin/actions', { slug: a.slug, campaign: 'test-campaign', kind: 'PETITION', title: 'T' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('slug_taken');
  });

  it('names each problem with its code and bound, for the console to say it in its reader’s language', async () => {
    const res = await call('POST', '/api/admin/actions', { slug: 'ab', campaign: 'test-campaign', kind: 'LETTER', title: 'T', goal: 0, milestones: [100, 'x'] });
    expect(res.statusCode).toBe(422);
    const issues = res.json().issues as { path: string; code: string; min?: number; max?: number }[];
    expect(issues).toContainEqual(expect.objectContaining({ path: 'slug', code: 'too_short', min: 3 }));
    expect(issues).toContainEqual(expect.objectContaining({ path: 'goal', code: 'out_of_range', min: 1 }));
    expect(issues).toContainEqual(expect.objectContaining({ path: 'milestones.1', code: 'invalid' }));
    const campaign = await call('POST', '/api/admin/actions', { slug: uniqueSlug('x'), campaign: 'no-such-campaign', kind: 'PETITION', title: 'T' });
    expect(campaign.json().issues).toEqual([{ path: 'campaign', code: 'not_found', message: expect.any(String) }]);
  });

  it('writes texts per language, refuses merge-field syntax in letters, and removes a translation', async () => {
    const a = await draftLetter();
    const es = await call('PUT', `/api/admin/actions/${a.id}/texts/es`, letterTexts('es'));
    expect(es.statusCode, es.body).toBe(200);
    expect(es.json().locales).toEqual(['en', 'es']);
    expect(es.json().texts.find((t: { locale: string }) => t.locale === 'es').letterSubject).toBe('Independencia forense');

    const merge = await call('PUT', `/api/admin/actions/${a.id}/texts/en`, { ...letterTexts('en'), officialRequest: 'Dear {{target.name}}' });
    expect(merge.statusCode).toBe(422);
    expect(merge.json().issues[0]).toMatchObject({ path: 'officialRequest', code: 'merge_fields' });
    // the letter has one text: the old second field is refused by name, not dropped in silence
    const old = await call('PUT', `/api/admin/actions/${a.id}/texts/en`, { ...letterTexts('en'), letterBody: 'A second letter' });
    expect(old.statusCode).toBe(422);
    expect(JSON.stringify(old.json().issues)).toContain('letterBody');
    expect((await call('PUT', `/api/admin/actions/${a.id}/texts/de`, letterTexts('en'))).statusCode).toBe(422);

    expect((await call('DELETE', `/api/admin/actions/${a.id}/texts/en`)).json().code).toBe('default_locale');
    const removed = await call('DELETE', `/api/admin/actions/${a.id}/texts/es`);
    expect(removed.json().locales).toEqual(['en']);
    expect(await auditVerbs(a.id)).toEqual(['create', 'update_text', 'delete_text']);
  });

  it('changes settings, audited with before and after', async () => {
    const a = await draftLetter();
    const res = await call('PATCH', `/api/admin/actions/${a.id}`, { goal: 2000, milestones: [1000], allowPersonalisation: true, replyTo: 'campaigns@example.org' });
    expect(res.json()).toMatchObject({ goal: 2000, milestones: [1000], allowPersonalisation: true, replyTo: 'campaigns@example.org' });
    const { rows } = await h.db.pool.query(`SELECT before, after FROM audit_log WHERE entity = 'action' AND entity_id = $1 AND verb = 'update_settings'`, [a.id]);
    expect(rows[0].before.goal).toBe(500);
    expect(rows[0].after.goal).toBe(2000);
    expect((await call('PATCH', `/api/admin/actions/${a.id}`, { defaultLocale: 'fr' })).statusCode).toBe(422);
    expect((await call('PATCH', `/api/admin/actions/${a.id}`, { replyTo: 'x\r\nBcc: y@example.org' })).statusCode).toBe(422);
  });

  it('chooses targets from the directory in order, refusing unknown and disabled ones', async () => {
    const a = await draftLetter();
    const t1 = await newTarget('es', 'MX', 'Estimado Fiscal');
    const t2 = await newTarget('en', null, 'Dear Special Rapporteur');
    const res = await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [t2.id, t1.id] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().targets.map((t: { id: string }) => t.id)).toEqual([t2.id, t1.id]);
    const unknown = await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [randomUUID()] });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().issues[0].path).toBe('targetIds.0');
    const t3 = await newTarget('en', 'KZ', 'Dear Prosecutor');
    await call('POST', `/api/admin/targets/${t3.id}/disable`, {});
    expect((await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [t1.id, t3.id] })).json().issues[0].path).toBe('targetIds.1');
    expect((await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [t1.id, t1.id] })).statusCode).toBe(422);
  });
});

describe('lifecycle', () => {
  it('publishes only a ready letter action, shows it publicly, closes, reopens and archives it; every step audited', async () => {
    const a = await draftLetter();
    const notReady = await call('POST', `/api/admin/actions/${a.id}/publish`);
    expect(notReady.statusCode).toBe(422);
    expect(notReady.json().code).toBe('not_ready');
    expect(notReady.json().issues.map((i: { path: string }) => i.path)).toEqual(expect.arrayContaining(['targets', 'texts.en.letterSubject']));
    expect(notReady.json().issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'targets', code: 'required' }), expect.objectContaining({ path: 'texts.en.letterSubject', code: 'required' })]),
    );

    await call('PUT', `/api/admin/actions/${a.id}/texts/en`, letterTexts('en'));
    await call('PUT', `/api/admin/actions/${a.id}/texts/es`, letterTexts('es'));
    const t = await newTarget('es', 'MX', 'Estimado Fiscal');
    await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [t.id] });
    expect((await h.app.inject({ url: `/api/actions/${a.slug}` })).statusCode).toBe(404);

    const pub = await call('POST', `/api/admin/actions/${a.id}/publish`);
    expect(pub.statusCode, pub.body).toBe(200);
    expect(pub.json()).toMatchObject({ status: 'PUBLISHED', nextStatuses: ['CLOSED'] });
    const page = await h.app.inject({ url: `/api/actions/${a.slug}?locale=es` });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ title: 'Servicios forenses independientes', signingOpen: true });

    expect((await call('POST', `/api/admin/actions/${a.id}/archive`)).statusCode).toBe(409);
    expect((await call('POST', `/api/admin/actions/${a.id}/close`)).json().status).toBe('CLOSED');
    const closed = await h.app.inject({ url: `/api/actions/${a.slug}` });
    expect(closed.json()).toMatchObject({ status: 'CLOSED', signingOpen: false });
    const refused = await h.app.inject({ method: 'POST', url: `/api/actions/${a.slug}/signatures`, payload: signBody() });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('action_closed');

    expect((await call('POST', `/api/admin/actions/${a.id}/publish`)).json().status).toBe('PUBLISHED');
    await call('POST', `/api/admin/actions/${a.id}/close`);
    expect((await call('POST', `/api/admin/actions/${a.id}/archive`)).json().status).toBe('ARCHIVED');
    expect((await h.app.inject({ url: `/api/actions/${a.slug}` })).statusCode).toBe(404);
    const frozen = await call('PUT', `/api/admin/actions/${a.id}/texts/en`, letterTexts('en'));
    expect(frozen.statusCode).toBe(409);
    expect(frozen.json().code).toBe('action_archived');
    expect(await auditVerbs(a.id)).toEqual(['create', 'update_text', 'update_text', 'set_targets', 'publish', 'close', 'publish', 'close', 'archive']);
  });

  it('answers 404 for an unknown action', async () => {
    expect((await call('POST', `/api/admin/actions/${randomUUID()}/publish`)).statusCode).toBe(404);
    expect((await call('GET', `/api/admin/actions/${randomUUID()}`, undefined, viewer.cookie)).statusCode).toBe(404);
  });
});

describe('kill switches', () => {
  it('stops signing on one action with 409 signing_paused, the page says so, and resumes', async () => {
    const { action } = await createAction(h.db, { status: 'PUBLISHED' });
    await h.cache.refresh();
    const off = await call('POST', `/api/admin/actions/${action.id}/signing`, { enabled: false });
    expect(off.json().signingEnabled).toBe(false);
    const refused = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('signing_paused');
    expect((await h.app.inject({ url: `/api/actions/${action.slug}` })).json().signingOpen).toBe(false);
    await call('POST', `/api/admin/actions/${action.id}/signing`, { enabled: true });
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() })).statusCode).toBe(202);
    expect(await auditVerbs(action.id)).toEqual(['pause_signing', 'resume_signing']);
  });

  it('stops signing on every action at once, audited, and resumes (admin or campaigner)', async () => {
    const { action } = await createAction(h.db, { status: 'PUBLISHED' });
    await h.cache.refresh();
    const on = await call('PUT', '/api/admin/signing', { paused: true }, admin.cookie);
    expect(on.json()).toEqual({ pausedAll: true });
    try {
      const refused = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() });
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'signing_paused', message: expect.stringContaining('every action') });
      expect((await h.app.inject({ url: `/api/actions/${action.slug}` })).json().signingOpen).toBe(false);
      const detail = (await call('GET', `/api/admin/actions/${action.id}`, undefined, viewer.cookie)).json();
      expect(detail.signingPausedAll).toBe(true);
    } finally {
      await call('PUT', '/api/admin/signing', { paused: false });
    }
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() })).statusCode).toBe(202);
    const { rows } = await h.db.pool.query(
      `SELECT verb, before, after FROM audit_log WHERE entity = 'platform_setting' AND entity_id = 'signing_paused' ORDER BY id DESC LIMIT 2`,
    );
    expect(rows.map((r) => r.verb)).toEqual(['resume_signing_all', 'pause_signing_all']);
    expect(rows[1]).toMatchObject({ before: { paused: false }, after: { paused: true } });
    expect((await call('PUT', '/api/admin/signing', { paused: 'yes' })).statusCode).toBe(422);
  });

  it('reaches a separate cache (another process) within its refresh', async () => {
    const { ActionCache } = await import('./action.service.ts');
    const other = new ActionCache(h.db.pool, { actionsRefreshMs: 200, countsRefreshMs: 60_000 });
    await other.start();
    try {
      const a = await draftLetter();
      await call('PUT', `/api/admin/actions/${a.id}/texts/en`, letterTexts('en'));
      await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [(await newTarget('en', null, 'Dear Sir')).id] });
      await call('POST', `/api/admin/actions/${a.id}/publish`);
      await new Promise((r) => setTimeout(r, 600));
      expect(other.list().some((x) => x.slug === a.slug)).toBe(true);
    } finally {
      other.stop();
    }
  });
});

describe('OpenAPI', () => {
  it('documents the console routes', async () => {
    const res = await h.app.inject({ url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    expect(paths).toEqual(expect.arrayContaining(['/api/admin/actions/{id}/letter-preview', '/api/admin/signing', '/api/admin/targets/import']));
  });
});

describe('letter preview', () => {
  it('renders what each target receives, in its language, with its salutation, through the delivery rendering', async () => {
    const a = await draftLetter();
    await call('PUT', `/api/admin/actions/${a.id}/texts/en`, letterTexts('en'));
    await call('PUT', `/api/admin/actions/${a.id}/texts/es`, letterTexts('es'));
    const mx = await newTarget('es', 'MX', 'Estimado Fiscal General');
    const un = await newTarget('fr', null, 'Monsieur le Rapporteur spécial');
    await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [mx.id, un.id] });
    await h.db.pool.query(`INSERT INTO action_stats (action_id, confirmed_count) VALUES ($1, 3)`, [a.id]);
    await h.db.pool.query(`INSERT INTO action_country_stats (action_id, country, confirmed_count) VALUES ($1, 'MX', 2), ($1, 'ES', 1)`, [a.id]);

    const res = await call('GET', `/api/admin/actions/${a.id}/letter-preview`, undefined, viewer.cookie);
    expect(res.statusCode, res.body).toBe(200);
    const { previews, sample } = res.json();
    expect(sample).toEqual({ newCount: 3, totalCount: 3 });
    const es = previews.find((p: { target: { id: string } }) => p.target.id === mx.id);
    expect(es).toMatchObject({ locale: 'es', subject: 'Independencia forense' });
    expect(es.text).toMatch(/^Estimado Fiscal General:\n\nLe pedimos garantizar/);
    // as the Mexican official would see it (countryForOfficial): no unnamed compatriot placed in
    // Mexico, no country with fewer than PUBLIC_COUNTRY_MIN unnamed signers
    expect(es.text).not.toContain('México');
    expect(es.text).not.toContain('España');
    expect(es.text).toContain('De 3 personas firmantes no se indica el país.');
    // French has no texts on this action: the letter goes in the default language, as delivery does
    const fr = previews.find((p: { target: { id: string } }) => p.target.id === un.id);
    expect(fr).toMatchObject({ locale: 'en', subject: 'Forensic independence' });
    // greeted in English too, by title: the French salutation belongs to a French letter
    expect(fr.text).toMatch(/^Dear Minister,\n/);
    expect(fr.text).not.toContain('Monsieur le Rapporteur spécial');
    expect(fr.text).toContain('We ask you to guarantee');
    // an inter-governmental body is of no signer's country: it sees where they write from
    expect(fr.text).toContain('They write from: Mexico, Spain.');
    // the whole letter is in English, and the console is told why
    expect(fr).toMatchObject({ wantedLocale: 'fr', requestMissing: false });
    expect(es).toMatchObject({ wantedLocale: 'es', requestMissing: false });
    for (const p of previews) {
      // nothing of the page reaches an official: not its summary, body or member-facing letter text
      expect(p.text).not.toMatch(/Pedimos independencia|We ask for independence|Body|I write to ask|Escribo para pedir/);
      expect(p.text).not.toMatch(/\(the signed link|undefined|[{}]/);
    }
  });

  it('sends the request in one language: where a translation has none, the letter falls back whole, and says so', async () => {
    const a = await draftLetter();
    await call('PUT', `/api/admin/actions/${a.id}/texts/en`, letterTexts('en'));
    await call('PUT', `/api/admin/actions/${a.id}/texts/es`, { ...letterTexts('es'), officialRequest: '' });
    const mx = await newTarget('es', 'MX', 'Estimado Fiscal General,');
    await call('PUT', `/api/admin/actions/${a.id}/targets`, { targetIds: [mx.id] });
    const { previews } = (await call('GET', `/api/admin/actions/${a.id}/letter-preview`, undefined, viewer.cookie)).json();
    expect(previews[0]).toMatchObject({ locale: 'en', wantedLocale: 'es', requestMissing: false, subject: 'Forensic independence' });
    // an English greeting (by the official's title: the Spanish salutation belongs to a Spanish
    // letter), the English request and sign-off
    expect(previews[0].text).toMatch(/^Dear Minister,\n\nWe ask you to guarantee/);
    expect(previews[0].text).not.toContain('Estimado');
    expect(previews[0].text).not.toContain(',,');
    expect(previews[0].text).toContain('Respectfully,');

    // no request in any language: a neutral sentence built from the title alone
    await call('PUT', `/api/admin/actions/${a.id}/texts/en`, { ...letterTexts('en'), officialRequest: '' });
    const none = (await call('GET', `/api/admin/actions/${a.id}/letter-preview`, undefined, viewer.cookie)).json();
    expect(none.previews[0]).toMatchObject({ locale: 'es', wantedLocale: 'es', requestMissing: true });
    expect(none.previews[0].text).toContain('Las personas abajo firmantes le pedimos que responda a nuestra petición: «Servicios forenses independientes».');
    expect(none.previews[0].text).not.toMatch(/Pedimos independencia|Escribo para pedir/);
  });

  it('refuses a request to officials with merge fields or over 20,000 characters, by code and path', async () => {
    const a = await draftLetter();
    const merge = await call('PUT', `/api/admin/actions/${a.id}/texts/en`, { ...letterTexts('en'), officialRequest: 'Dear {{name}}' });
    expect(merge.statusCode).toBe(422);
    expect(merge.json().issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'officialRequest' })]));
    const long = await call('PUT', `/api/admin/actions/${a.id}/texts/en`, { ...letterTexts('en'), officialRequest: 'x'.repeat(20_001) });
    expect(long.statusCode).toBe(422);
    expect(long.json().issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'officialRequest', code: expect.any(String) })]));
    const ok = await call('PUT', `/api/admin/actions/${a.id}/texts/en`, letterTexts('en'));
    expect(ok.statusCode).toBeLessThan(300);
    const detail = (await call('GET', `/api/admin/actions/${a.id}`, undefined, viewer.cookie)).json();
    expect(detail.texts[0].officialRequest).toBe('We ask you to guarantee the independence of forensic services.');
  });
});
