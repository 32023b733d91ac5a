// The targets directory through /api/admin/targets: roles, search and filters, hostile input,
// audit rows, disabling, CSV import errors by line, and formula-safe CSV export.
import { parse } from 'csv-parse/sync';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greetingLine } from '../shared/salutation.ts';
import { asStaff, createAction, createHarness, staffSession, uniqueEmail, type Harness } from '../testing/harness.ts';

let h: Harness;
let campaigner: { id: string; cookie: string };
let viewer: { cookie: string };
beforeAll(async () => {
  h = await createHarness();
  campaigner = await staffSession(h.db, 'CAMPAIGNER');
  viewer = await staffSession(h.db, 'VIEWER');
});
afterAll(async () => {
  await h?.close();
});

const tag = () => randomUUID().slice(0, 8);

function validTarget(overrides: Record<string, unknown> = {}) {
  return {
    name: `Fiscalía General ${tag()}`,
    title: 'Fiscal General',
    organisation: 'Fiscalía General de la República',
    kind: 'PROSECUTOR',
    country: 'MX',
    email: uniqueEmail('fiscal'),
    language: 'es',
    timezone: 'America/Mexico_City',
    officeHours: '09:00-17:00',
    salutation: 'Estimado Fiscal General',
    lastVerifiedAt: '2026-10-01',
    notes: 'Verified by phone.',
    ...overrides,
  };
}

const post = (url: string, payload: object, cookie = campaigner.cookie) => asStaff(h.app, cookie, { method: 'POST', url, payload });

async function auditRows(entityId: string) {
  const { rows } = await h.db.pool.query('SELECT verb, staff_id, before, after FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id', ['target', entityId]);
  return rows;
}

describe('access', () => {
  it.each([
    ['GET', '/api/admin/targets'],
    ['GET', '/api/admin/targets/export.csv'],
    ['POST', '/api/admin/targets'],
    ['POST', '/api/admin/targets/import'],
    ['GET', `/api/admin/targets/${randomUUID()}`],
    ['PUT', `/api/admin/targets/${randomUUID()}`],
    ['POST', `/api/admin/targets/${randomUUID()}/disable`],
    ['POST', `/api/admin/targets/${randomUUID()}/enable`],
  ] as const)('%s %s refuses without a session (401)', async (method, url) => {
    const res = await asStaff(h.app, null, { method, url, payload: method === 'GET' ? undefined : {} });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('unauthenticated');
  });

  it.each([
    ['POST', '/api/admin/targets'],
    ['POST', '/api/admin/targets/import'],
    ['PUT', `/api/admin/targets/${randomUUID()}`],
    ['POST', `/api/admin/targets/${randomUUID()}/disable`],
  ] as const)('%s %s refuses a viewer (403)', async (method, url) => {
    const res = await asStaff(h.app, viewer.cookie, { method, url, payload: {} });
    expect(res.statusCode).toBe(403);
  });

  it('lets a viewer read the directory', async () => {
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/targets' })).statusCode).toBe(200);
  });
});

describe('create, read, edit', () => {
  it('creates a target, audits it, and finds it by name, organisation and email with filters', async () => {
    const input = validTarget();
    const res = await post('/api/admin/targets', input);
    expect(res.statusCode).toBe(201);
    const t = res.json();
    expect(t).toMatchObject({ name: input.name, kind: 'PROSECUTOR', country: 'MX', language: 'es', officeHours: '09:00-17:00', lastVerifiedAt: '2026-10-01', disabled: false });
    const audit = await auditRows(t.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ verb: 'create', staff_id: campaigner.id, before: null });
    expect(audit[0].after.email).toBe(input.email);

    const search = async (query: string) =>
      (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets?${query}` })).json().targets.map((x: { id: string }) => x.id);
    expect(await search(`q=${encodeURIComponent(input.name.split(' ').pop()!)}`)).toEqual([t.id]);
    expect(await search(`q=${encodeURIComponent(input.email.toUpperCase())}`)).toEqual([t.id]);
    expect(await search(`q=${encodeURIComponent('República ' + input.name.split(' ').pop())}`)).toEqual([t.id]);
    expect(await search(`q=${input.name.split(' ').pop()}&country=MX&kind=PROSECUTOR&language=es&status=OK`)).toEqual([t.id]);
    expect(await search(`q=${input.name.split(' ').pop()}&country=KZ`)).toEqual([]);
    expect(await search(`q=${input.name.split(' ').pop()}&kind=EMBASSY`)).toEqual([]);
    expect(await search(`q=${input.name.split(' ').pop()}&status=STALE`)).toEqual([]);
    // LIKE wildcards are text, not patterns
    expect(await search('q=%25')).not.toContain(t.id);
  });

  it('saves a salutation without the punctuation the letter adds, so "Dear Secretary," never reads "Dear Secretary,,"', async () => {
    for (const [typed, stored] of [
      ['Dear Secretary,', 'Dear Secretary'],
      ['  Estimado   Fiscal General: ', 'Estimado Fiscal General'],
      ['Уважаемый господин министр!', 'Уважаемый господин министр'],
      ['Estimado Sr.', 'Estimado Sr.'],
    ]) {
      const res = await post('/api/admin/targets', validTarget({ salutation: typed }));
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().salutation).toBe(stored);
    }
    expect(greetingLine('Dear Secretary,', 'en')).toBe('Dear Secretary,');
    expect(greetingLine('Estimado Fiscal General', 'es')).toBe('Estimado Fiscal General:');
    expect(greetingLine('Уважаемый министр', 'ru')).toBe('Уважаемый министр!');
  });

  it('pages through results with limit and offset, with the total', async () => {
    const word = `Paged${tag()}`;
    for (let i = 0; i < 3; i++) await post('/api/admin/targets', validTarget({ name: `${word} ${i}` }));
    const page = (offset: number) =>
      asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets?q=${word}&limit=2&offset=${offset}` }).then((r) => r.json());
    const [first, second] = [await page(0), await page(2)];
    expect(first.total).toBe(3);
    expect(first.targets.map((t: { name: string }) => t.name)).toEqual([`${word} 0`, `${word} 1`]);
    expect(second.targets.map((t: { name: string }) => t.name)).toEqual([`${word} 2`]);
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/targets?limit=100000' })).statusCode).toBe(422);
  });

  it('edits every field and audits before and after', async () => {
    const t = (await post('/api/admin/targets', validTarget())).json();
    const res = await asStaff(h.app, campaigner.cookie, {
      method: 'PUT',
      url: `/api/admin/targets/${t.id}`,
      payload: validTarget({ email: t.email, name: 'Renamed', timezone: 'Asia/Almaty', officeHours: '08:30-16:00', country: 'KZ', language: 'ru' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'Renamed', timezone: 'Asia/Almaty', officeHours: '08:30-16:00', country: 'KZ', language: 'ru' });
    const audit = await auditRows(t.id);
    expect(audit.map((a) => a.verb)).toEqual(['create', 'update']);
    expect(audit[1].before.name).toBe(t.name);
    expect(audit[1].after.name).toBe('Renamed');
  });

  it.each([
    ['a bad email', { email: 'not-an-email' }, 'email'],
    ['CR/LF in the email', { email: 'a@example.org\r\nBcc: x@example.org' }, 'email'],
    ['an unknown country', { country: 'XX' }, 'country'],
    ['an unknown language', { language: 'zz' }, 'language'],
    ['a timezone that is not IANA', { timezone: 'Mars/Olympus' }, 'timezone'],
    ['office hours backwards', { officeHours: '17:00-09:00' }, 'officeHours'],
    ['office hours as prose', { officeHours: 'mornings' }, 'officeHours'],
    ['markup in the name', { name: '<script>alert(1)</script>' }, 'name'],
    ['an empty name', { name: '   ' }, 'name'],
    ['an unknown kind', { kind: 'CHURCH' }, 'kind'],
    ['an impossible date', { lastVerifiedAt: '2026-02-31' }, 'lastVerifiedAt'],
    ['an unknown field', { admin: true }, 'admin'],
    ['a right-to-left override', { title: 'Minister\u202E' }, 'title'],
  ])('refuses %s with 422 and the field in issues', async (_label, patch, field) => {
    const res = await post('/api/admin/targets', validTarget(patch));
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('validation_failed');
    expect(body.issues.map((i: { path: string }) => i.path)).toContain(field);
  });

  it('answers 404 for an unknown target and 422 for a malformed id', async () => {
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets/${randomUUID()}` })).statusCode).toBe(404);
    expect((await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/targets/1%27%20OR%201=1' })).statusCode).toBe(422);
  });
});

describe('disable and enable', () => {
  it('disables a target no published action uses, hides it from the default list, and audits it', async () => {
    const t = (await post('/api/admin/targets', validTarget())).json();
    const res = await post(`/api/admin/targets/${t.id}/disable`, {});
    expect(res.statusCode).toBe(200);
    expect(res.json().disabled).toBe(true);
    const word = t.name.split(' ').pop();
    const list = (s: string) => asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets?q=${word}${s}` }).then((r) => r.json().targets.length);
    expect(await list('')).toBe(0);
    expect(await list('&status=DISABLED')).toBe(1);
    expect((await post(`/api/admin/targets/${t.id}/enable`, {})).json().disabled).toBe(false);
    expect((await auditRows(t.id)).map((a) => a.verb)).toEqual(['create', 'disable', 'enable']);
  });

  it('refuses to disable a target of a published action (409), naming the action', async () => {
    const { action, targets } = await createAction(h.db, { status: 'PUBLISHED' });
    const res = await post(`/api/admin/targets/${targets[0]!.id}/disable`, {});
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'target_in_use' });
    expect(res.json().message).toContain(action.slug);
  });
});

describe('CSV import', () => {
  const header = 'name,title,organisation,kind,country,email,language,timezone,office_hours,salutation,last_verified,notes';

  it('creates new targets and updates existing ones by email (case-insensitive), audited', async () => {
    const existing = (await post('/api/admin/targets', validTarget())).json();
    const fresh = uniqueEmail('new');
    const csv = [
      header,
      `"Ministry of Justice, Uzbekistan",Minister,Ministry of Justice,ministry,UZ,${fresh},ru,Asia/Tashkent,09:00-18:00,Уважаемый министр,2026-11-01,"two
lines"`,
      `Renamed by import,Fiscal,FGR,prosecutor,MX,${existing.email.toUpperCase()},es,America/Mexico_City,09:00-17:00,,,`,
    ].join('\r\n');
    const res = await post('/api/admin/targets/import', { csv });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ created: 1, updated: 1, unchanged: 0 });
    const { rows } = await h.db.pool.query('SELECT name, kind, timezone, office_opens_at, notes FROM targets WHERE email = $1', [fresh]);
    expect(rows[0]).toMatchObject({ name: 'Ministry of Justice, Uzbekistan', kind: 'MINISTRY', timezone: 'Asia/Tashkent', office_opens_at: 540, notes: 'two\nlines' });
    const after = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets/${existing.id}` })).json();
    expect(after.name).toBe('Renamed by import');
    expect((await auditRows(existing.id)).map((a) => a.verb)).toEqual(['create', 'import_update']);
    // the same file again changes nothing
    expect((await post('/api/admin/targets/import', { csv })).json()).toEqual({ created: 0, updated: 0, unchanged: 2 });
  });

  it('reports every bad row by line and imports nothing', async () => {
    const ok = uniqueEmail('ok');
    const csv = [
      header,
      `Good one,,,ministry,UZ,${ok},en,UTC,09:00-17:00,,,`,
      `Bad email,,,ministry,UZ,not-an-email,en,UTC,09:00-17:00,,,`,
      `Bad country,,,ministry,QQ,${uniqueEmail()},en,Mars/Base,25:00-26:00,,,`,
      `Duplicate,,,ministry,UZ,${ok.toUpperCase()},en,UTC,09:00-17:00,,,`,
      `"=HYPERLINK(""http://evil.example"")",,,church,UZ,${uniqueEmail()},xx,UTC,09:00-17:00,,2026-13-01,`,
    ].join('\n');
    const res = await post('/api/admin/targets/import', { csv });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('csv_invalid');
    const paths = body.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'line 3: email',
        'line 4: country',
        'line 4: timezone',
        'line 4: office_hours',
        'line 5: email',
        'line 6: kind',
        'line 6: language',
        'line 6: last_verified',
      ]),
    );
    expect(paths.some((p: string) => p.startsWith('line 2'))).toBe(false);
    const { rows } = await h.db.pool.query('SELECT count(*)::int AS n FROM targets WHERE lower(email) = lower($1)', [ok]);
    expect(rows[0].n).toBe(0);
  });

  it.each([
    ['a header without email', 'name,kind\nA,ministry\n', 'line 1'],
    ['an unknown column', `name,kind,email,password\nA,ministry,${uniqueEmail()},x\n`, 'line 1'],
    ['an unclosed quote', `name,kind,email\n"A,ministry,a@example.org\n`, 'line'],
    ['a row with too many cells', `name,kind,email\nA,ministry,a@example.org,extra\n`, 'line 2'],
    ['only a header', 'name,kind,email\n', 'file'],
  ])('refuses %s with a clear 422', async (_label, csv, where) => {
    const res = await post('/api/admin/targets/import', { csv });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('csv_invalid');
    expect(res.json().issues[0].path).toContain(where);
  });

  it('refuses a body that is not { csv } (422) and a text/plain upload (415)', async () => {
    expect((await post('/api/admin/targets/import', { csv: 'x', extra: 1 })).statusCode).toBe(422);
    const raw = await asStaff(h.app, campaigner.cookie, {
      method: 'POST',
      url: '/api/admin/targets/import',
      payload: 'name,kind,email',
      headers: { 'content-type': 'text/plain' },
    });
    expect(raw.statusCode).toBe(415);
  });
});

describe('CSV export', () => {
  it('neutralises cells a spreadsheet would run as formulas', async () => {
    const hostile = ['=HYPERLINK("http://evil.example","x")', '+cmd|/c calc', '-1+1', '@SUM(A1:A2)'];
    const ids: string[] = [];
    for (const notes of hostile) {
      ids.push((await post('/api/admin/targets', validTarget({ notes, title: notes.replace(/[<>]/g, '') }))).json().id);
    }
    // a name that starts with = can also arrive by import, which stores text as it is
    const email = uniqueEmail('formula');
    const imp = await post('/api/admin/targets/import', { csv: `name,kind,email\n"=HYPERLINK(""http://evil.example"")",igo,${email}\n` });
    expect(imp.statusCode, imp.body).toBe(200);

    const res = await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/targets/export.csv' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/csv');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="targets-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows: Record<string, string>[] = parse(res.body, { columns: true });
    for (const notes of hostile) {
      const row = rows.find((r) => r.notes === `'${notes}`);
      expect(row, notes).toBeDefined();
      expect(row!.title).toBe(`'${notes}`);
    }
    const imported = rows.find((r) => r.email === email)!;
    expect(imported.name).toBe(`'=HYPERLINK("http://evil.example")`);
    // no cell of the whole file starts with a formula character
    for (const r of rows) for (const v of Object.values(r)) expect(v).not.toMatch(/^[=+\-@\t\r]/);
  });
});

describe('names in each language members read', () => {
  const NAMES = {
    es: { name: 'Relator Especial sobre la tortura', title: 'Relator Especial', organisation: 'Consejo de Derechos Humanos' },
    ru: { name: 'Специальный докладчик по вопросу о пытках', title: 'Специальный докладчик', organisation: 'Совет ООН по правам человека' },
    fr: { name: 'Rapporteur spécial sur la torture', title: '', organisation: '' },
  };

  it('keeps a name, title and organisation per language, edits them, and finds a target by them', async () => {
    const created = await post('/api/admin/targets', validTarget({ name: `UN Special Rapporteur ${tag()}`, names: NAMES }));
    expect(created.statusCode, created.body).toBe(201);
    const t = created.json();
    // empty fields are left out: they fall back to the English ones
    expect(t.names).toEqual({ es: NAMES.es, ru: NAMES.ru, fr: { name: NAMES.fr.name } });
    expect(t.nameIsOfficial).toBe(false);
    const found = await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets?q=${encodeURIComponent('докладчик')}&limit=500` });
    expect(found.json().targets.map((x: { id: string }) => x.id)).toContain(t.id);

    const edited = await asStaff(h.app, campaigner.cookie, {
      method: 'PUT',
      url: `/api/admin/targets/${t.id}`,
      payload: validTarget({ email: t.email, name: t.name, names: { es: NAMES.es }, nameIsOfficial: true }),
    });
    expect(edited.statusCode, edited.body).toBe(200);
    expect(edited.json()).toMatchObject({ names: { es: NAMES.es }, nameIsOfficial: true });
    expect(edited.json().names.ru).toBeUndefined();
    const audit = await auditRows(t.id);
    expect(audit[1].before.names.ru).toEqual(NAMES.ru);
    expect(audit[1].after.nameIsOfficial).toBe(true);
  });

  it.each([
    ['a language members do not read', { names: { de: { name: 'Sonderberichterstatter' } } }, 'names.de'],
    ['markup in a translated name', { names: { es: { name: '<b>Relator</b>' } } }, 'names.es.name'],
    ['a right-to-left override in a translated title', { names: { ru: { title: 'Докладчик\u202E' } } }, 'names.ru.title'],
    ['a name over 200 characters', { names: { fr: { name: 'x'.repeat(201) } } }, 'names.fr.name'],
    ['an official flag that is not a boolean', { nameIsOfficial: 'maybe' }, 'nameIsOfficial'],
  ])('refuses %s with 422 and its path', async (_label, patch, path) => {
    const res = await post('/api/admin/targets', validTarget(patch));
    expect(res.statusCode).toBe(422);
    expect(res.json().issues.map((i: { path: string }) => i.path)).toContain(path);
  });

  it('imports and exports them as name_<language> columns, and an import without them keeps them', async () => {
    const t = (await post('/api/admin/targets', validTarget({ names: NAMES, nameIsOfficial: true }))).json();
    const header = 'name,kind,email,name_es,title_es,name_official';
    const withNames = [header, `${t.name},prosecutor,${t.email},Nombre nuevo,Fiscal General,no`].join('\n');
    expect((await post('/api/admin/targets/import', { csv: withNames })).json()).toMatchObject({ updated: 1 });
    let after = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets/${t.id}` })).json();
    // the file had columns for Spanish only: the other languages it did not name are emptied, as a cell left empty is
    expect(after.names).toEqual({ es: { name: 'Nombre nuevo', title: 'Fiscal General' } });
    expect(after.nameIsOfficial).toBe(false);

    const without = ['name,kind,email', `${t.name},prosecutor,${t.email}`].join('\n');
    await post('/api/admin/targets/import', { csv: without });
    after = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: `/api/admin/targets/${t.id}` })).json();
    expect(after.names).toEqual({ es: { name: 'Nombre nuevo', title: 'Fiscal General' } });

    const bad = [header, `${t.name},prosecutor,${t.email},,,perhaps`].join('\n');
    const refused = await post('/api/admin/targets/import', { csv: bad });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().issues.map((i: { path: string }) => i.path)).toContain('line 2: name_official');

    const csv = (await asStaff(h.app, viewer.cookie, { method: 'GET', url: '/api/admin/targets/export.csv' })).body;
    const rows = parse(csv, { columns: true, bom: true }) as Record<string, string>[];
    const row = rows.find((r) => r.email === t.email)!;
    expect(row).toMatchObject({ name_es: 'Nombre nuevo', title_es: 'Fiscal General', name_ru: '', name_official: 'no' });
  });

  it('answers GET /api/actions/:slug with each target in the requested language, or its own official name', async () => {
    const { action, targets } = await createAction(h.db, { targets: [{ country: null, language: 'en' }, { country: 'MX', language: 'es' }] });
    const [un, mx] = targets;
    await h.db.pool.query(`UPDATE targets SET names = $2 WHERE id = $1`, [un!.id, JSON.stringify(NAMES)]);
    await h.db.pool.query(`UPDATE targets SET names = $2, name_is_official = true WHERE id = $1`, [
      mx!.id,
      JSON.stringify({ ru: { name: 'Генпрокуратура', title: 'Генеральный прокурор' } }),
    ]);
    await h.cache.refresh();
    const read = async (locale: string) =>
      (await h.app.inject({ url: `/api/actions/${action.slug}?locale=${locale}` })).json().targets as {
        name: string;
        title: string;
        organisation: string;
        locale: string;
        roleLocale: string;
      }[];

    const ru = await read('ru');
    expect(ru[0]).toMatchObject({ ...NAMES.ru, locale: 'ru', roleLocale: 'ru' });
    // the official name stays as it is, in the target's language; its title is translated
    expect(ru[1]).toMatchObject({ name: mx!.name, title: 'Генеральный прокурор', organisation: mx!.organisation, locale: 'es', roleLocale: 'ru' });
    const es = await read('es');
    expect(es[0]).toMatchObject({ ...NAMES.es, locale: 'es' });
    // French: the name only; the title and organisation fall back to English
    const fr = await read('fr');
    expect(fr[0]).toMatchObject({ name: NAMES.fr.name, title: un!.title, organisation: un!.organisation, locale: 'fr', roleLocale: 'en' });
    const en = await read('en');
    expect(en[0]).toMatchObject({ name: un!.name, title: un!.title, locale: 'en', roleLocale: 'en' });
  });
});
