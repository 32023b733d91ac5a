// Every relative link in the documents leads somewhere: the file exists inside the repository,
// and an anchor (#...) names a heading of that document, as GitHub spells heading anchors. A
// document moved or a heading renamed otherwise leaves readers at a dead end without a word.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The documents checked: the README, everything under docs/, and the templates' README. */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f));
  return [join(ROOT, 'README.md'), ...docs, join(ROOT, 'templates', 'README.md')];
}

/** The lines of a document outside fenced code blocks, with inline code spans blanked out. */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((raw, i) => {
    const marker = /^\s*(```|~~~)/.exec(raw)?.[1];
    if (marker) {
      if (fence === null) fence = marker;
      else if (fence === marker) fence = null;
      return;
    }
    if (fence !== null) return;
    out.push({ line: i + 1, text: raw.replace(/(`+)[\s\S]*?\1/g, (m) => ' '.repeat(m.length)) });
  });
  return out;
}

/** The anchor GitHub gives a heading's text (github-slugger's rule). */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a document: one per heading, a repeated one numbered -1, -2, ... */
function anchorsOf(path: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fence: string | null = null;
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const marker = /^\s*(```|~~~)/.exec(raw)?.[1];
    if (marker) {
      if (fence === null) fence = marker;
      else if (fence === marker) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Link {
  line: number;
  target: string;
}

/** Inline links `[text](target)` and images `![alt](target)` of a document's prose. */
function linksOf(path: string): Link[] {
  const links: Link[] = [];
  for (const { line, text } of proseLines(readFileSync(path, 'utf8'))) {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line, target: m[1]! });
  }
  return links;
}

/** Why a link leads nowhere, or null when it leads somewhere. */
function brokenBecause(from: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto: ...: not ours to check
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
  const file = pathPart === '' ? from : resolve(dirname(from), pathPart);
  const inside = relative(ROOT, file);
  if (inside.startsWith('..') || inside.split(sep).includes('node_modules')) return 'it points outside the repository';
  if (!existsSync(file)) return `${inside} does not exist`;
  if (anchor === null || anchor === '') return null;
  if (!file.endsWith('.md')) return `an anchor into ${inside}, which is not a Markdown document`;
  if (!anchorsOf(file).has(anchor)) return `${inside} has no heading with the anchor #${anchor}`;
  return null;
}

describe('links between the documents', () => {
  const docs = documents();

  it('finds the documents and their links', () => {
    const names = docs.map((d) => relative(ROOT, d));
    expect(names).toContain('README.md');
    expect(names).toContain(join('docs', 'architecture.md'));
    expect(docs.flatMap((d) => linksOf(d)).length).toBeGreaterThan(20);
  });

  it('spells anchors as GitHub does', () => {
    expect(slug('Privacy: what is kept, and for how long')).toBe('privacy-what-is-kept-and-for-how-long');
    expect(slug("The console's API")).toBe('the-consoles-api');
    expect(slug('The benchmark: `npm run bench`')).toBe('the-benchmark-npm-run-bench');
    expect(slug('Dates & times, in [UTC](https://example.org)')).toBe('dates--times-in-utc');
  });

  it.each(docs.map((d) => [relative(ROOT, d), d]))('every relative link in %s leads somewhere', (_name, path) => {
    const broken = linksOf(path)
      .map((l) => ({ ...l, why: brokenBecause(path, l.target) }))
      .filter((l) => l.why !== null)
      .map((l) => `${relative(ROOT, path)}:${l.line}: (${l.target}): ${l.why}`);
    expect(broken, broken.join('\n')).toEqual([]);
  });
});
