// Email and letter rendering from the files in templates/<locale>/<name>.{subject,text,html}.hbs.
// Templates are files written by the project, never built from member input; member and
// staff values enter only as variables, HTML-escaped in the html part.
import Handlebars from 'handlebars';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pluralRules } from '../shared/intl.ts';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));

export type TemplateName = 'confirmation' | 'already-signed' | 'letter' | 'member-letter' | 'reminder' | 'my-data-link' | 'answer-published';

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

// {{plural n one="person" other="people"}}: the form the locale's plural rules pick for n
hb.registerHelper('plural', function (this: unknown, n: unknown, options: { hash: Record<string, string>; data: { root: { locale?: string } } }) {
  const locale = options.data.root.locale ?? 'en';
  const form = pluralRules(locale).select(Number(n));
  return options.hash[form] ?? options.hash['other'] ?? '';
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
  const html = opts.layout ? compiled(dir, 'layout.html.hbs', true)!({ locale: useLocale, subject, content }) : content;
  return { locale: useLocale, subject, text, html };
}
