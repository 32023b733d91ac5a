import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirm, discard, viewConfirmation, type SignatureDeps } from '../../signature/signature.service.ts';
import { errorSchema, localeQuery } from './schemas.ts';
import { receiptCookie } from '../../signature/receipt.ts';

const tokenParam = z.object({ token: z.string().max(512) });
const actionRef = z.object({
  slug: z.string(),
  title: z.string().describe('in the requested locale, else in the action\'s default language'),
  locale: z.string().describe('the language of the title'),
});
const signup = z
  .object({
    firstName: z.string(),
    lastName: z.string(),
    country: z.string().describe('ISO 3166-1 alpha-2'),
    consents: z.object({ count: z.literal(true), named: z.boolean(), namedToOwnCountry: z.boolean(), wall: z.boolean(), contact: z.boolean() }),
    letter: z.object({ subject: z.string().nullable(), body: z.string().nullable() }).nullable().describe("the member's own letter, if they changed the action's"),
  })
  .describe('exactly what confirming confirms: the name, country, every consent (given or not) and the letter of this sign-up');
const shown = z
  .object({
    version: z
      .string()
      .min(1, 'version, when given, is the `version` the page showed, not empty')
      .max(64)
      .optional()
      .describe('the `version` of the details the page showed: nothing happens if the sign-up has changed since'),
  })
  .nullish();
const conflictNote = '409 `signup_replaced`: the sign-up no longer holds the details the page or email showed (`version`).';

export const confirmationRoutes: FastifyPluginAsyncZod<{ signatures: Omit<SignatureDeps, 'log'> }> = async (app, opts) => {
  const deps = () => ({ ...opts.signatures, log: app.log });
  const isForm = (type: string | undefined) => Boolean(type?.startsWith('application/x-www-form-urlencoded'));
  const prefix = (locale: string | undefined) => (locale && locale !== 'en' ? `/${locale}` : '');

  app.get(
    '/confirmations/:token',
    {
      schema: {
        summary: 'Look at a confirmation link without confirming',
        description:
          'Safe for link scanners: reading never confirms or discards. While pending, it answers exactly what confirming ' +
          'would confirm (`signup`) and its `version`; POST to the same path confirms, to `/discard` discards ("This was not me").',
        tags: ['signatures'],
        params: tokenParam,
        querystring: localeQuery,
        response: {
          200: z.object({
            status: z.enum(['pending', 'confirmed', 'replaced', 'discarded']),
            action: actionRef,
            signup: signup.optional(),
            version: z.string().optional(),
            others: z
              .array(z.object({ token: z.string(), createdAt: z.string(), signup }))
              .optional()
              .describe(
                'while pending or discarded: the other sign-ups with this address for this action that wait for confirmation, oldest first (at most 20,000), each with a link token of its own: whoever holds one emailed link can reach them all',
              ),
            receipt: z
              .string()
              .nullable()
              .optional()
              .describe('once confirmed: the signature\'s receipt code, for GET /api/receipts/{code} (whoever holds the link holds the mailbox it went to)'),
          }),
          404: errorSchema,
          410: errorSchema,
        },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return viewConfirmation(deps(), req.params.token, req.query.locale);
    },
  );

  app.post(
    '/confirmations/:token',
    {
      schema: {
        summary: 'Confirm a signature',
        description: `Idempotent: confirming twice answers already_confirmed. The sign-up's name and country become the signer's, and its consents are recorded. ${conflictNote} 409 \`signup_discarded\`: its owner discarded it.`,
        tags: ['signatures'],
        params: tokenParam,
        querystring: localeQuery,
        body: shown,
        response: {
          200: z.object({
            status: z.enum(['confirmed', 'already_confirmed']),
            action: actionRef,
            receipt: z.string().nullable().describe('the confirmed signature\'s receipt code: GET /api/receipts/{code} says in which delivery it was counted'),
          }),
          404: errorSchema,
          409: errorSchema,
          410: errorSchema,
        },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      const result = await confirm(deps(), req.params.token, req.query.locale, req.body?.version);
      if (isForm(req.headers['content-type'])) {
        // the thanks page shows the receipt once, from a short-lived cookie: never in a URL (logs keep URLs)
        if (result.receipt) reply.header('set-cookie', receiptCookie(result.receipt, req.protocol === 'https'));
        return reply.redirect(`${prefix(req.query.locale)}/actions/${result.action.slug}/thanks?confirmed=1`, 303);
      }
      return result;
    },
  );

  app.post(
    '/confirmations/:token/discard',
    {
      schema: {
        summary: 'Discard a sign-up: "This was not me"',
        description:
          'For the owner of the address, when someone else signed with it: the pending sign-up is never counted, confirmed or ' +
          `reminded of, and what it said in their name is wiped. Idempotent. ${conflictNote} 409 \`already_confirmed\`: a ` +
          'confirmed signature is changed or erased on the "my data" page instead.',
        tags: ['signatures'],
        params: tokenParam,
        querystring: localeQuery,
        body: shown,
        response: { 200: z.object({ status: z.literal('discarded'), action: actionRef }), 404: errorSchema, 409: errorSchema, 410: errorSchema },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      const result = await discard(deps(), req.params.token, req.query.locale, req.body?.version);
      if (isForm(req.headers['content-type'])) return reply.redirect(`${prefix(req.query.locale)}/confirm/${req.params.token}`, 303);
      return result;
    },
  );
};
