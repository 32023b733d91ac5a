// Promise 19: bad input anywhere gets a clear error in the person's language next to the field,
// keeps what they typed, and is never stored half.
// The member forms are posted as a browser without JavaScript posts them, in each of the four
// languages, with input the page itself refuses and with input only the API refuses (an address
// the page's own check lets through). Each answer must name the problem beside the field, in the
// page's language, with the field marked invalid and linked from the summary; keep every value
// typed; and store nothing. The English sign form is walked in Chromium in
// tests/e2e/member-pages.test.ts; never-a-5xx and no-partial-row under random input are
// tests/e2e/forms.property.test.ts and server/src/http/public-api.property.test.ts.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../../prisma/seed.ts';
import { myDataToken } from '../../server/src/supporter/supporter.service.ts';
import { emailIndex } from '../../server/src/privacy/personal-data.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';
import { sealedSupporter } from '../support/sealed-checks.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const SLUG = 'uzbekistan-let-the-rapporteur-in';
let platform: Platform;
let pool: pg.Pool;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await platform?.stop();
});

/** The catalogues' words for these errors (web/src/lib/i18n/*.ts), as a reader of each language sees them. */
const WORDS = {
  en: {
    summary: 'There is a problem',
    firstName: 'Enter your first name',
    email: 'Enter an email address in the correct format, like name@example.com',
    country: 'Choose your country',
    consentCount: 'Tick “Count my signature” to sign',
    erase: 'Tick the box to confirm that you want your data erased',
  },
  es: {
    summary: 'Hay un problema',
    firstName: 'Escribe tu nombre',
    email: 'Escribe una dirección de correo válida, como nombre@ejemplo.com',
    country: 'Elige tu país',
    consentCount: 'Marca «Contar mi firma» para firmar',
    erase: 'Marca la casilla para confirmar que quieres borrar tus datos',
  },
  fr: {
    summary: 'Il y a un problème',
    firstName: 'Indiquez votre prénom',
    email: 'Indiquez une adresse e-mail valide, par exemple nom@exemple.fr',
    country: 'Choisissez votre pays',
    consentCount: 'Cochez « Compter ma signature » pour signer',
    erase: 'Cochez la case pour confirmer que vous voulez effacer vos données',
  },
  ru: {
    summary: 'Возникла проблема',
    firstName: 'Введите имя',
    email: 'Введите адрес электронной почты в правильном формате, например name@example.com',
    country: 'Выберите страну',
    consentCount: 'Отметьте «Учесть мою подпись», чтобы подписать',
    erase: 'Поставьте отметку, чтобы подтвердить удаление ваших данных',
  },
} as const;
const LOCALES = Object.keys(WORDS) as (keyof typeof WORDS)[];
const prefix = (l: string) => (l === 'en' ? '/en' : `/${l}`);

const decode = (s: string) =>
  s.replace(/<[^>]+>/g, '').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\s+/g, ' ').trim();

/** The text of the element with this id. */
function textOf(html: string, id: string): string | null {
  const m = new RegExp(`<([a-z]+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  return m ? decode(m[2]!) : null;
}
/** The opening tag of the element with this id (attribute values may hold ">"). */
function tagOf(html: string, id: string): string {
  const tags = html.match(/<[a-z][\w-]*(?:\s+[\w:-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*\s*\/?>/g) ?? [];
  const tag = tags.find((t) => t.includes(` id="${id}"`));
  expect(tag, `an element #${id}`).toBeTruthy();
  return tag!;
}
const attr = (tag: string, name: string) => {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(tag);
  return m ? decode(m[1]!) : null;
};

/** The field is marked invalid, described by its error, linked from the summary, and the error reads `words`. */
function expectErrorAt(html: string, field: string, words: string, label: string) {
  const tag = tagOf(html, `f-${field}`);
  expect(attr(tag, 'aria-invalid'), `${label}: #f-${field} aria-invalid`).toBe('true');
  expect(attr(tag, 'aria-describedby') ?? '', `${label}: #f-${field} described by its error`).toContain(`f-${field}-error`);
  expect(textOf(html, `f-${field}-error`), `${label}: error beside ${field}`).toContain(words);
  expect(html, `${label}: the summary links to ${field}`).toContain(`href="#f-${field}"`);
}

const postForm = (path: string, fields: Record<string, string>) =>
  fetch(`${platform.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.baseUrl, accept: 'text/html' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });

async function storedFor(email: string): Promise<number> {
  // the address is stored only sealed, found by the blind index: of its canonical form, of it
  // lower-cased, and of it as typed
  const indexes = [...new Set([indexOfEmail(email), emailIndex(email.toLowerCase()), emailIndex(email)])];
  const { rows } = await pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM supporters WHERE email_index = ANY($1::text[]))::int
          + (SELECT count(*) FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = ANY($1::text[]))::int AS n`,
    [indexes],
  );
  return rows[0]!.n;
}

const unique = (name: string) => `${name}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@example.org`;

describe('promise 19: bad input on the member forms', () => {
  it.each(LOCALES)('sign form in %s: what the page refuses is named beside each field in that language, what was typed stays, nothing is stored', async (locale) => {
    const typed = { firstName: '', lastName: 'Ğülşen <O\'Brien> & "Co"', email: 'not-an-address', country: '', consentCount: '', consentContact: 'yes' };
    const res = await postForm(`${prefix(locale)}/actions/${SLUG}?/sign`, typed);
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain(`lang="${locale}"`);
    expect(html).toContain(WORDS[locale].summary);
    expectErrorAt(html, 'firstName', WORDS[locale].firstName, locale);
    expectErrorAt(html, 'email', WORDS[locale].email, locale);
    expectErrorAt(html, 'country', WORDS[locale].country, locale);
    expectErrorAt(html, 'consentCount', WORDS[locale].consentCount, locale);
    if (locale !== 'en') expect(html).not.toContain(WORDS.en.email);
    expect(attr(tagOf(html, 'f-lastName'), 'value')).toBe(typed.lastName);
    expect(attr(tagOf(html, 'f-email'), 'value')).toBe(typed.email);
    expect(tagOf(html, 'f-consentContact')).toMatch(/\bchecked\b/);
    expect(await storedFor(typed.email)).toBe(0);
  });

  it.each(LOCALES)('sign form in %s: an address only the API refuses is named beside the field in that language, and nothing is stored', async (locale) => {
    // the page's check (something@something.tld) lets these through; the API's does not
    const n = Date.now();
    for (const email of [`${'a'.repeat(65)}${n}@example.org`, `ana${n}\u202e@example.org`, `<ana${n}@example.org>`]) {
      const typed = { firstName: 'Amira', lastName: 'Haddad', email, country: 'JO', consentCount: 'yes' };
      const res = await postForm(`${prefix(locale)}/actions/${SLUG}?/sign`, typed);
      const html = await res.text();
      expect(res.status, `${locale} ${email}`).toBe(422);
      expectErrorAt(html, 'email', WORDS[locale].email, `${locale} ${email}`);
      expect(attr(tagOf(html, 'f-firstName'), 'value')).toBe('Amira');
      expect(attr(tagOf(html, 'f-email'), 'value')).toBe(email);
      expect(await storedFor(email)).toBe(0);
    }
  });

  it.each(LOCALES)('"my data" forms in %s: a bad address and an unticked erase box are named beside the field, in that language, and change nothing', async (locale) => {
    const res = await postForm(`${prefix(locale)}/my-data`, { email: 'nope@' });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(textOf(html, 'f-email-error')).toContain(WORDS[locale].email);
    expect(attr(tagOf(html, 'f-email'), 'aria-invalid')).toBe('true');
    expect(attr(tagOf(html, 'f-email'), 'value')).toBe('nope@');

    // a signer on their data page presses "erase" without ticking the box
    const email = unique(`nineteen-${locale}`);
    const signed = await fetch(`${platform.baseUrl}/api/actions/${SLUG}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Ines', lastName: 'Costa', email, country: 'PT', consentCount: true, locale }),
    });
    expect(signed.status).toBe(202);
    const { rows } = await pool.query<{ id: string }>(`SELECT id FROM supporters WHERE email_index = $1`, [indexOfEmail(email)]);
    const token = myDataToken({ secret: process.env.SECRET_KEY!, clock: () => new Date() }, rows[0]!.id);
    for (const fields of [{}, { confirm: 'no' }, { confirm: '' }] as Record<string, string>[]) {
      const erase = await postForm(`${prefix(locale)}/my-data/${token}?/erase`, fields);
      expect(erase.status).toBe(422);
      const page = await erase.text();
      expect(textOf(page, 'f-confirm-erase-error')).toContain(WORDS[locale].erase);
      expect(attr(tagOf(page, 'f-confirm-erase'), 'aria-invalid')).toBe('true');
    }
    const after = (await sealedSupporter(pool, rows[0]!.id))!;
    expect({ email: after.email, erased_at: after.erased_at }).toEqual({ email, erased_at: null });
  });
});
