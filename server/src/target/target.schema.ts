// The targets directory: who letters go to. One schema types the API, the CSV import and the
// OpenAPI document, so a row typed in a form and a row in a spreadsheet meet the same rules.
import { z } from 'zod';
import { ContactStatus, TargetKind } from '../generated/kysely/enums.ts';
import { isCountryCode } from '../shared/countries.ts';
import { NAME_LOCALES, type NameLocale } from './target-names.ts';
import { normaliseSalutation } from '../shared/salutation.ts';

/** C0/C1 controls and the format characters that reorder or hide text. */
const FORBIDDEN_IN_LINE = /[\p{Cc}\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/u;
const FORBIDDEN_IN_BLOCK = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/u;

/** One line of staff text: trimmed, NFC, no control characters, no markup. Empty allowed unless required. */
export function staffLine(max: number, label: string, required = false) {
  return z
    .string({ error: `${label} must be text` })
    .max(max * 4, `${label} must be at most ${max} characters`)
    .transform((s) => s.normalize('NFC').trim())
    .pipe(
      z
        .string()
        .min(required ? 1 : 0, `${label} is required`)
        .max(max, `${label} must be at most ${max} characters`)
        .refine((s) => !FORBIDDEN_IN_LINE.test(s), { message: `${label} contains control or invisible characters`, params: { code: 'forbidden_characters' } })
        .refine((s) => !/[<>]/.test(s), { message: `${label} must not contain < or >`, params: { code: 'forbidden_characters' } }),
    );
}

/** Several lines of staff text (notes, action bodies): newlines and tabs allowed, other controls not. */
export function staffBlock(max: number, label: string) {
  return z
    .string({ error: `${label} must be text` })
    .max(max * 4, `${label} must be at most ${max} characters`)
    .transform((s) => s.normalize('NFC').replace(/\r\n?/g, '\n').trim())
    .pipe(
      z
        .string()
        .max(max, `${label} must be at most ${max} characters`)
        .refine((s) => !FORBIDDEN_IN_BLOCK.test(s), { message: `${label} contains control or invisible characters`, params: { code: 'forbidden_characters' } }),
    );
}

const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

/** An ISO 639 language code that the runtime knows, e.g. "es", "uz", "kk". */
export function isLanguageCode(value: string): boolean {
  return /^[a-z]{2,3}$/.test(value) && languageNames.of(value) !== undefined;
}

/** The canonical IANA name of a timezone, or null when it is not one. */
export function canonicalTimezone(value: string): string | null {
  if (!/^[A-Za-z0-9_+\-/]{1,64}$/.test(value)) return null;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** "09:00-17:00" in the target's timezone, as minutes after midnight; opening before closing. */
export function parseOfficeHours(value: string): { opensAt: number; closesAt: number } | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)\s*[-–]\s*([01]\d|2[0-4]):([0-5]\d)$/.exec(value.trim());
  if (!m) return null;
  const opensAt = Number(m[1]) * 60 + Number(m[2]);
  const closesAt = Number(m[3]) * 60 + Number(m[4]);
  if (closesAt > 1440 || opensAt >= closesAt) return null;
  return { opensAt, closesAt };
}

export function formatOfficeHours(opensAt: number, closesAt: number): string {
  const hm = (n: number) => `${String(Math.floor(n / 60)).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}`;
  return `${hm(opensAt)}-${hm(closesAt)}`;
}

const email = z
  .string({ error: 'email must be text' })
  .max(1000, 'email must be at most 254 characters')
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .max(254, 'email must be at most 254 characters')
      .refine((s) => !/[\s\p{Cc}]/u.test(s), 'email must not contain spaces or control characters')
      .pipe(z.email('email must be an email address')),
  );

/** The name, title and organisation in one language; an empty field falls back to the English one. */
const namePartsSchema = (locale: string) =>
  z
    .object({
      name: staffLine(200, `name (${locale})`).default(''),
      title: staffLine(200, `title (${locale})`).default(''),
      organisation: staffLine(200, `organisation (${locale})`).default(''),
    })
    .strict();

/** The names per language: only the languages members read, empty ones left out. */
export const targetNamesSchema = z
  .object(Object.fromEntries(NAME_LOCALES.map((l) => [l, namePartsSchema(l).optional()])) as Record<NameLocale, z.ZodOptional<ReturnType<typeof namePartsSchema>>>)
  .strict()
  .transform((names) => {
    const out: Partial<Record<NameLocale, { name?: string; title?: string; organisation?: string }>> = {};
    for (const l of NAME_LOCALES) {
      const entry = names[l];
      if (!entry) continue;
      const kept = Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== ''));
      if (Object.keys(kept).length) out[l] = kept;
    }
    return out;
  });

/** A target as staff type it (form, JSON or one CSV row). */
export const targetInputSchema = z
  .object({
    slug: z
      .string()
      .max(80, 'slug must be at most 80 characters')
      .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'slug must be lower-case letters, digits and single dashes')
      .optional(),
    name: staffLine(200, 'name', true),
    title: staffLine(200, 'title').default(''),
    organisation: staffLine(200, 'organisation').default(''),
    names: targetNamesSchema
      .optional()
      .describe('the name, title and organisation in the other languages members read (es, fr, ru); the fields above are English. Left out: kept as they are (on an edit or import)'),
    nameIsOfficial: z
      .boolean({ error: 'nameIsOfficial must be true or false' })
      .optional()
      .describe("the name is the target's own official name, shown as it is in every language. Left out: kept as it is"),
    kind: z.enum(TargetKind, { error: `kind must be one of ${Object.values(TargetKind).join(', ')}` }),
    country: z
      .string({ error: 'country must be text' })
      .max(10, 'country must be a two-letter ISO code')
      .transform((s) => s.trim().toUpperCase())
      .refine((s) => s === '' || isCountryCode(s), 'country must be a two-letter ISO 3166 code, or empty for an inter-governmental body')
      .transform((s) => (s === '' ? null : s))
      .nullable()
      .default(null),
    email,
    language: z
      .string({ error: 'language must be text' })
      .max(10, 'language must be an ISO 639 code such as en or es')
      .transform((s) => s.trim().toLowerCase())
      .refine(isLanguageCode, 'language must be an ISO 639 code such as en or es')
      .default('en'),
    timezone: z
      .string({ error: 'timezone must be text' })
      .max(64, 'timezone must be an IANA name such as America/Mexico_City')
      .transform((s, ctx) => {
        const tz = canonicalTimezone(s.trim());
        if (!tz) {
          ctx.addIssue({ code: 'custom', message: 'timezone must be an IANA name such as America/Mexico_City' });
          return z.NEVER;
        }
        return tz;
      })
      .default('UTC'),
    officeHours: z
      .string({ error: 'officeHours must be text' })
      .max(20, 'officeHours must look like 09:00-17:00')
      .refine((s) => parseOfficeHours(s) !== null, 'officeHours must look like 09:00-17:00, opening before closing')
      .default('09:00-17:00'),
    // stored without the punctuation the letter's greeting line adds (shared/salutation.ts)
    salutation: staffLine(200, 'salutation').transform(normaliseSalutation).default(''),
    lastVerifiedAt: z
      .union([z.iso.date({ error: 'lastVerifiedAt must be a date like 2026-11-28' }), z.literal(''), z.null()])
      .transform((s) => (s ? s : null))
      .default(null),
    notes: staffBlock(5000, 'notes').default(''),
  })
  .strict();

export type TargetInput = z.output<typeof targetInputSchema>;

export const targetView = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  title: z.string(),
  organisation: z.string(),
  names: z.record(z.string(), z.object({ name: z.string().optional(), title: z.string().optional(), organisation: z.string().optional() })),
  nameIsOfficial: z.boolean(),
  kind: z.enum(TargetKind),
  country: z.string().nullable(),
  email: z.string(),
  language: z.string(),
  timezone: z.string(),
  officeHours: z.string(),
  salutation: z.string(),
  lastVerifiedAt: z.string().nullable(),
  contactStatus: z.enum(ContactStatus),
  bounceCount: z.number().int(),
  notes: z.string(),
  disabled: z.boolean(),
  /** actions this target is linked to (slugs) */
  actions: z.array(z.object({ id: z.string(), slug: z.string(), status: z.string() })),
  updatedAt: z.date(),
});

export type TargetView = z.output<typeof targetView>;

export const targetListQuery = z.object({
  q: z.string().max(200).optional().describe('words found in the name, organisation or email'),
  country: z
    .string()
    .regex(/^([A-Za-z]{2}|none)$/, 'country is a two-letter code, or "none" for bodies without one')
    .optional(),
  kind: z.enum(TargetKind).optional(),
  language: z.string().regex(/^[a-z]{2,3}$/, 'language is an ISO 639 code').optional(),
  status: z.enum([ContactStatus.OK, ContactStatus.STALE, 'DISABLED', 'ALL']).optional().describe('contact status; DISABLED lists disabled targets; default: all enabled'),
  limit: z.coerce.number().int().min(1).max(500).default(200),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export type TargetListQuery = z.output<typeof targetListQuery>;
