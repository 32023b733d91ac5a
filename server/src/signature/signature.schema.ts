// The signing form, as accepted by POST /api/actions/:slug/signatures (JSON or an HTML form).
// The same schema validates, types the service, and documents the OpenAPI.
import { z } from 'zod';
import { isCountryCode } from '../shared/countries.ts';
import { LOCALES } from '../shared/locales.ts';
import { blockText, checkbox, lineText } from '../shared/text.ts';
import { isPlausibleEmail } from '../supporter/email.ts';

export const signInputSchema = z
  .object({
    firstName: lineText(100, 'First name'),
    lastName: lineText(100, 'Last name'),
    email: z
      .string({ error: (iss) => (iss.input === undefined ? 'Email is required' : 'Email must be text') })
      .max(1000, 'Email must be at most 254 characters')
      .transform((s) => s.trim())
      .pipe(
        z
          .string()
          .min(1, 'Email is required')
          .max(254, 'Email must be at most 254 characters')
          .refine(isPlausibleEmail, 'Email is not a valid address'),
      ),
    country: z
      .string({ error: (iss) => (iss.input === undefined ? 'Country is required' : 'Country must be text') })
      .max(10, 'Country must be a two-letter ISO 3166 code')
      .transform((s) => s.trim().toUpperCase())
      .refine(isCountryCode, 'Country must be a two-letter ISO 3166 code'),
    consentCount: checkbox('Consent to be counted').refine((v) => v, 'You must agree to be counted for your signature to count'),
    consentNamed: checkbox('Consent to be named to officials'),
    /** named even to officials of the signer's own country; only counts together with consentNamed */
    consentNamedToOwnCountry: checkbox('Consent to be named to officials of your own country'),
    consentWall: checkbox('Consent to be shown on the page'),
    consentContact: checkbox('Consent to be contacted'),
    locale: z.enum(LOCALES, { error: `Locale must be one of ${LOCALES.join(', ')}` }).optional(),
    source: z
      .string({ error: 'Source must be text' })
      .max(100, 'Source must be at most 100 characters')
      .regex(/^[A-Za-z0-9._~:-]*$/, 'Source may contain only letters, digits and . _ ~ : -')
      .optional(),
    letterSubject: blockText(200, 'Letter subject')
      .refine((s) => !s.includes('\n'), 'Letter subject must be one line')
      .optional(),
    letterBody: blockText(20000, 'Letter body').optional(),
    /** honeypot: people leave it empty; a filled one marks the signature for review */
    website: z.string({ error: 'website must be text' }).max(1000).optional(),
  })
  .strict()
  .meta({
    examples: [
      {
        firstName: 'Ana',
        lastName: 'López',
        email: 'ana@example.org',
        country: 'MX',
        consentCount: true,
        consentNamed: true,
        consentWall: false,
        consentContact: false,
        locale: 'es',
        source: 'newsletter-june',
      },
    ],
  });

export type SignInput = z.output<typeof signInputSchema>;

export const signAcceptedSchema = z.object({
  status: z.literal('received'),
  message: z.string(),
});
