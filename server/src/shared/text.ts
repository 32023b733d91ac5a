// Rules for text typed by members, shared by every schema that accepts it. Each refinement
// names its issue code (shared/issues.ts), which the pages translate.
import { z } from 'zod';

/**
 * C0/C1 controls, and the Unicode characters that can reorder or hide text: direction marks,
 * embeddings, overrides and isolates (the Arabic letter mark, U+061C, among them), zero-width
 * characters, the soft hyphen, the Hangul fillers that draw nothing, and tag characters.
 */
const FORBIDDEN_IN_LINE = /[\p{Cc}\u00AD\u061C\u115F\u1160\u200B-\u200F\u202A-\u202E\u2060-\u2069\u3164\uFEFF\uFFA0\u{E0000}-\u{E007F}]/u;
/** A web address, which member letters may not carry. */
const LINK = /(https?:\/\/|www\.)/i;
/** As above, but newlines and tabs are allowed (letter bodies). */
const FORBIDDEN_IN_BLOCK = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u061C\u115F\u1160\u200B-\u200F\u202A-\u202E\u2060-\u2069\u3164\uFEFF\uFFA0\u{E0000}-\u{E007F}]/u;

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
  if (!options.links) checked = checked.refine((s) => !LINK.test(s), { message: `${label} must not contain links`, params: { code: 'links' } });
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
