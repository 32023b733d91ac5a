// Every stylesheet the platform serves parses without an error. A browser drops what it cannot
// parse without a word: one unclosed rule once took every console rule after it with it.
//
// What is checked: web/src/app.css and any other .css under web/src, every <style> block and
// every literal style="" attribute of the pages (.svelte) and of the email templates
// (templates/**/*.hbs, the layout included), the API reference's stylesheet (/api/docs) and the
// development mailbox's. Each is read by two real parsers:
// - lightningcss, without error recovery: a syntax error, an invalid selector or a stray `}`
//   is an error; so is anything it warns about;
// - postcss, which throws on a block never closed (lightningcss closes it silently at the end of
//   the input) and shows what an unclosed brace leaves behind: a rule inside another rule (the
//   stylesheets here are plain CSS, without nesting).
// A declaration without a value is an error too. The mutations at the end prove the check
// catches a removed `}` wherever it is, and a rule nested by accident.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { transform, transformStyleAttribute } from 'lightningcss';
import postcss from 'postcss';
import { describe, expect, it } from 'vitest';
import { DOCS_CSS } from '../../server/src/http/openapi.ts';
import { MAILBOX_CSS } from '../../server/src/mailbox/mailbox.http.ts';

const ROOT = join(import.meta.dirname, '..', '..');

interface Css {
  /** where it comes from, for the message: a file, and the line its CSS starts at */
  name: string;
  css: string;
  /** a stylesheet, or the declarations of a style="" attribute */
  kind: 'sheet' | 'declarations';
  /** a Svelte component's style block: `:global(...)` is Svelte's, not an error */
  svelte?: boolean;
}

function files(dir: string, ext: string[]): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : files(path, ext);
    return ext.some((x) => e.name.endsWith(x)) ? [path] : [];
  });
}

const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** The CSS of a file: a stylesheet whole; a page's or template's <style> blocks and literal style attributes. */
export function cssOf(name: string, text: string): Css[] {
  if (name.endsWith('.css')) return [{ name, css: text, kind: 'sheet' }];
  const svelte = name.endsWith('.svelte');
  const found: Css[] = [];
  for (const m of text.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)) {
    found.push({ name: `${name}:${lineAt(text, m.index)} <style>`, css: m[1]!, kind: 'sheet', svelte });
  }
  // an attribute built from an expression ({...} in Svelte, {{...}} in Handlebars) is checked in the browser
  for (const m of text.matchAll(/\sstyle=(?:"([^"]*)"|'([^']*)')/g)) {
    const css = m[1] ?? m[2]!;
    if (!css.includes('{')) found.push({ name: `${name}:${lineAt(text, m.index)} style=""`, css, kind: 'declarations' });
  }
  return found;
}

/** What is wrong with some CSS: nothing, or one message per problem. */
export function cssProblems({ name, css, kind, svelte }: Css): string[] {
  const problems: string[] = [];
  const at = (loc?: { line: number; column: number }) => (loc ? ` (line ${loc.line}, column ${loc.column})` : '');
  try {
    if (kind === 'sheet') {
      const { warnings } = transform({ filename: name, code: Buffer.from(css), errorRecovery: false });
      for (const w of warnings) {
        if (svelte && /'global'/.test(w.message)) continue;
        problems.push(`lightningcss: ${w.message}${at(w.loc)}`);
      }
    } else {
      const { warnings } = transformStyleAttribute({ filename: name, code: Buffer.from(css), errorRecovery: false });
      for (const w of warnings) problems.push(`lightningcss: ${w.message}${at(w.loc)}`);
    }
  } catch (e) {
    const err = e as Error & { loc?: { line: number; column: number } };
    problems.push(`lightningcss: ${err.message}${at(err.loc)}`);
  }
  try {
    const root = postcss.parse(kind === 'sheet' ? css : `x{${css}}`, { from: name });
    if (kind === 'sheet' && css.trim() && root.nodes.length === 0) problems.push('postcss: no rule found');
    root.walkRules((rule) => {
      if (rule.parent?.type === 'rule') {
        problems.push(`postcss: "${rule.selector}" (line ${rule.source?.start?.line}) sits inside "${(rule.parent as postcss.Rule).selector}": a brace left open?`);
      }
    });
    root.walkDecls((decl) => {
      if (!decl.value.trim()) problems.push(`postcss: "${decl.prop}" has no value (line ${decl.source?.start?.line})`);
    });
    if (kind === 'declarations' && (root.nodes.length !== 1 || (root.nodes[0] as postcss.Rule).nodes.some((n) => n.type !== 'decl'))) {
      problems.push('postcss: not a list of declarations');
    }
  } catch (e) {
    const err = e as postcss.CssSyntaxError;
    problems.push(`postcss: ${err.reason ?? err.message}${err.line ? ` (line ${err.line}, column ${err.column})` : ''}`);
  }
  return problems;
}

function allCss(): Css[] {
  const sources = [...files(join(ROOT, 'web', 'src'), ['.css', '.svelte']), ...files(join(ROOT, 'templates'), ['.hbs'])];
  return [
    ...sources.flatMap((path) => cssOf(relative(ROOT, path), readFileSync(path, 'utf8'))),
    { name: 'server/src/http/openapi.ts DOCS_CSS (/api/docs/docs.css)', css: DOCS_CSS, kind: 'sheet' },
    { name: 'server/src/mailbox/mailbox.http.ts MAILBOX_CSS', css: MAILBOX_CSS, kind: 'sheet' },
  ];
}

describe('stylesheets', () => {
  const all = allCss();

  it('finds the stylesheets to check', () => {
    const names = all.map((c) => c.name);
    expect(names).toContain(join('web', 'src', 'app.css'));
    expect(names.some((n) => n.startsWith(join('templates', 'layout.html.hbs')))).toBe(true);
    expect(names.filter((n) => n.startsWith('templates')).length).toBeGreaterThan(10);
  });

  it.each(all.map((c) => [c.name, c]))('%s parses without an error', (_name, css) => {
    expect(cssProblems(css as Css)).toEqual([]);
  });
});

describe('the stylesheet check catches what a browser would drop', () => {
  const app = readFileSync(join(ROOT, 'web', 'src', 'app.css'), 'utf8');
  const sheet = (css: string): Css => ({ name: 'mutated app.css', css, kind: 'sheet' });

  it('a `}` removed anywhere in app.css (first, middle, the one after .console-progress, last)', () => {
    const closings = [...app.matchAll(/}/g)].map((m) => m.index);
    const progress = app.indexOf('}', app.indexOf('.console-progress {'));
    expect(closings.length).toBeGreaterThan(20);
    for (const index of [closings[0]!, closings[Math.floor(closings.length / 2)]!, progress, closings.at(-1)!]) {
      const mutated = app.slice(0, index) + app.slice(index + 1);
      expect(cssProblems(sheet(mutated)), `without the } at line ${lineAt(app, index)}`).not.toEqual([]);
    }
  });

  it('a rule never closed at the end of the input (which lightningcss alone accepts)', () => {
    const problems = cssProblems(sheet(`${app}\n.late { color: red;`));
    expect(problems.join('\n')).toMatch(/Unclosed block/);
  });

  it('a rule nested by accident, a stray `}`, a declaration without a value, a broken selector', () => {
    expect(cssProblems(sheet('.a { color: red; .b { color: blue; } }')).join('\n')).toMatch(/sits inside/);
    expect(cssProblems(sheet('.a { color: red; } }'))).not.toEqual([]);
    expect(cssProblems(sheet('.a { color: ; }')).join('\n')).toMatch(/no value/);
    expect(cssProblems(sheet('.a:hoverr { color: red; }'))).not.toEqual([]);
  });

  it('a broken style attribute and a broken <style> block in a template or component', () => {
    const [attr] = cssOf('x.hbs', '<p style="color red; font-size: 1em">x</p>');
    expect(cssProblems(attr!)).not.toEqual([]);
    const [block] = cssOf('x.svelte', '<p>x</p>\n<style>\n.p { margin: 0;\n</style>');
    expect(block!.name).toBe('x.svelte:2 <style>');
    expect(cssProblems(block!).join('\n')).toMatch(/Unclosed block/);
    expect(cssOf('x.svelte', '<p style="width: {w}px">x</p>')).toEqual([]);
  });
});
