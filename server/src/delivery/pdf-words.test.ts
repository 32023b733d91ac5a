// A word longer than a PDF line is cut into pieces before pdfkit draws it: pdfkit's own fitting
// of such a word costs the square of its length, and a signer's 19,000-character word stalled
// the server for minutes while an official opened the packet's PDF.
import { describe, expect, it } from 'vitest';
import { breakLongWords } from './packet.service.ts';

describe('breakLongWords', () => {
  it('cuts a long word into line-sized pieces and keeps every character', () => {
    const word = 'Unbroken' + 'x'.repeat(19_000) + 'END';
    const out = breakLongWords(`Dear minister, ${word} regards`);
    const pieces = out.split(/\s+/);
    expect(Math.max(...pieces.map((p) => [...p].length))).toBeLessThanOrEqual(48);
    expect(out.replace(/\n/g, '')).toBe(`Dear minister, ${word} regards`);
    expect(out.startsWith('Dear minister, Unbroken')).toBe(true);
  });

  it('leaves ordinary text alone, and never splits a character in two', () => {
    const text = 'An ordinary letter, with words of ordinary length.';
    expect(breakLongWords(text)).toBe(text);
    const emoji = '🙂'.repeat(60);
    const out = breakLongWords(emoji);
    expect(out.split('\n').map((p) => [...p].length)).toEqual([48, 12]);
    expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});
