// What members read, in real Chromium without JavaScript on a phone, in English and Russian
// (and Spanish where the issue was seen): officials named in the page's language, the empty
// form's error summary (every field, in order, in the page's language, no browser bubble), a
// name over its limit kept whole with a message beside it, share links on the action page,
// the letter preview's explanations, and the confirm and thanks pages' titles and counts.
import pg from 'pg';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { seed } from '../../prisma/seed.ts';
import { actions, targets } from '../../prisma/seed-data.ts';
import { launchChromium, submitWithoutJs as submit } from '../support/browser.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const PHONE = { width: 390, height: 844 };
const PETITION = actions.find((a) => a.slug === 'uzbekistan-let-the-rapporteur-in')!;
const LETTER = actions.find((a) => a.slug === 'mexico-independent-forensics')!;
const UN = targets.find((t) => t.slug === 'un-sr-torture')!;
const FGR = targets.find((t) => t.slug === 'mx-fgr')!;

let platform: Platform;
let browser: Browser;
const offsite: string[] = [];

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

const unique = (name: string) => `${name}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`;

async function phone(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: PHONE });
  const origin = new URL(platform.baseUrl).origin;
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith('data:') && !url.startsWith('about:') && new URL(url).origin !== origin) offsite.push(url);
  });
  return { context, page: await context.newPage() };
}

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();

const WORDS = {
  en: {
    sign: 'Sign the petition',
    summary: 'There is a problem',
    required: ['Enter your first name', 'Enter your last name', 'Enter your email address', 'Choose your country', 'Tick “Count my signature” to sign'],
    tooLong: 'Your last name is longer than 100 characters',
    hidden: 'right-to-left override',
    share: 'Share this action',
    un: UN.name,
    thanks: 'Thank you, your signature is confirmed',
    count: /“Uzbekistan: let the UN torture investigator visit” has [\d,]+ signatures? so far\./,
    note: 'Your own signature may take a few seconds to appear in this count.',
    confirmButton: 'Confirm my signature',
    already: 'Your signature is already confirmed',
  },
  ru: {
    sign: 'Подписать петицию',
    summary: 'Возникла проблема',
    required: ['Введите имя', 'Введите фамилию', 'Введите адрес электронной почты', 'Выберите страну', 'Отметьте «Учесть мою подпись», чтобы подписать'],
    tooLong: 'Фамилия длиннее 100 символов',
    hidden: 'справа налево',
    share: 'Поделитесь этой акцией',
    un: UN.names.ru!.name!,
    thanks: 'Спасибо, ваша подпись подтверждена',
    count: /Под акцией «Узбекистан: пустите специального докладчика ООН по пыткам» пока [\d\s\u00a0]+ подпис(ь|и|ей)\./,
    note: 'Ваша собственная подпись может появиться в этом числе через несколько секунд.',
    confirmButton: 'Подтвердить подпись',
    already: 'Ваша подпись уже подтверждена',
  },
} as const;

describe.each(['en', 'ru'] as const)('member pages in %s', (lang) => {
  const w = WORDS[lang];
  const url = () => `${platform.baseUrl}/${lang}/actions/${PETITION.slug}`;

  it('names the officials in the page’s language and offers plain share links', async () => {
    const { context, page } = await phone();
    await page.goto(url());
    const list = page.locator('ul.targets');
    expect(await text(list)).toContain(w.un);
    if (lang === 'ru') {
      expect(await text(list)).not.toContain(UN.name);
      expect(await text(list)).toContain(UN.names.ru!.organisation);
      // shown in the page's language: no lang of its own
      expect(await list.locator('.target-name', { hasText: w.un }).getAttribute('lang')).toBeNull();
    }
    const share = page.locator('section.share');
    expect(await text(share.getByRole('heading'))).toBe(w.share);
    const hrefs = await share.locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''));
    expect(hrefs.length).toBeGreaterThanOrEqual(5);
    for (const href of hrefs) expect(href).toMatch(/^(https:\/\/|mailto:)/);
    expect(hrefs.join(' ')).toContain(encodeURIComponent(`/${lang}/actions/${PETITION.slug}?source=share`));
    // nothing of those services is loaded: no script, no frame, no image from elsewhere
    expect(await page.locator('script[src], iframe, img[src^="http"]').count()).toBe(0);
    await context.close();
    expect(offsite).toEqual([]);
  }, 60_000);

  it('lists every missing field in order, in the page’s language, when the form is sent empty', async () => {
    const { context, page } = await phone();
    await page.goto(url());
    expect(await page.locator('form[action^="?/sign"]').getAttribute('novalidate')).not.toBeNull();
    // without JavaScript and without novalidate, Chromium would stop here with its own bubble
    expect(await submit(page, page.getByRole('button', { name: w.sign, exact: true }).last())).toBe(422);
    const summary = page.locator('.error-summary');
    expect(await text(summary.getByRole('heading'))).toBe(w.summary);
    const items = await summary.locator('li a').evaluateAll((links) => links.map((a) => [a.getAttribute('href'), (a.textContent ?? '').trim()]));
    expect(items).toEqual(
      ['firstName', 'lastName', 'email', 'country', 'consentCount'].map((field, i) => [`#f-${field}`, w.required[i]]),
    );
    await context.close();
  }, 60_000);

  it('keeps a 600-character last name whole and says next to it that it is too long', async () => {
    const { context, page } = await phone();
    await page.goto(url());
    const long = 'Ж'.repeat(600);
    await page.locator('#f-firstName').fill('Ana');
    await page.locator('#f-lastName').fill(long);
    await page.locator('#f-email').fill(unique('long'));
    await page.locator('#f-country').selectOption('AR');
    await page.locator('#f-consentCount').check();
    // the field does not cut what is typed
    expect(await page.locator('#f-lastName').inputValue()).toBe(long);
    expect(await submit(page, page.getByRole('button', { name: w.sign, exact: true }).last())).toBe(422);
    expect(await page.locator('#f-lastName').inputValue()).toBe(long);
    expect(await page.locator('#f-lastName').getAttribute('aria-invalid')).toBe('true');
    expect(await text(page.locator('#f-lastName-error'))).toContain(w.tooLong);
    expect(await page.locator('.error-summary a[href="#f-lastName"]').count()).toBe(1);

    // a hidden direction character is named plainly
    await page.locator('#f-lastName').fill('Ana\u202Egnp');
    expect(await submit(page, page.getByRole('button', { name: w.sign, exact: true }).last())).toBe(422);
    expect(await text(page.locator('#f-lastName-error'))).toContain(w.hidden);
    await context.close();
  }, 60_000);

  it('shows the title in the page’s language on the confirm, thanks and already-confirmed pages, with a count that reads right', async () => {
    const email = unique(`words-${lang}`);
    const { context, page } = await phone();
    await page.goto(url());
    await page.locator('#f-firstName').fill('Олег');
    await page.locator('#f-lastName').fill('Ким');
    await page.locator('#f-email').fill(email);
    await page.locator('#f-country').selectOption('KZ');
    await page.locator('#f-consentCount').check();
    expect(await submit(page, page.getByRole('button', { name: w.sign, exact: true }).last())).toBe(200);

    const mail = await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes(email) && m.text.includes('/confirm/'), { timeoutMs: 60_000 });
    const link = new RegExp(`${platform.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:/${lang})?/confirm/[A-Za-z0-9._~-]+`).exec(mail.text)?.[0];
    expect(link).toBeTruthy();
    await page.goto(link!);
    const title = PETITION.texts[lang]!.title;
    expect(await text(page.locator('.confirm-title'))).toBe(title);
    expect(await submit(page, page.getByRole('button', { name: w.confirmButton }))).toBe(200);
    expect(page.url()).toContain(`/${lang}/actions/${PETITION.slug}/thanks`);
    if (w.thanks) expect(await text(page.locator('h1'))).toBe(w.thanks);
    const lead = await text(page.locator('.panel .lead'));
    expect(lead).toMatch(w.count);
    expect(await text(page.locator('.panel'))).toContain(w.note);
    // no sentence that contradicts the count ("joins the count") beside it
    expect(await text(page.locator('.panel'))).not.toMatch(/joins the count|появится в счётчике/);
    // not shown on the page: nothing said of moderation
    expect(await page.locator('.thanks-wall-note').count()).toBe(0);

    await page.goto(link!);
    if (w.already) expect(await text(page.locator('h1'))).toBe(w.already);
    expect(await text(page.locator('.panel .lead'))).toContain(title);
    await context.close();
  }, 120_000);
});

describe('the proof of delivery on a phone', () => {
  it.each(['en', 'ru'])('is readable at 390 px in %s: each letter a block of labelled lines, nothing wider than the screen', async (lang) => {
    const { context, page } = await phone();
    await page.goto(`${platform.baseUrl}/${lang}/actions/lawyers-and-doctors-in-detention`);
    const ledger = page.locator('table.ledger');
    expect(await ledger.count()).toBe(1);
    const sizes = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number }; querySelector(s: string): { getBoundingClientRect(): { right: number } } } }).document;
      return { scroll: doc.documentElement.scrollWidth, client: doc.documentElement.clientWidth, right: doc.querySelector('table.ledger').getBoundingClientRect().right };
    });
    expect(sizes.scroll).toBeLessThanOrEqual(sizes.client);
    expect(sizes.right).toBeLessThanOrEqual(sizes.client);
    // every cell says what it is, as the hidden column headers would
    const labels = await ledger.locator('tbody tr').first().locator('td').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-label')));
    expect(labels.every(Boolean)).toBe(true);
    await context.close();
  }, 60_000);
});

describe('an action without a text in the page’s language', () => {
  it('shows its title in its own language, marked so, on the confirm and thanks pages of /ru/', async () => {
    expect(LETTER.texts.ru).toBeUndefined();
    const email = unique('fallback');
    const res = await fetch(`${platform.baseUrl}/api/actions/${LETTER.slug}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Ира', lastName: 'Ли', email, country: 'KZ', consentCount: true, locale: 'ru' }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const mail = await mailboxClient(platform.mailboxUrl).waitFor((m) => m.envelope.to.includes(email) && m.text.includes('/confirm/'), { timeoutMs: 60_000 });
    const link = /https?:\/\/[^\s]+\/ru\/confirm\/[A-Za-z0-9._~-]+/.exec(mail.text)?.[0];
    expect(link).toBeTruthy();
    const { context, page } = await phone();
    await page.goto(link!);
    const title = page.locator('.confirm-title');
    expect(await text(title)).toBe(LETTER.texts[LETTER.defaultLocale]!.title);
    expect(await title.getAttribute('lang')).toBe(LETTER.defaultLocale);
    expect(await text(page.locator('.panel'))).toContain('пока недоступна на вашем языке');
    expect(await submit(page, page.getByRole('button', { name: 'Подтвердить подпись' }))).toBe(200);
    expect(await text(page.locator('.panel'))).toContain('пока недоступна на вашем языке');
    // the title inside the Russian sentence is marked as English
    expect(await text(page.locator('.panel .lead span[lang]'))).toBe(LETTER.texts[LETTER.defaultLocale]!.title);
    expect(await page.locator('.panel .lead span[lang]').getAttribute('lang')).toBe(LETTER.defaultLocale);
    await context.close();
  }, 90_000);

  it('says so on the home page’s cards and on the thanks page’s next action, in the page’s language, with `lang` on the foreign text', async () => {
    const { context, page } = await phone();
    await page.goto(`${platform.baseUrl}/ru`);
    const card = page.locator('li.card', { has: page.locator(`a[href="/ru/actions/${LETTER.slug}"]`) });
    expect(await card.locator('h3').getAttribute('lang')).toBe(LETTER.defaultLocale);
    const note = card.locator('.card-lang-note');
    expect(await text(note)).toBe('Пока недоступно на вашем языке. Язык текста: английский.');
    expect(await note.getAttribute('lang')).toBeNull();
    // a card in the page's language says nothing of it
    const own = page.locator('li.card', { has: page.locator(`a[href="/ru/actions/${PETITION.slug}"]`) });
    expect(await own.locator('h3').getAttribute('lang')).toBeNull();
    expect(await own.locator('.card-lang-note').count()).toBe(0);

    // the thanks page suggests the newest open action: the letter without Russian, made the newest for a moment
    const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    const { rows } = await db.query<{ published_at: Date }>(`SELECT published_at FROM actions WHERE slug = $1`, [LETTER.slug]);
    try {
      await db.query(`UPDATE actions SET published_at = now() + interval '1 day' WHERE slug = $1`, [LETTER.slug]);
      type Listed = { slug: string; locale: string };
      let list: Listed[] = [];
      for (let i = 0; i < 60 && list[0]?.slug !== LETTER.slug; i++) {
        if (i) await page.waitForTimeout(250);
        list = ((await (await fetch(`${platform.baseUrl}/api/actions?locale=ru`)).json()) as { actions: Listed[] }).actions;
      }
      expect(list[0]).toMatchObject({ slug: LETTER.slug, locale: LETTER.defaultLocale });
      await page.goto(`${platform.baseUrl}/ru/actions/${PETITION.slug}/thanks`);
      const suggested = page.locator('section', { has: page.locator('#next-heading') }).locator('.card');
      expect(await suggested.locator('h3 a').getAttribute('href')).toBe(`/ru/actions/${LETTER.slug}`);
      expect(await suggested.locator('h3').getAttribute('lang')).toBe(LETTER.defaultLocale);
      expect(await suggested.locator('p[lang]').getAttribute('lang')).toBe(LETTER.defaultLocale);
      expect(await text(suggested.locator('.card-lang-note'))).toBe('Пока недоступно на вашем языке. Язык текста: английский.');
    } finally {
      await db.query(`UPDATE actions SET published_at = $2 WHERE slug = $1`, [LETTER.slug, rows[0]!.published_at]);
      await db.end();
    }
    await context.close();
  }, 60_000);

  it('labels an official’s answer in another language with its language, in the page’s words, and marks it', async () => {
    const slug = 'lawyers-and-doctors-in-detention';
    const body = `Hemos recibido su petición y abrimos una investigación (${Date.now()}).`;
    const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    // the Inter-American Commission works in Spanish
    const { rows } = await db.query<{ id: string; language: string }>(
      `INSERT INTO answers (action_id, target_id, status, body, published_at)
       SELECT a.id, t.id, 'PUBLISHED', $1, now() FROM actions a, targets t WHERE a.slug = $2 AND t.slug = 'iachr'
       RETURNING id, (SELECT language FROM targets WHERE slug = 'iachr') AS language`,
      [body, slug],
    );
    try {
      expect(rows[0]!.language).toBe('es');
      const { context, page } = await phone();
      const answer = page.locator('article.answer', { hasText: body });
      for (let i = 0; i < 40 && (await answer.count()) === 0; i++) {
        await page.waitForTimeout(250);
        await page.goto(`${platform.baseUrl}/ru/actions/${slug}`);
      }
      expect(await text(answer.locator('.answer-language'))).toBe('Язык ответа: испанский');
      expect(await answer.locator('.prose').getAttribute('lang')).toBe('es');
      // in the answer's own language, no label and no lang
      await page.goto(`${platform.baseUrl}/es/actions/${slug}`);
      const same = page.locator('article.answer', { hasText: body });
      expect(await same.locator('.answer-language').count()).toBe(0);
      expect(await same.locator('.prose').getAttribute('lang')).toBeNull();
      await page.goto(`${platform.baseUrl}/en/actions/${slug}`);
      expect(await text(page.locator('article.answer', { hasText: body }).locator('.answer-language'))).toBe('Answer in Spanish');
      await context.close();
    } finally {
      await db.query('DELETE FROM answers WHERE id = ANY($1)', [rows.map((r) => r.id)]);
      await db.end();
    }
  }, 60_000);
});

describe('the letter preview in Spanish', () => {
  it('names the officials in Spanish, and says in Spanish why the name is withheld and in which language the letter goes', async () => {
    const { context, page } = await phone();
    await page.goto(`${platform.baseUrl}/es/actions/${LETTER.slug}`);
    await page.locator('#f-letterBody').fill(`${LETTER.texts.es!.officialRequest}\n\nUna frase mía (${Date.now()}).`);
    // the subject takes the form's whole width
    const widths = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { getBoundingClientRect(): { width: number } } | null } }).document;
      return { subject: doc.querySelector('#f-letterSubject')!.getBoundingClientRect().width, body: doc.querySelector('#f-letterBody')!.getBoundingClientRect().width };
    });
    expect(Math.abs(widths.subject - widths.body)).toBeLessThan(2);
    await page.locator('#f-firstName').fill('Lucía');
    await page.locator('#f-lastName').fill('Hernández');
    await page.locator('#f-country').selectOption('MX');
    await page.locator('#f-consentNamed').check();
    expect(await submit(page, page.getByRole('button', { name: 'Ver cómo queda mi carta' }))).toBe(200);

    const fgr = page.locator('.letter-preview', { hasText: FGR.name });
    expect(await fgr.count()).toBe(1);
    // its own official name, marked as Spanish only where the page is not
    expect(await text(fgr.locator('.target-role'))).toContain(FGR.names.es!.title);
    const notes = await text(fgr.locator('.preview-notes'));
    expect(notes).toContain('las autoridades de tu país solo ven tu nombre si marcas también');
    expect(notes).toContain('español');
    // a Spanish letter: its sign-off is in Spanish, without the withheld name
    expect(await text(fgr.locator('.letter-text'))).not.toContain('Lucía');
    await context.close();
    expect(offsite).toEqual([]);
  }, 90_000);
});
