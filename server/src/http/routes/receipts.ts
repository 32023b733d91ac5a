// Checking a receipt: was the signature given this code counted, and in which delivery, with
// the proof (delivery/receipt.service.ts). Public: whoever holds the code may ask. Counted
// against the per-address limit of the public forms (rate-limits.ts), never cached, and the
// code is kept out of the request log (logging.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { lookupReceipt, type ReceiptDeps } from '../../delivery/receipt.service.ts';
import { errorSchema, localeQuery } from './schemas.ts';

const hex = z.string().regex(/^[0-9a-f]{64}$/).describe('32 bytes, as 64 lowercase hexadecimal digits');

const receiptSchema = z.object({
  code: z.string().describe('the code, written as it was given (four groups of five), however it was typed'),
  leaf: hex.describe('the code’s leaf: HMAC-SHA-256 keyed by the code (as written here) over the ASCII text `chorus receipt leaf v1`'),
  status: z
    .enum(['unconfirmed', 'confirmed', 'sending', 'delivered', 'not_counted', 'withdrawn'])
    .describe(
      '`unconfirmed`: the emailed link was not confirmed yet, so it is not counted; `confirmed`: counted, in no delivery yet; ' +
        '`sending`: counted, in a delivery on its way (no official\'s mail server has accepted its letters yet: office hours, or being sent); ' +
        '`delivered`: counted and delivered, a letter of its delivery accepted by an official\'s mail server (see `delivery`); `not_counted`: never counted (set aside or discarded); ' +
        '`withdrawn`: delivered, then taken out of the count',
    ),
  action: z.object({ slug: z.string(), title: z.string() }),
  delivery: z
    .object({
      day: z.string().describe('the day its first letter was accepted by an official’s mail server, or while `sending` the day the delivery was made; YYYY-MM-DD (UTC): never a finer time'),
      commitment: z
        .object({
          root: hex.describe('the root of the delivery’s Merkle tree, as its letters, packets and the public ledger show it'),
          leafCount: z.number().int().describe('the leaves of the tree: the delivery’s signatures that have a receipt'),
          proof: z
            .array(z.object({ side: z.enum(['left', 'right']), hash: hex }))
            .describe('from the leaf node up: each sibling’s hash and the side it stands on. Start from SHA-256(0x00 || leaf); for each step, SHA-256(0x01 || left || right)'),
          chain: z
            .object({
              index: z.number().int().describe('the delivery’s place in the action’s chain, from 1'),
              previous: hex.nullable().describe('the chain root of the delivery before; null for the first'),
              root: hex.describe('SHA-256(0x02 || previous, or 32 zero bytes || root || leafCount as 8 bytes big-endian)'),
            })
            .describe('deliveries of an action are chained, so none can be changed or left out without changing every chain root after it'),
          verified: z.boolean().describe('the proof leads to the root and the chain root follows, as recomputed by the server; recompute them yourself to rely on no one'),
        })
        .nullable()
        .describe('null for a delivery made before deliveries committed to their signatures'),
    })
    .nullable()
    .describe('the delivery that carried the signature; null until it is delivered'),
});

export const receiptRoutes: FastifyPluginAsyncZod<{ receipts: ReceiptDeps }> = async (app, opts) => {
  app.get(
    '/receipts/:code',
    {
      schema: {
        summary: 'Check a receipt: was this signature counted, and in which delivery',
        description:
          'Whoever holds a receipt code (given with each sign-up) may ask. The answer speaks of that signature and its delivery only: ' +
          'the action, the delivery’s day, the root of its Merkle tree with the inclusion proof, and its chain. Nothing about any other signer. ' +
          '400 for what cannot be a code (the message says what is wrong), 404 for a code no signature has. Counted against the per-address limit of the public forms (429).',
        tags: ['receipts'],
        params: z.object({ code: z.string().describe('the receipt code; case, spaces and hyphens do not matter') }),
        querystring: localeQuery,
        response: { 200: receiptSchema, 400: errorSchema, 404: errorSchema, 429: errorSchema },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return lookupReceipt(opts.receipts, req.params.code, req.query.locale);
    },
  );
};
