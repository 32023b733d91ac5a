// Every issue of a 422 says what is wrong with its field as a code, so that a page can say it in
// its reader's language without reading the English message (shared/issues.ts). The pages check
// the sign form with the same schema and codes before posting (shared/sign-form.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, signBody, type Harness } from '../testing/harness.ts';
import { signFormSchema } from '../shared/sign-form.ts';
import { issueCode, issuePath } from '../shared/issues.ts';

let h: Harness;
let slug: string;
beforeAll(async () => {
  h = await createHarness();
  slug = (await createAction(h.db)).action.slug;
  await h.cache.refresh();
});
afterAll(async () => h?.close());

const sign = (body: Record<string, unknown>) => h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: body });

const cases: [string, Record<string, unknown>, string, string][] = [
  ['a first name left out', { firstName: undefined }, 'firstName', 'required'],
  ['an empty last name', { lastName: '   ' }, 'lastName', 'required'],
  ['a name over 100 characters', { firstName: 'a'.repeat(101) }, 'firstName', 'too_long'],
  ['a name with markup', { lastName: '<b>López</b>' }, 'lastName', 'forbidden_characters'],
  ['an address that is not one', { email: 'ana@@example' }, 'email', 'invalid'],
  ['an address left out', { email: undefined }, 'email', 'required'],
  ['no consent to be counted', { consentCount: false }, 'consentCount', 'required'],
  ['a checkbox that says neither', { consentWall: 'maybe' }, 'consentWall', 'invalid'],
  ['a country that is not one', { country: 'ZZ' }, 'country', 'invalid'],
  ['a link in the letter', { letterBody: 'see www.example.org' }, 'letterBody', 'links'],
  ['a field the form does not have', { admin: true }, 'admin', 'unknown_field'],
];

describe('the issues of a refused signature', () => {
  it.each(cases)('%s: the field and its code', async (_label, change, path, code) => {
    const res = await sign(signBody(change));
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('validation_failed');
    // a broken bound comes with the bound, for the pages to say it ("at most 100 characters")
    const bound = code === 'too_long' ? { max: 100 } : {};
    expect(body.issues).toContainEqual({ path, code, ...bound, message: expect.any(String) });
  });

  it('the pages find the same field and code with the same schema, before posting', () => {
    // the pages send every field of the form, and only those
    const sent = cases.filter(([, change, path]) => path !== 'admin' && Object.values(change).every((v) => v !== undefined));
    for (const [label, change, path, code] of sent) {
      const parsed = signFormSchema.safeParse(signBody(change));
      expect(parsed.success, label).toBe(false);
      const issues = parsed.error!.issues.map((i) => ({ path: issuePath(i.path), code: issueCode(i) }));
      expect(issues, label).toContainEqual({ path, code });
    }
  });

  it('a query string the route refuses has coded issues too', async () => {
    const res = await h.app.inject({ url: '/api/actions?locale=xx' });
    expect(res.statusCode).toBe(422);
    expect(res.json().issues).toEqual([{ path: 'locale', code: 'invalid', message: expect.any(String) }]);
  });
});
