// Letter personalisation and its preview, and the public wall, through the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, signBody, type Harness, confirmSignatures } from '../testing/harness.ts';
import { foldConfirmations } from '../signature/counter.service.ts';
import { openedSignatures } from '../testing/sealed.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

async function letterAction(opts: Parameters<typeof createAction>[1] = {}) {
  const fx = await createAction(h.db, { kind: 'LETTER', locales: ['en', 'es'], ...opts });
  await h.db.k.updateTable('actions').set({ allow_personalisation: true, max_letter_length: 500 }).where('id', '=', fx.action.id).execute();
  await h.cache.refresh();
  return fx;
}

const preview = (slug: string, body: unknown) =>
  h.app.inject({ method: 'POST', url: `/api/actions/${slug}/letter-preview`, payload: body as object });

describe('POST /api/actions/:slug/letter-preview', () => {
  it('renders the member’s own letter per target, in the language it was written in, with the target’s salutation and a consented sign-off', async () => {
    const { action, targets } = await letterAction({ targets: [{ country: 'MX', language: 'es' }, { country: null, language: 'en' }] });
    const res = await preview(action.slug, {
      letterSubject: 'Please act',
      letterBody: 'My own words about forensic independence.',
      firstName: 'Lucía',
      lastName: 'Hernández',
      country: 'ES',
      consentNamed: true,
    });
    expect(res.statusCode).toBe(200);
    const { previews } = res.json();
    expect(previews).toHaveLength(2);
    const mx = previews.find((p: { target: { name: string } }) => p.target.name === targets[0]!.name);
    // an English letter (the page's, here the action's default) keeps its sign-off in English for a Spanish-speaking official
    expect(mx).toMatchObject({ locale: 'en', own: true, named: true, withheld: null, subject: 'Please act' });
    expect(mx.text).toContain('My own words about forensic independence.');
    expect(mx.text).toContain('Lucía Hernández, Spain');
    expect(mx.text).not.toContain('España');
    const igo = previews.find((p: { target: { name: string } }) => p.target.name === targets[1]!.name);
    expect(igo.text).toContain('Dear Minister,');
    expect(igo.text).toContain('Lucía Hernández, Spain');
  });

  it('keeps a letter started from the action’s Spanish text in Spanish, for every official', async () => {
    const { action } = await letterAction({ targets: [{ country: null, language: 'en' }] });
    const { previews } = (
      await preview(action.slug, { locale: 'es', letterSubject: 'Por favor', letterBody: 'Mis propias palabras.', firstName: 'Ana', country: 'AR', consentNamed: true })
    ).json();
    expect(previews[0]).toMatchObject({ locale: 'es', own: true, named: true });
    expect(previews[0].text).toContain('Ana, Argentina');
  });

  it('says why a name is not in the letter: not chosen, the official is of the signer’s own country, or no name yet', async () => {
    const { action } = await letterAction({ targets: [{ country: 'MX', language: 'es' }, { country: null, language: 'en' }] });
    const reasons = async (body: object) =>
      ((await preview(action.slug, body)).json().previews as { target: { country: string | null }; withheld: string | null; named: boolean }[]).map((p) => [
        p.target.country,
        p.withheld,
        p.named,
      ]);
    expect(await reasons({ firstName: 'Ana', country: 'MX' })).toEqual([
      ['MX', 'not_chosen', false],
      [null, 'not_chosen', false],
    ]);
    expect(await reasons({ firstName: 'Ana', country: 'MX', consentNamed: true })).toEqual([
      ['MX', 'own_country', false],
      [null, null, true],
    ]);
    expect(await reasons({ country: 'MX', consentNamed: true })).toEqual([
      ['MX', 'no_name', false],
      [null, 'no_name', false],
    ]);
    expect(await reasons({ firstName: 'Ana', country: 'MX', consentNamed: true, consentNamedToOwnCountry: true })).toEqual([
      ['MX', null, true],
      [null, null, true],
    ]);
  });

  it('names each official in the reader’s language where the directory has it', async () => {
    const { action, targets } = await letterAction({ targets: [{ country: null, language: 'en' }] });
    await h.db.pool.query(`UPDATE targets SET names = $2 WHERE id = $1`, [
      targets[0]!.id,
      JSON.stringify({ ru: { name: 'Специальный докладчик по вопросу о пытках', title: 'Специальный докладчик' } }),
    ]);
    await h.cache.refresh();
    const ru = (await preview(action.slug, { locale: 'ru' })).json().previews[0];
    expect(ru.target).toMatchObject({ name: 'Специальный докладчик по вопросу о пытках', title: 'Специальный докладчик', nameLocale: 'ru', roleLocale: 'ru' });
    const es = (await preview(action.slug, { locale: 'es' })).json().previews[0];
    expect(es.target).toMatchObject({ name: targets[0]!.name, nameLocale: 'en' });
  });

  it('uses the action’s own letter when the member does not change it, and names nobody without consent', async () => {
    const { action } = await letterAction({ targets: [{ country: 'MX', language: 'es' }] });
    const { previews } = (await preview(action.slug, { firstName: 'Ana', country: 'MX' })).json();
    // the action's letter goes in the official's language, sign-off included
    expect(previews[0]).toMatchObject({ locale: 'es', own: false, named: false, withheld: 'not_chosen' });
    expect(previews[0].subject).toBe('Subject es');
    // what officials receive: the action's request to them, never the page's texts
    expect(previews[0].text).toContain('Request to officials es');
    expect(previews[0].text).not.toMatch(/Summary es|Body es/);
    expect(previews[0].text).not.toContain('Ana');
    // writing to one's own government without the explicit choice: neither name nor country
    expect(previews[0].text.trim().endsWith('Una persona firmante')).toBe(true);
  });

  it('names a signer to their own government only with the explicit extra choice', async () => {
    const { action } = await letterAction({ targets: [{ country: 'MX', language: 'es' }] });
    const named = (await preview(action.slug, { firstName: 'Ana', lastName: 'P', country: 'MX', consentNamed: true })).json();
    expect(named.previews[0].text).not.toContain('Ana');
    const explicit = (
      await preview(action.slug, { firstName: 'Ana', lastName: 'P', country: 'MX', consentNamed: true, consentNamedToOwnCountry: true })
    ).json();
    expect(explicit.previews[0].text).toContain('Ana P, México');
  });

  it('shows only the signer’s own country’s officials on a BY_SIGNER_COUNTRY action', async () => {
    const { action } = await letterAction({
      targetMode: 'BY_SIGNER_COUNTRY',
      targets: [{ country: 'MX', language: 'es' }, { country: 'KZ', language: 'en' }],
    });
    const { previews } = (await preview(action.slug, { country: 'KZ' })).json();
    expect(previews.map((p: { target: { country: string } }) => p.target.country)).toEqual(['KZ']);
  });

  it.each([
    ['a link in the letter', { letterBody: 'see https://x.example' }, 'letterBody', 'links'],
    ['a letter over the action’s limit', { letterBody: 'x'.repeat(600) }, 'letterBody', 'too_long'],
    ['an unknown field', { email: 'a@example.org' }, 'email', 'unknown_field'],
    ['a subject with a control character', { letterSubject: 'Hi\u0007' }, 'letterSubject', 'forbidden_characters'],
    ['a number as body', { letterBody: 5 }, 'letterBody', 'invalid'],
  ])('refuses %s with 422, naming the field and what is wrong with it', async (_label, body, field, code) => {
    const { action } = await letterAction();
    const res = await preview(action.slug, body);
    expect(res.statusCode).toBe(422);
    expect(res.json().issues).toContainEqual(expect.objectContaining({ path: field, code }));
  });

  it('answers 404 for an unknown action', async () => {
    expect((await preview('no-such-action', {})).statusCode).toBe(404);
  });
});

describe('personalised letters when signing', () => {
  it('stores a changed letter, and not a copy of the action’s own', async () => {
    const { action } = await letterAction();
    await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody({ letterBody: 'Request to officials es' }) });
    await h.app.inject({
      method: 'POST',
      url: `/api/actions/${action.slug}/signatures`,
      payload: signBody({ letterSubject: 'Mine', letterBody: 'Words of my own.' }),
    });
    const opened = await openedSignatures(h.db.pool, 's.action_id = $1', [action.id]);
    expect(opened.map((r) => ({ letter_subject: r.letter_subject, letter_body: r.letter_body }))).toEqual([
      { letter_subject: null, letter_body: null },
      { letter_subject: 'Mine', letter_body: 'Words of my own.' },
    ]);
    // stored sealed: nothing for the first, bytes without the words in clear for the second
    expect(opened[0]!.letter).toBeNull();
    expect(opened[1]!.letter).toBeInstanceOf(Buffer);
    expect(opened[1]!.letter.includes(Buffer.from('Words of my own.'))).toBe(false);
    expect(opened.map((r) => [r.letter_subject_clear, r.letter_body_clear])).toEqual([[null, null], [null, null]]);
  });

  it('ignores letter text on actions that take no personal letters', async () => {
    const fx = await createAction(h.db, { kind: 'PETITION' });
    await h.cache.refresh();
    await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ letterBody: 'Sneaky text' }) });
    const rows = await openedSignatures(h.db.pool, 's.action_id = $1', [fx.action.id]);
    expect(rows[0]!.letter_body).toBeNull();
    expect(rows[0]!.letter).toBeNull();
  });
});

describe('the public wall', () => {
  it('shows first name and country of confirmed signers who chose it, and no one else', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const people = [
      signBody({ firstName: 'Shown', lastName: 'Surname', country: 'KE', consentWall: true }),
      signBody({ firstName: 'Hidden', country: 'KE' }),
      signBody({ firstName: 'Unconfirmed', country: 'KE', consentWall: true }),
    ];
    for (const p of people) await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: p });
    // the wall shows a signer from the day after they signed (promise 6)
    // (the sign-up's name is sealed: which to confirm is chosen by its opened name)
    const toConfirm = (await openedSignatures(h.db.pool, 's.action_id = $1', [fx.action.id])).filter((r) => r.pending_first_name !== 'Unconfirmed').map((r) => r.id);
    expect(toConfirm).toHaveLength(2);
    await confirmSignatures(h.db.pool, `s.id = ANY($1::uuid[])`, [toConfirm], new Date(Date.now() - 86_400_000));
    while ((await foldConfirmations(h.db.pool)) > 0);
    await h.cache.refresh();
    const detail = (await h.app.inject({ url: `/api/actions/${fx.action.slug}` })).json();
    expect(detail.wall).toEqual([{ firstName: 'Shown', country: 'KE', at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }]);
    expect(JSON.stringify(detail)).not.toContain('Surname');
    expect(detail.count).toBe(2);
    expect(detail.responses).toEqual([]);
  });
});
