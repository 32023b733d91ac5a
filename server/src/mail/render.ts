// Email and letter rendering from the files in templates/<locale>/<name>.{subject,text,html}.hbs.
// Templates are files written by the project, never built from member input; member and
// staff values enter only as variables, HTML-escaped in the html part.
import Handlebars from 'handlebars';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IntlMessageFormat } from 'intl-messageformat';
import { localeDirection } from '../shared/locales.ts';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));

export type TemplateName = 'confirmation' | 'already-signed' | 'letter' | 'member-letter' | 'reminder' | 'my-data-link' | 'answer-published' | 'threshold-request' | 'threshold-reached' | 'threshold-overdue' | 'action-update';

export interface RenderedMail {
  locale: string;
  subject: string;
  text: string;
  html: string;
}

const hb = Handlebars.create();
hb.registerHelper('paragraphs', (text: unknown) => {
  const parts = String(text ?? '')
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => `<p>${hb.escapeExpression(p).replace(/\n/g, '<br>')}</p>`);
  return new hb.SafeString(parts.join('\n'));
});

/**
 * {{icu "{n, plural, one {# person has signed} other {# people have signed}}" n=totalCount}}:
 * an ICU MessageFormat message (the product's one message format, with CLDR plural rules and
 * numbers formatted as the locale writes them), formatted in the template's locale with the
 * hash's values. The result is plain text: HTML-escaped in the html parts like any value.
 */
const messages = new Map<string, IntlMessageFormat>();
export function formatIcu(locale: string, message: string, values: Record<string, unknown>): string {
  const key = `${locale}\u0000${message}`;
  let compiled = messages.get(key);
  if (!compiled) {
    compiled = new IntlMessageFormat(message, locale);
    messages.set(key, compiled);
  }
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value === null) throw new Error(`icu: the value "${name}" is missing in ${JSON.stringify(message)}`);
  }
  const out = compiled.format(values as Record<string, string | number>);
  if (typeof out !== 'string') throw new Error(`icu: ${JSON.stringify(message)} did not format to text`);
  return out;
}
hb.registerHelper('icu', function (this: unknown, message: unknown, options: { hash: Record<string, unknown>; data: { root: { locale?: string } } }) {
  if (typeof message !== 'string') throw new Error('icu: the first argument must be the message');
  return formatIcu(options.data.root.locale ?? 'en', message, options.hash);
});

type Compiled = Handlebars.TemplateDelegate<object>;
const cache = new Map<string, Compiled | null>();

function compiled(dir: string, file: string, escape: boolean): Compiled | null {
  const path = `${dir}${file}`;
  const key = `${path}|${escape}`;
  if (!cache.has(key)) {
    cache.set(key, existsSync(path) ? hb.compile(readFileSync(path, 'utf8'), { noEscape: !escape, strict: true }) : null);
  }
  return cache.get(key)!;
}

/**
 * Partials of a locale: `<locale>/_<name>.<part>.hbs` is `{{> name}}` in that locale's `<part>`
 * templates (part: text or html), e.g. the details of a sign-up shared by two emails.
 */
const PARTIALS = ['signup'] as const;
function partialsFor(base: string, part: 'text' | 'html'): Record<string, Compiled> {
  const found: Record<string, Compiled> = {};
  for (const name of PARTIALS) {
    const c = compiled(base, `_${name}.${part}.hbs`, part === 'html');
    if (c) found[name] = c;
  }
  return found;
}

/** Forbid anything that could end a mail header line. */
export function headerSafe(value: string): string {
  return value.replace(/[\r\n\u2028\u2029]+/g, ' ').trim();
}

/** Renders a template in `locale`, or in English when that locale has no such template. */
export function render(
  name: TemplateName,
  locale: string,
  vars: object,
  dir: string = TEMPLATES_DIR,
  opts: { layout: boolean } = { layout: true },
): RenderedMail {
  const useLocale = compiled(`${dir}${locale}/`, `${name}.text.hbs`, false) ? locale : 'en';
  const base = `${dir}${useLocale}/`;
  const ctx = { ...vars, locale: useLocale };
  const subject = headerSafe(compiled(base, `${name}.subject.hbs`, false)!(ctx));
  const text = compiled(base, `${name}.text.hbs`, false)!(ctx, { partials: partialsFor(base, 'text') }).replace(/\n{3,}/g, '\n\n').trim() + '\n';
  const content = compiled(base, `${name}.html.hbs`, true)!(ctx, { partials: partialsFor(base, 'html') });
  const html = opts.layout ? compiled(dir, 'layout.html.hbs', true)!({ locale: useLocale, dir: localeDirection(useLocale), subject, content }) : content;
  return { locale: useLocale, subject, text, html };
}
