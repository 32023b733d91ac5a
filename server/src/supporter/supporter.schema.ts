// Member self-service without accounts: one-click unsubscribe and "my data" by emailed link.
// The same schemas validate the requests, type the services and document the OpenAPI.
import { z } from 'zod';
import { ConsentPurpose, SignatureStatus } from '../db/db.ts';
import { LOCALES } from '../shared/locales.ts';
import { signInputSchema } from '../signature/signature.schema.ts';

/** Emailed tokens travel in the path; anything malformed is answered 404 invalid_link. */
export const memberTokenParam = z.object({ token: z.string().max(512) });

/**
 * RFC 8058 one-click: mail clients POST exactly `List-Unsubscribe=One-Click` as a form.
 * A plain POST with no body, or the JSON `{}`, unsubscribes as well.
 */
export const unsubscribeBodySchema = z
  .object({
    'List-Unsubscribe': z.literal('One-Click', { error: 'List-Unsubscribe must be One-Click' }).optional(),
  })
  .strict()
  .nullish(); // Fastify hands an absent body over as null

export const unsubscribeStatusSchema = z.object({ status: z.enum(['subscribed', 'unsubscribed']) });
export const unsubscribedSchema = z.object({ status: z.literal('unsubscribed') });

/** The same email rules as signing, so every address that can sign can ask for its data. */
export const myDataRequestSchema = z
  .object({
    email: signInputSchema.shape.email,
    locale: z.enum(LOCALES, { error: `Locale must be one of ${LOCALES.join(', ')}` }).optional(),
  })
  .strict();
export type MyDataRequest = z.output<typeof myDataRequestSchema>;

export const myDataReceivedSchema = z.object({ status: z.literal('received') });

export const myDataQuery = z.object({
  download: z.enum(['0', '1'], { error: 'download must be 0 or 1' }).optional().describe('1: send as a file (Content-Disposition: attachment)'),
});

/** JSON booleans, or the "true"/"false" an HTML form sends. Never absent: the choice is explicit. */
const explicitBoolean = (label: string) =>
  z
    .union([z.boolean(), z.enum(['true', 'false'])], { error: `${label} must be true or false` })
    .transform((v) => v === true || v === 'true');

/** The choices a member changes themselves (COUNT is given by signing, and goes with the signature). */
export const CONSENT_PURPOSES = [
  ConsentPurpose.NAMED_DISCLOSURE,
  ConsentPurpose.NAMED_TO_OWN_COUNTRY,
  ConsentPurpose.PUBLIC_WALL,
  ConsentPurpose.CONTACT,
] as const;
export type SelfServicePurpose = (typeof CONSENT_PURPOSES)[number];

export const consentChangeSchema = z
  .object({
    signatureId: z.uuid({ error: 'signatureId must be a signature id' }).optional(),
    purpose: z.enum(CONSENT_PURPOSES, { error: `purpose must be one of ${CONSENT_PURPOSES.join(', ')}` }),
    granted: explicitBoolean('granted'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.purpose === ConsentPurpose.CONTACT && v.signatureId !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['signatureId'], message: 'CONTACT applies to the supporter, not to one signature: leave signatureId out' });
    }
    if (v.purpose !== ConsentPurpose.CONTACT && v.signatureId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['signatureId'], message: `signatureId is required for ${v.purpose}` });
    }
  });
export type ConsentChange = z.output<typeof consentChangeSchema>;

export const eraseBodySchema = z
  .object({
    confirm: z.union([z.literal(true), z.literal('true')], { error: 'confirm must be true to erase your data' }),
  })
  .strict();

export const erasedSchema = z.object({ status: z.literal('erased') });

const signatureStatus = z.enum(SignatureStatus);

export const myDataExportSchema = z.object({
  exportedAt: z.string(),
  supporter: z.object({
    email: z.string().nullable(),
    firstName: z.string().nullable(),
    lastName: z.string().nullable(),
    country: z.string().nullable(),
    locale: z.string(),
    createdAt: z.string(),
    unsubscribedAt: z.string().nullable(),
  }),
  signatures: z.array(
    z.object({
      id: z.string(),
      action: z.object({ slug: z.string(), title: z.string() }),
      status: signatureStatus,
      country: z.string(),
      locale: z.string(),
      createdAt: z.string(),
      confirmedAt: z.string().nullable(),
      letterSubject: z.string().nullable(),
      letterBody: z.string().nullable(),
      consents: z.object({ named: z.boolean(), wall: z.boolean(), namedToOwnCountry: z.boolean() }),
      pending: z
        .object({ firstName: z.string().nullable(), lastName: z.string().nullable(), contact: z.boolean().nullable() })
        .nullable()
        .describe('until the sign-up is confirmed: the name and contact choice it gave (they become yours only when you confirm)'),
      receipt: z.string().nullable().describe('the receipt code of this sign-up: once confirmed, GET /api/receipts/{code} says in which delivery it was counted'),
    }),
  ),
  consentHistory: z.array(
    z.object({
      purpose: z.enum(ConsentPurpose),
      granted: z.boolean(),
      wordingVersion: z.string(),
      createdAt: z.string(),
      actionSlug: z.string().nullable(),
    }),
  ),
});
export type MyDataExport = z.output<typeof myDataExportSchema>;
