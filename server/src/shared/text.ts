// Rules for text typed by members, shared by every schema that accepts it. Each refinement
// names its issue code (shared/issues.ts), which the pages translate.
import { z } from 'zod';

/**
 * C0/C1 controls, and the Unicode characters that can reorder or hide text: direction marks,
 * embeddings, overrides and isolates (the Arabic letter mark, U+061C, among them), zero-width
 * characters, the soft hyphen, the Hangul fillers that draw nothing, and tag characters.
 */
/*
 * And text that did not arrive whole: a lone surrogate (JSON can carry one: "\ud800") or the
 * replacement character U+FFFD, which is what a decoder makes of bytes that are not UTF-8. Either
 * would store, and send to an official, a name other than the one typed.
 */
const FORBIDDEN_IN_LINE = /[\p{Cc}\u00AD\u061C\u115F\u1160\u200B-\u200F\u202A-\u202E\u2060-\u2069\u3164\uFEFF\uFFA0\uFFFD\uD800-\uDFFF\u{E0000}-\u{E007F}]/u;
/**
 * What a mail client would make a link of, which member letters may not carry: an address with
 * a scheme (`https://`, `ftp://`, `javascript:`, `data:`), one without (`//host`, `www.`, a host
 * with a path such as `bit.ly/x` or `t.me/x`, a bare host of a common top-level domain such as
 * `evil.com`), and an email address. Full-width and ideographic full stops count as dots.
 *
 * Every repetition is bounded (a scheme 30 characters, a label 63, a host 9 labels, as DNS
 * allows), and an email address is looked for only where a word starts: a letter is matched in
 * time linear in its length, never the quadratic time of unbounded runs that a body of
 * "a.a.a.a…" or "a-a-a-…" would cost (20,000 characters of it took 1.7 s).
 */
const LABEL = '[a-z0-9-]{1,63}';
const HOST = `${LABEL}(?:\\.${LABEL}){0,8}\\.[a-z]{2,24}`;
const LINK = new RegExp(
  [
    String.raw`\b[a-z][a-z0-9+.-]{0,30}:\/\/`,
    String.raw`\b(?:javascript|vbscript|data|file|mailto|tel):\S`,
    String.raw`(?:^|[\s(\[<"'])\/\/\S`,
    String.raw`\bwww\.`,
    String.raw`\b${HOST}\/`,
    String.raw`\b${LABEL}\.(?:com|net|org|info|biz|io|ly|app|xyz|site|online|link|click|top|tk|ml|gq|cc|tv|ws|su|ru|uz|kz|ph|mx|gov|edu)\b`,
    String.raw`(?:^|[\s(\[<"':;,])[^\s@]{1,64}@${HOST}`,
  ].join('|'),
  'iu',
);
const asLinkSees = (s: string) => s.replace(/[\u3002\uFF0E\uFF61]/g, '.').replace(/\uFF0F/g, '/');
/** As above, but newlines and tabs are allowed (letter bodies). */
const FORBIDDEN_IN_BLOCK = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u061C\u115F\u1160\u200B-\u200F\u202A-\u202E\u2060-\u2069\u3164\uFEFF\uFFA0\uFFFD\uD800-\uDFFF\u{E0000}-\u{E007F}]/u;

/** A single line of member text: trimmed, NFC, no control or direction-override characters, no markup. */
export function lineText(max: number, label: string) {
  return z
    .string({ error: (iss) => (iss.input === undefined ? `${label} is required` : `${label} must be text`) })
    .max(max * 4, `${label} must be at most ${max} characters`)
    .transform((s) => s.normalize('NFC').trim())
    .pipe(
      z
        .string()
        .min(1, `${label} is required`)
        .max(max, `${label} must be at most ${max} characters`)
        .refine((s) => !FORBIDDEN_IN_LINE.test(s), { message: `${label} contains control or invisible characters`, params: { code: 'forbidden_characters' } })
        .refine((s) => !/[<>]/.test(s), { message: `${label} must not contain < or >`, params: { code: 'forbidden_characters' } }),
    );
}

/** Multi-line text: CRLF made LF, NFC, trimmed, within `max`, no control or invisible characters. */
function multiLineText(max: number, label: string, options: { required: boolean; links: boolean }) {
  let checked = z.string().min(options.required ? 1 : 0, `${label} is required`).max(max, `${label} must be at most ${max} characters`);
  checked = checked.refine((s) => !FORBIDDEN_IN_BLOCK.test(s), { message: `${label} contains control or invisible characters`, params: { code: 'forbidden_characters' } });
  if (!options.links) checked = checked.refine((s) => !LINK.test(asLinkSees(s)), { message: `${label} must not contain links`, params: { code: 'links' } });
  return z
    .string({ error: `${label} must be text` })
    .max(max * 4, `${label} must be at most ${max} characters`)
    .transform((s) => s.normalize('NFC').replace(/\r\n?/g, '\n').trim())
    .pipe(checked);
}

/** Multi-line member text such as a personalised letter; links are refused. */
export function blockText(max: number, label: string) {
  return multiLineText(max, label, { required: false, links: false });
}

/**
 * Multi-line text an official writes (an answer): like blockText, but a web address is allowed,
 * as text (an official may cite a published document). Pages show it as text, never as a live
 * link; staff review every answer before it is published. Empty is `required`.
 */
export function documentText(max: number, label: string) {
  return multiLineText(max, label, { required: true, links: true });
}

const TRUE_VALUES = new Set(['true', 'on', '1', 'yes']);
const FALSE_VALUES = new Set(['false', 'off', '0', 'no', '']);

/** A consent checkbox: JSON booleans, or the strings an HTML form sends. Absent means no. */
export function checkbox(label: string) {
  return z
    .union([z.boolean(), z.string()], { error: `${label} must be true or false` })
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || typeof v === 'boolean') return v ?? false;
      const s = v.trim().toLowerCase();
      if (TRUE_VALUES.has(s)) return true;
      if (FALSE_VALUES.has(s)) return false;
      ctx.addIssue({ code: 'custom', message: `${label} must be true or false` });
      return z.NEVER;
    });
}
