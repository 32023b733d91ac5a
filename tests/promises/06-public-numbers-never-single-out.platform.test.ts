// Promise 6: public numbers never single a person out: no public country count below the
// configured minimum (PUBLIC_COUNTRY_MIN, 10 by default), no public time finer than the day
// for a person's entry.
//
// Tried as someone watching an action would: read the action through the public API, the
// integrator API and the page in all four languages, watch the counts by country while one
// person from a small country confirms, and read the wall's dates, shown and in the HTML.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionCache } from '../../server/src/action/action.service.ts';
import { createApiKey } from '../../server/src/integration/api-key.service.ts';
import { confirmSignatures, createAction, createHarness, signBody, staffSession, uniqueEmail, type Harness } from '../../server/src/testing/harness.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const MIN = 10;
let h: Harness;
let slug: string;
let actionId: string;

/** Signs through the public API and confirms in the database `daysAgo` days ago (0: now), as the confirm button would. */
async function signed(country: string, daysAgo: number, extra: Record<string, unknown> = {}, action = { slug, id: actionId }) {
  const email = uniqueEmail('watched');
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody({ email, country, ...extra }) });
  expect(res.statusCode).toBe(202);
  const ids = await confirmSignatures(h.db.pool, `p.email_index = $1 AND s.action_id = $2`, [indexOfEmail(email), action.id], new Date(Date.now() - daysAgo * 86_400_000));
  expect(ids).toHaveLength(1);
}

async function publicAction() {
  const res = await h.app.inject({ url: `/api/actions/${slug}` });
  expect(res.statusCode).toBe(200);
  return res.json();
}

beforeAll(async () => {
  h = await createHarness();
  const fx = await createAction(h.db, { kind: 'PETITION' });
  slug = fx.action.slug;
  actionId = fx.action.id;
  await h.cache.refresh();
  // signed before today: France above the minimum, Spain exactly at it, Germany just below,
  // one person from Kazakhstan and one from Tuvalu
  for (let i = 0; i < 12; i++) await signed('FR', 2, i === 0 ? { firstName: 'Wallflower', consentWall: true } : {});
  for (let i = 0; i < MIN; i++) await signed('ES', 2);
  for (let i = 0; i < MIN - 1; i++) await signed('DE', 2);
  await signed('KZ', 2);
  await signed('TV', 3);
  await h.cache.refresh();
  await h.cache.refreshCountries();
});

afterAll(async () => {
  await h?.close();
});

describe('promise 6: public counts by country', () => {
  it('never show a country below the minimum: they are counted together under "other countries"', async () => {
    const a = await publicAction();
    expect(a.count).toBe(12 + MIN + MIN - 1 + 2);
    expect(a.countries).toEqual([
      { country: 'FR', count: 12 },
      { country: 'ES', count: MIN },
    ]);
    expect(a.otherCountries).toBe(MIN - 1 + 2);
    expect(a.countryMin).toBe(MIN);
    for (const code of ['DE', 'KZ', 'TV']) expect(JSON.stringify(a.countries)).not.toContain(code);
  });

  it('do not move when one person confirms: a confirmation is never datable by its country', async () => {
    const before = await publicAction();
    await signed('TV', 0);
    await h.cache.refresh();
    await h.cache.refreshCountries();
    const after = await publicAction();
    // the total is live (it places nobody anywhere) ...
    expect(after.count).toBe(before.count + 1);
    // ... the counts by country are those of the start of the day
    expect({ countries: after.countries, otherCountries: after.otherCountries }).toEqual({ countries: before.countries, otherCountries: before.otherCountries });

    // the next day they include it, still under "other countries"
    const tomorrow = new ActionCache(h.db.pool, { actionsRefreshMs: 60_000, countsRefreshMs: 60_000, countryMin: MIN, now: () => Date.now() + 86_400_000 });
    await tomorrow.refresh();
    expect(tomorrow.publicCountries(actionId)).toEqual({ countries: before.countries, otherCountries: before.otherCountries + 1, min: MIN });
  });

  it('are the same through the integrator API', async () => {
    const staff = await staffSession(h.db, 'ADMIN');
    const { secret } = await createApiKey(h.db.pool, { name: 'partner site', scopes: ['read_public'], rateLimitPerMinute: 1000 }, staff.id);
    const res = await h.app.inject({ url: `/api/v1/actions/${slug}`, headers: { authorization: `Bearer ${secret}` } });
    expect(res.statusCode).toBe(200);
    const a = await publicAction();
    expect(res.json()).toMatchObject({ countries: a.countries, otherCountries: a.otherCountries, countryMin: MIN });
  });

  it('the wall gives the day only, and no one until the day after they signed', async () => {
    await signed('ES', 0, { firstName: 'Justnow', consentWall: true });
    await h.cache.refresh();
    await h.cache.refreshCountries();
    const a = await publicAction();
    expect(a.wall).toEqual([{ firstName: 'Wallflower', country: 'FR', at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }]);
    expect(JSON.stringify(a)).not.toContain('Justnow');
  });
});

describe('promise 6: the public ledger of deliveries', () => {
  it('dates letters by the day, and withholds a per-country letter count below the minimum', async () => {
    // letters to each signer's own country's officials: one letter to Tuvalu carrying 1
    // signature (a country count of 1, made the minute she confirmed), one to France with 12.
    // Both countries have reached the minimum, or their officials would get no letter at all
    // (tests/promises/05-06-country-minimum-before-officials-are-written.platform.test.ts)
    const fx = await createAction(h.db, { kind: 'LETTER', targetMode: 'BY_SIGNER_COUNTRY', targets: [{ country: 'TV', language: 'en' }, { country: 'FR', language: 'en' }] });
    await h.cache.refresh();
    for (let i = 0; i < MIN + 1; i++) await signed('TV', 2, {}, { slug: fx.action.slug, id: fx.action.id });
    for (let i = 0; i < 12; i++) await signed('FR', 2, {}, { slug: fx.action.slug, id: fx.action.id });
    const fixed = await createAction(h.db, { kind: 'LETTER', targets: [{ country: 'TV', language: 'en' }] });
    const letter = async (actionId: string, targetId: string, count: number) => {
      const b = await h.db.pool.query<{ id: string }>(
        `INSERT INTO delivery_batches (action_id, reason, signature_count, total_count) VALUES ($1, 'test', $2, $2) RETURNING id`,
        [actionId, count],
      );
      await h.db.pool.query(
        `INSERT INTO letters (batch_id, target_id, status, signature_count, locale, message_id, sent_at, created_at)
         VALUES ($1, $2, 'SENT', $3, 'en', $4, now(), '2026-11-30T14:03:22.517Z')`,
        [b.rows[0]!.id, targetId, count, `<${b.rows[0]!.id}@test.example>`],
      );
    };
    await letter(fx.action.id, fx.targets[0]!.id, 1);
    await letter(fx.action.id, fx.targets[1]!.id, 12);
    await letter(fixed.action.id, fixed.targets[0]!.id, 1);
    await h.cache.refresh();

    const ledgerOf = async (s: string) => {
      const res = await h.app.inject({ url: `/api/actions/${s}` });
      expect(res.statusCode).toBe(200);
      return res.json().ledger as { date: string; target: { name: string }; count: number | null }[];
    };
    const perCountry = await ledgerOf(fx.action.slug);
    expect(perCountry).toHaveLength(2);
    for (const e of perCountry) expect(e.date).toBe('2026-11-30');
    const byTarget = Object.fromEntries(perCountry.map((e) => [e.target.name, e.count]));
    expect(byTarget[fx.targets[0]!.name]).toBeNull();
    expect(byTarget[fx.targets[1]!.name]).toBe(12);
    // where every letter carries the whole batch, its count says nothing about a country
    const whole = await ledgerOf(fixed.action.slug);
    expect(whole.map((e) => [e.date, e.count])).toEqual([['2026-11-30', 1]]);
  });
});

describe('promise 6: the action page, in every language', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startPlatform();
  });
  afterAll(async () => {
    await platform?.stop();
  });

  const words = {
    en: { other: 'Other countries', note: 'fewer than 10 signers' },
    es: { other: 'Otros países', note: 'menos de 10 firmantes' },
    fr: { other: 'Autres pays', note: 'moins de 10 signataires' },
    ru: { other: 'Другие страны', note: 'меньше 10 человек' },
  } as const;

  for (const [locale, w] of Object.entries(words)) {
    it(`${locale}: lists no small country, counts them as "${w.other}", and dates the wall by the day only`, async () => {
      const res = await fetch(`${platform.baseUrl}/${locale}/actions/${slug}`);
      expect(res.status).toBe(200);
      const html = await res.text();
      const names = new Intl.DisplayNames([locale], { type: 'region' });
      const list = /<ol class="country-list">([\s\S]*?)<\/ol>/.exec(html)?.[1] ?? '';
      expect(list).toContain(names.of('FR')!);
      expect(list).toContain(names.of('ES')!);
      expect(list).toContain(w.other);
      // (the sign form's country menu names every country: only the counts are looked at)
      const counts = /<section aria-labelledby="countries-heading">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
      for (const code of ['DE', 'KZ', 'TV']) expect(counts).not.toContain(names.of(code)!);
      expect(counts).toContain(w.note);
      // every date on a person's wall entry is a day, in what is shown and in the markup
      const wall = /<ul class="wall">([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
      expect(wall).toContain('Wallflower');
      const datetimes = [...wall.matchAll(/datetime="([^"]*)"/g)].map((m) => m[1]);
      expect(datetimes.length).toBeGreaterThan(0);
      for (const d of datetimes) expect(d).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(wall).not.toMatch(/\d{1,2}:\d{2}|minute|hour|минут|час|heure|hora/i);
    });
  }
});
