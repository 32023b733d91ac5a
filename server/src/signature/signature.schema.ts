// The signing form, as accepted by POST /api/actions/:slug/signatures (JSON or an HTML form).
// The same schema validates, types the service, and documents the OpenAPI; its fields and
// limits are the sign form's (shared/sign-form.ts), which the pages check before posting.
import { z } from 'zod';
import { signFormSchema } from '../shared/sign-form.ts';

export const signInputSchema = signFormSchema.meta({
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
