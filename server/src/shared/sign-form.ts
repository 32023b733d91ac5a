// The sign form, one schema for both sides: the API validates signatures and letter previews
// with it (signature/signature.schema.ts, letter/letter-preview.service.ts), and the pages check
// a form with it before they post it (web/src/lib/server/sign-form.ts). Its limits live here
// once; every problem carries a code (shared/issues.ts) that the pages translate by field.
import { z } from 'zod';
import { isCountryCode } from './countries.ts';
import { isPlausibleEmail } from './email.ts';
import { LOCALES } from './locales.ts';
import { blockText, checkbox, lineText } from './text.ts';

export const SIGN_LIMITS = {
  /** first and last name, each */
  name: 100,
  email: 254,
  letterSubject: 200,
  /** the longest letter any action may take; each action sets its own maxLetterLength up to this */
  letterBody: 20_000,
  source: 100,
  website: 1000,
} as const;

/** A campaign's source tag (`?source=` on a shared link). */
export const SOURCE_PATTERN = /^[A-Za-z0-9._~:-]*$/;

export const signFormSchema = z
  .object({
    firstName: lineText(SIGN_LIMITS.name, 'First name'),
    lastName: lineText(SIGN_LIMITS.name, 'Last name'),
    email: z
      .string({ error: (iss) => (iss.input === undefined ? 'Email is required' : 'Email must be text') })
      .max(1000, `Email must be at most ${SIGN_LIMITS.email} characters`)
      .transform((s) => s.trim())
      .pipe(
        z
          .string()
          .min(1, 'Email is required')
          .max(SIGN_LIMITS.email, `Email must be at most ${SIGN_LIMITS.email} characters`)
          .refine(isPlausibleEmail, { message: 'Email is not a valid address', params: { code: 'invalid' } }),
      ),
    country: z
      .string({ error: (iss) => (iss.input === undefined ? 'Country is required' : 'Country must be text') })
      .max(10, 'Country must be a two-letter ISO 3166 code')
      .transform((s) => s.trim().toUpperCase())
      .refine(isCountryCode, 'Country must be a two-letter ISO 3166 code'),
    consentCount: checkbox('Consent to be counted').refine((v) => v, {
      message: 'You must agree to be counted for your signature to count',
      params: { code: 'required' },
    }),
    consentNamed: checkbox('Consent to be named to officials'),
    /** named even to officials of the signer's own country; only counts together with consentNamed */
    consentNamedToOwnCountry: checkbox('Consent to be named to officials of your own country'),
    consentWall: checkbox('Consent to be shown on the page'),
    consentContact: checkbox('Consent to be contacted'),
    locale: z.enum(LOCALES, { error: `Locale must be one of ${LOCALES.join(', ')}` }).optional(),
    source: z
      .string({ error: 'Source must be text' })
      .max(SIGN_LIMITS.source, `Source must be at most ${SIGN_LIMITS.source} characters`)
      .regex(SOURCE_PATTERN, 'Source may contain only letters, digits and . _ ~ : -')
      .optional(),
    letterSubject: blockText(SIGN_LIMITS.letterSubject, 'Letter subject')
      .refine((s) => !s.includes('\n'), 'Letter subject must be one line')
      .optional(),
    letterBody: blockText(SIGN_LIMITS.letterBody, 'Letter body').optional(),
    /** honeypot: people leave it empty; a filled one marks the signature for review */
    website: z.string({ error: 'website must be text' }).max(SIGN_LIMITS.website).optional(),
  })
  .strict();

/** What a letter preview takes: the letter, and whatever of the signer's details are known yet. */
export const letterPreviewFormSchema = signFormSchema
  .pick({
    letterSubject: true,
    letterBody: true,
    firstName: true,
    lastName: true,
    country: true,
    consentNamed: true,
    consentNamedToOwnCountry: true,
    locale: true,
  })
  .partial()
  .strict();

/** A letter as its length is measured: one kind of line break, NFC, no outer spaces (as blockText reads it). */
export function letterText(value: string | null | undefined): string {
  return (value ?? '').normalize('NFC').replace(/\r\n?/g, '\n').trim();
}
