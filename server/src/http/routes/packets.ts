// The delivery packet behind the signed link in every letter: for the official who
// received it. Every answer is no-store; the token is checked on every request.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { answerInputSchema, checkPacketToken, packetAttachment, packetCsv, packetPdf, recordAnswer, viewPacket, type PacketDeps } from '../../delivery/packet.service.ts';
import { errorSchema } from './schemas.ts';
import { endRefused } from '../refusals.ts';
import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, sendAttachment } from '../../delivery/attachment.ts';
import { getAttachment } from '../../delivery/answer.service.ts';

const tokenParam = z.object({ token: z.string().max(512) });

const packetSchema = z.object({
  letter: z.object({
    id: z.string(),
    sentAt: z.string().nullable(),
    status: z.string(),
    locale: z.string(),
    signatureCount: z.number().int(),
    totalCount: z.number().int(),
    subject: z.string(),
  }),
  request: z
    .object({
      locale: z.string().describe('the language the letter was written in'),
      text: z.string(),
      fromTitle: z.boolean().describe('the action has no request to officials: the letter carried a neutral sentence built from its title'),
    })
    .describe('what the letter asks of this official, as the letter carried it'),
  organisation: z.string().describe('who sent the letter'),
  action: z.object({ slug: z.string(), title: z.string() }),
  target: z.object({ name: z.string(), title: z.string(), organisation: z.string() }),
  countries: z
    .array(z.object({ country: z.string(), count: z.number().int() }))
    .describe('counts by country as this official may see them: never unnamed signers of their own country, nor countries with few unnamed signers'),
  countryNotShown: z.number().int().describe('signers whose country is not shown to this official, counted together'),
  signers: z.array(
    z.object({
      name: z.string().nullable().describe('only where the signer allowed this official to see it'),
      country: z.string().nullable().describe('ISO 3166 code; null ("country not shown") where naming the country could expose an unnamed signer'),
      confirmedAt: z.string().describe('the day of confirmation, YYYY-MM-DD'),
    }),
  ),
  signersTruncated: z.boolean().describe('true when the list stops at 5000 signers (the CSV has them all)'),
  memberLetters: z.array(z.object({ subject: z.string(), text: z.string(), locale: z.string().describe('the language the member wrote in') })),
  responses: z.array(
    z.object({
      id: z.string(),
      body: z.string(),
      receivedAt: z.string(),
      status: z.string(),
      attachments: z
        .array(z.object({ id: z.string(), filename: z.string(), contentType: z.string(), size: z.number().int() }))
        .describe('files sent with the answer: GET /api/packets/{token}/attachments/{attachmentId}'),
    }),
  ),
  receipts: z
    .object({
      root: z.string().describe('the root of the Merkle tree of the receipts of the delivery’s signatures, 64 hexadecimal digits, as the letter and the public ledger state it'),
      count: z.number().int().describe('the signatures of the whole delivery (every letter it sent) that have a receipt: the leaves of the tree'),
      chain: z.object({ index: z.number().int().describe('the delivery’s place in the action’s chain, from 1'), root: z.string().describe('its chain root') }),
    })
    .nullable()
    .describe('what the delivery this letter belongs to commits to: each signer can check their receipt against the root (GET /api/receipts/{code}); null for a delivery without receipts (paper signatures, a formal request)'),
});

function attachment(filename: string): string {
  return `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`;
}

export const packetRoutes: FastifyPluginAsyncZod<{ packets: PacketDeps }> = async (app, opts) => {
  app.addHook('onRequest', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.get(
    '/packets/:token',
    {
      schema: {
        summary: 'The delivery packet of one letter, for the official who received it',
        description:
          'Lists every signature the letter speaks for, named only where the signer allowed it for this official. ' +
          'The first request records the letter as opened; a link scanner fetching the link counts as well.',
        tags: ['delivery'],
        params: tokenParam,
        response: { 200: packetSchema, 404: errorSchema, 410: errorSchema },
      },
    },
    async (req) => viewPacket(opts.packets, req.params.token),
  );

  app.get(
    '/packets/:token/packet.csv',
    {
      schema: {
        summary: 'The signers of one letter as CSV (name,country,confirmed_at)',
        description: 'Cells that a spreadsheet would read as a formula are prefixed with an apostrophe.',
        tags: ['delivery'],
        params: tokenParam,
        response: { 200: z.any().describe('text/csv'), 404: errorSchema, 410: errorSchema },
      },
    },
    async (req, reply) => {
      const { filename, stream } = await packetCsv(opts.packets, req.params.token);
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', attachment(filename));
      return reply.send(stream);
    },
  );

  app.get(
    '/packets/:token/packet.pdf',
    {
      schema: {
        summary: 'The delivery of one letter as PDF, in the letter’s language',
        tags: ['delivery'],
        params: tokenParam,
        response: { 200: z.any().describe('application/pdf'), 404: errorSchema, 410: errorSchema },
      },
    },
    async (req, reply) => {
      const { filename, pdf } = await packetPdf(opts.packets, req.params.token);
      reply.header('content-type', 'application/pdf').header('content-disposition', attachment(filename));
      return reply.send(pdf);
    },
  );

  app.get(
    '/packets/:token/attachments/:attachmentId',
    {
      schema: {
        summary: 'Download a file the official attached to an answer to this letter',
        description: 'Published or not: the official who sent it may fetch it again. Always a download (Content-Disposition: attachment, nosniff).',
        tags: ['delivery'],
        params: tokenParam.extend({ attachmentId: z.string().max(64) }),
        response: { 200: z.any().describe('the file'), 404: errorSchema, 410: errorSchema },
      },
    },
    async (req, reply) => sendAttachment(reply, await packetAttachment(opts.packets, req.params.token, req.params.attachmentId)),
  );

  app.post(
    '/packets/:token/responses',
    {
      // room for the attachments (base64), each checked again in attachment.ts
      bodyLimit: Math.ceil((MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES * 4) / 3) + 64 * 1024,
      // only for a link valid now: the link is checked before any of the body is read, so no
      // made-up link makes the server read and parse 21 MB (the rest is dropped, refusals.ts)
      onRequest: async (req, reply) => {
        try {
          checkPacketToken(opts.packets, (req.params as { token: string }).token);
        } catch (err) {
          endRefused(req, reply);
          throw err;
        }
      },
      schema: {
        summary: 'Answer a letter (or acknowledge receipt)',
        description: `Kept for staff review; staff may publish it with the official’s name and office. At most 10 per letter (409 beyond). Up to 3 attachments (PDF, PNG, JPEG or plain text, 5 MB each, base64), checked against their declared type.`,
        tags: ['delivery'],
        params: tokenParam,
        body: answerInputSchema,
        response: { 201: z.object({ status: z.literal('received') }), 404: errorSchema, 409: errorSchema, 410: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => reply.code(201).send(await recordAnswer(opts.packets, req.params.token, req.body)),
  );

  app.get(
    '/answers/:id/attachments/:attachmentId',
    {
      schema: {
        summary: 'Download an attachment of a published answer',
        description: 'Only once staff have published the answer (404 before). Always a download (Content-Disposition: attachment, nosniff).',
        tags: ['delivery'],
        params: z.object({ id: z.string().max(64), attachmentId: z.string().max(64) }),
        response: { 200: z.any().describe('the file'), 404: errorSchema },
      },
    },
    async (req, reply) => sendAttachment(reply, await getAttachment(opts.packets.pool, req.params.id, req.params.attachmentId, { publishedOnly: true })),
  );
};
