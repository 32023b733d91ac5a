// Every stylesheet of the pages parses without an error. A browser drops what it cannot parse
// without a word: one unclosed rule once took every console rule after it with it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import postcss from 'postcss';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function files(dir: string, ext: string[]): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : files(path, ext);
    return ext.some((x) => e.name.endsWith(x)) ? [path] : [];
  });
}

/** The CSS of a file: a stylesheet whole, a component's <style> blocks. */
function stylesOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  if (path.endsWith('.css')) return [text];
  return [...text.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
}

describe('stylesheets', () => {
  const sources = files(join(ROOT, 'web', 'src'), ['.css', '.svelte']).filter((f) => stylesOf(f).length > 0);

  it('finds the stylesheets to check', () => {
    expect(sources.map((f) => relative(ROOT, f))).toContain(join('web', 'src', 'app.css'));
  });

  it.each(sources.map((f) => [relative(ROOT, f), f]))('%s parses without an error', (_name, path) => {
    for (const css of stylesOf(path)) {
      const root = postcss.parse(css, { from: path });
      expect(root.nodes.length).toBeGreaterThan(0);
      // a rule is never inside another rule (plain CSS here, no nesting): nested rules are what
      // an unclosed brace leaves behind
      root.walkRules((rule) => {
        const parent = rule.parent;
        if (parent && parent.type === 'rule') throw new Error(`${path}:${rule.source?.start?.line}: "${rule.selector}" sits inside "${(parent as postcss.Rule).selector}" (a brace left open?)`);
      });
    }
  });
});
