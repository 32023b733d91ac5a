// Every issue code the API can emit has words in every console language, and the console places
// each issue at its field, in the form's order, in the reader's language (web/src/lib/admin/
// problems.ts). The codes are read from the server's source, not only from the list in
// shared/issues.ts: a refinement or a domain issue with a code missing from the list fails here.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISSUE_CODES } from '../../server/src/shared/issues.ts';
import { fieldOf, formProblem, issueMessage, pathLabel, refusalMessage } from '../../web/src/lib/admin/problems.ts';

const ROOT = join(import.meta.dirname, '../..');
const LOCALES = ['en', 'es', 'fr', 'ru'] as const;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'generated' || name === 'testing') return [];
    if (statSync(path).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !/\.test\.ts$/.test(name) ? [path] : [];
  });
}

/** Issue codes written in the server's source: `params: { code: 'x' }` and `code: 'x'` beside a `path`. */
function codesInSource(): Set<string> {
  const found = new Set<string>();
  for (const file of sources(join(ROOT, 'server/src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/params:\s*\{\s*code:\s*'([a-z_]+)'/g)) found.add(m[1]!);
    for (const m of text.matchAll(/\{\s*path:[^\n]*?\bcode:\s*'([a-z_]+)'/g)) found.add(m[1]!);
    for (const m of text.matchAll(/code:\s*'([a-z_]+)' as const/g)) found.add(m[1]!);
  }
  return found;
}

/** The console's `issues.*` messages of one locale, without the prefix. */
function issuesOf(locale: string): Record<string, string> {
  const all = JSON.parse(readFileSync(join(ROOT, `web/src/lib/i18n/messages/${locale}.json`), 'utf8')) as Record<string, string>;
  return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith('issues.')).map(([k, v]) => [k.slice('issues.'.length), v]));
}
const issuesText = Object.fromEntries(LOCALES.map((l) => [l, issuesOf(l)])) as Record<(typeof LOCALES)[number], Record<string, string>>;

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the words for what the API refuses', () => {
  it('every issue code written in the server is one of ISSUE_CODES', () => {
    const found = codesInSource();
    // the scan sees the codes it must: refinements, domain issues and the route validator's
    for (const code of ['links', 'forbidden_characters', 'not_found', 'no_texts', 'duplicate', 'unknown_field']) expect(found).toContain(code);
    for (const code of found) expect(ISSUE_CODES, `${code} is written in server/src`).toContain(code);
  });

  it.each(LOCALES)('every issue code has words in %s, with the same placeholders as English', (locale) => {
    const words = issuesText[locale] as Record<string, string>;
    for (const code of ISSUE_CODES) {
      const text = words[`issue_${code}`];
      expect(text, `issue_${code} in ${locale}`).toBeTruthy();
      if (locale !== 'en' && code !== 'invalid') expect(text, `issue_${code} in ${locale} is not English`).not.toBe(issuesText.en[`issue_${code}`]);
    }
    for (const [key, en] of Object.entries(issuesText.en)) {
      expect(words[key], `${key} in ${locale}`).toBeTruthy();
      expect(placeholders(words[key]!), `${key} in ${locale}`).toEqual(placeholders(en));
      if (locale !== 'en') expect(words[key], `${key} in ${locale}`).not.toBe(en);
    }
  });

  it('an issue reads in the reader’s language, with its bound, and never as the API’s English', () => {
    expect(issueMessage('ru', { path: 'slug', code: 'too_short', min: 3, message: 'slug must be at least 3 characters' })).toBe('Слишком коротко: не меньше 3 символов.');
    expect(issueMessage('es', { path: 'title', code: 'too_long', max: 200, message: 'x' })).toBe('Demasiado largo: 200 caracteres como máximo.');
    expect(issueMessage('fr', { path: 'goal', code: 'out_of_range', max: 100_000_000, message: 'x' })).toMatch(/^Doit être au plus 100\s000\s000\.$/u);
    // a field may say it better than the code alone
    expect(issueMessage('ru', { path: 'slug', code: 'invalid', message: 'x' })).toBe('Используйте строчные латинские буквы, цифры и одиночные дефисы.');
    expect(issueMessage('es', { path: 'milestones.1', code: 'invalid', message: 'x' }, 'milestones')).toBe('Escriba números enteros, en orden creciente, separados por comas.');
    // a code the console does not know yet falls back to the API's message
    expect(issueMessage('ru', { path: 'x', message: 'as the API said' })).toBe('as the API said');
    expect(pathLabel('ru', 'line 4: email')).toBe('Строка 4, столбец «email»');
    expect(refusalMessage('es', { code: 'slug_taken', message: 'An action with the slug "x" exists' })).toBe('Ya hay una acción con esta dirección web (slug): elija otra.');
    expect(refusalMessage('ru', { code: 'unheard_of', message: 'No such thing' }, 404)).toBe('Этого больше нет. Обновите страницу.');
  });

  it('places each issue at its field, in the form’s order, once per field', () => {
    const fields = ['title', 'slug', 'goal', 'milestones', 'summary'];
    expect(fieldOf('milestones.2', fields)).toBe('milestones');
    expect(fieldOf('texts.en.title', fields)).toBe('texts.en.title');
    const { errors, message } = formProblem(
      'ru',
      {
        code: 'validation_failed',
        message: 'milestones.1: ...; slug: ...; title: ...',
        issues: [
          { path: 'milestones.1', code: 'invalid', message: 'each milestone must be a number' },
          { path: 'slug', code: 'too_short', min: 3, message: 'slug must be at least 3 characters' },
          { path: 'slug', code: 'invalid', message: 'slug must be lower-case letters' },
          { path: 'unexpected', code: 'unknown_field', message: 'is not a field this endpoint accepts' },
          { path: 'title', code: 'required', message: 'title is required' },
        ],
      },
      fields,
      422,
    );
    expect(Object.keys(errors)).toEqual(['title', 'slug', 'milestones', 'unexpected']);
    expect(errors.slug).toBe('Слишком коротко: не меньше 3 символов.');
    expect(errors.milestones).toBe('Введите целые числа по возрастанию через запятую.');
    expect(message).toBe('Проверьте отмеченные ниже поля.');
  });
});
