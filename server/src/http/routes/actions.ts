import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listPublished, toPublic, type ActionCache } from '../../action/action.service.ts';
import { notFound } from '../../shared/errors.ts';
import { signAcceptedSchema, signInputSchema } from '../../signature/signature.schema.ts';
import { sign, type SignatureDeps } from '../../signature/signature.service.ts';
import { previewInputSchema, previewLetters, previewSchema } from '../../letter/letter-preview.service.ts';
import { errorSchema, localeQuery, publicCountryFields, slugParam } from './schemas.ts';
import { admitSigning, shedSigning, type LoadShedderOptions, type ShedSignals } from '../load-shedding.ts';

/**
 * Public for a second, the age of the counts behind it; a cache in front (deploy/nginx) may send
 * the previous copy for two seconds more while it fetches the next, never longer.
 */
export const SHARED_FOR_A_SECOND = 'public, max-age=1, stale-while-revalidate=2';
import { ActionKind, ActionStatus, LetterStatus, TargetMode } from '../../db/db.ts';

const actionSummary = z.object({
  slug: z.string(),
  kind: z.enum(ActionKind),
  status: z.enum(ActionStatus),
  locale: z.string(),
  title: z.string(),
  summary: z.string(),
  goal: z.number().int(),
  count: z.number().int().describe('confirmed signatures, those collected on paper included'),
  paperCount: z.number().int().describe('of `count`, the signatures collected on paper and imported by staff'),
  signingOpen: z.boolean(),
  campaign: z.object({ slug: z.string(), name: z.string() }),
});

/** answers owed by a date (delivery/threshold.service.ts), as the public and staff read them */
export const thresholdsSchema = z
    .array(
      z.object({
        count: z.number().int().describe('the confirmed count at which every target is formally asked to answer'),
        reachedAt: z.string().nullable().describe('when the public count reached it; null while it has not'),
        respondBy: z.string().nullable().describe('the date every target should answer by: reachedAt plus respondWithinDays'),
        targets: z
          .array(
            z.object({
              slug: z.string(),
              target: z.object({ name: z.string(), title: z.string(), organisation: z.string(), locale: z.string().describe('the language the name is shown in'), roleLocale: z.string().describe('the language the title and organisation are shown in') }),
              state: z.enum(['sending', 'waiting', 'answered', 'overdue', 'undelivered']).describe('sending: the request is on its way; waiting: asked, the date has not passed; overdue: the date passed without an answer; undelivered: the request could not be delivered'),
              askedAt: z.string().nullable().describe('when the formal request was delivered'),
              respondBy: z.string(),
              answeredAt: z.string().nullable().describe('when their answer came'),
              answer: z.string().nullable().describe('the answer once published (or the summary staff wrote of it, `summary` true); null before'),
              summary: z.boolean(),
              overdueDays: z.number().int().describe('whole days past respondBy: without an answer (overdue), or when the answer came (answered late); else 0'),
              late: z.boolean().describe('respondBy passed before an answer came, or has passed without one'),
            }),
          )
          .describe('one per target of the action, once the threshold is reached'),
      }),
    )
    .describe('answers owed by a date, lowest count first');

const actionDetail = actionSummary.extend({
  body: z.string(),
  letterSubject: z.string(),
  letterBody: z.string().describe('letter actions: the letter officials receive, in this language, and the draft a signer who may write their own starts from; empty for petitions'),
  shareText: z.string(),
  allowPersonalisation: z.boolean(),
  maxLetterLength: z.number().int(),
  availableLocales: z.array(z.string()),
  ...publicCountryFields,
  targetMode: z.enum(TargetMode),
  targets: z
    .array(z.object({ name: z.string(), title: z.string(), organisation: z.string(), country: z.string().nullable(), locale: z.string().describe('the language the name is shown in'), roleLocale: z.string().describe('the language the title and organisation are shown in') }))
    .describe('in the requested language where the directory has it (or the official\'s own name), else in English'),
  wall: z
    .array(z.object({ firstName: z.string(), country: z.string(), at: z.string().describe('the day only, YYYY-MM-DD (UTC)') }))
    .describe('signers who chose to be shown, from the day after they signed'),
  responses: z.array(
    z.object({
      id: z.string(),
      target: z.object({ name: z.string(), title: z.string(), organisation: z.string(), locale: z.string().describe('the language the name is shown in'), roleLocale: z.string().describe('the language the title and organisation are shown in') }),
      body: z.string().describe('the public summary staff wrote, or the answer itself'),
      locale: z.string().describe("the language of `body`: the official's language for their own answer, the action's default language for a summary written by staff"),
      summary: z.boolean().describe("`body` is a summary written by the organisation's staff, not the official's own words (which are in the delivery packet)"),
      acknowledgement: z.boolean().describe('the official acknowledged receipt of the letter: not an answer to it'),
      publishedAt: z.string(),
      attachments: z.array(z.object({ id: z.string(), filename: z.string(), size: z.number().int() })).describe('download at /api/answers/{id}/attachments/{attachmentId}'),
    }),
  ),
  ledger: z
    .array(
      z.object({
        date: z.string().describe('the day the letter was made (YYYY-MM-DD, UTC)'),
        target: z.object({ name: z.string(), organisation: z.string(), locale: z.string().describe('the language the name is shown in'), roleLocale: z.string().describe('the language the title and organisation are shown in') }),
        count: z
          .number()
          .int()
          .nullable()
          .describe('signatures the letter carried; null where letters go to the officials of each signer\'s own country and the count is below countryMin'),
        accepted: z.boolean().describe('the receiving mail server accepted it'),
        bounced: z.boolean(),
        opened: z.boolean().describe('the packet link in the letter was fetched (a link scanner counts)'),
        answered: z.boolean().describe('a published answer exists'),
        responseSeconds: z.number().int().nullable().describe('seconds from the delivery (first letter of the batch accepted) to the published answer'),
        status: z.enum(LetterStatus),
        heldForOfficeHours: z.boolean().describe('not yet sent: held until the office of the target opens'),
        root: z
          .string()
          .nullable()
          .describe(
            'the root of the Merkle tree of the signatures of the delivery this letter belongs to (64 hexadecimal digits), as the letter states it: ' +
              'a signer checks their receipt against it (GET /api/receipts/{code}). Null for a delivery that carries no receipts (paper signatures) or was made before receipts',
          ),
      }),
    )
    .describe('proof of delivery: the latest 50 letters, newest first'),
  respondWithinDays: z.number().int().describe('days every target has to answer once a threshold is reached'),
  thresholds: thresholdsSchema,
  updates: z
    .array(
      z.object({
        id: z.string(),
        title: z.string(),
        body: z.string().describe('plain text, paragraphs separated by a blank line'),
        locale: z.string().describe('the language of title and body: the requested one where the update has it, else the action’s default'),
        publishedAt: z.string(),
      }),
    )
    .describe('case updates: what happened next, newest first (at most 50)'),
});

export const actionRoutes: FastifyPluginAsyncZod<{
  cache: ActionCache;
  signatures: Omit<SignatureDeps, 'log'>;
  shedding?: { signals: ShedSignals; opts: LoadShedderOptions };
}> = async (app, opts) => {
  app.get(
    '/actions',
    {
      schema: {
        summary: 'Published actions with their live counts',
        tags: ['actions'],
        querystring: localeQuery,
        response: { 200: z.object({ actions: z.array(actionSummary) }) },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', SHARED_FOR_A_SECOND);
      return { actions: listPublished(opts.cache, req.query.locale ?? 'en') };
    },
  );

  app.get(
    '/actions/:slug',
    {
      schema: {
        summary: 'One action: texts, targets, count and countries',
        tags: ['actions'],
        params: slugParam,
        querystring: localeQuery,
        response: { 200: actionDetail, 404: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      const action = await opts.cache.find(req.params.slug);
      if (!action) throw notFound('action_not_found', `No action is published at "${req.params.slug}"`);
      reply.header('cache-control', SHARED_FOR_A_SECOND);
      return toPublic(opts.cache, action, req.query.locale ?? action.defaultLocale);
    },
  );

  app.get(
    '/actions/:slug/count',
    {
      schema: {
        summary: 'The public count of one action, for counters and widgets that poll',
        description: 'Served from memory (refreshed several times a second), never a database query per request.',
        tags: ['actions'],
        params: slugParam,
        response: { 200: z.object({ slug: z.string(), count: z.number().int(), goal: z.number().int() }), 404: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      const action = await opts.cache.find(req.params.slug);
      if (!action) throw notFound('action_not_found', `No action is published at "${req.params.slug}"`);
      reply.header('cache-control', SHARED_FOR_A_SECOND);
      return opts.cache.publicCount(action);
    },
  );

  app.post(
    '/actions/:slug/letter-preview',
    {
      schema: {
        summary: 'Preview what each official will receive from this member',
        description:
          'Renders the member letter per target, in the language that target receives, with the salutation and a sign-off ' +
          'that names the member only where the consents given allow it. Nothing is stored.',
        tags: ['signatures'],
        params: slugParam,
        body: previewInputSchema,
        response: { 200: previewSchema, 404: errorSchema, 422: errorSchema },
      },
    },
    async (req) => previewLetters(opts.cache, req.params.slug, req.body),
  );

  app.post(
    '/actions/:slug/signatures',
    {
      schema: {
        summary: 'Sign an action',
        description:
          'Records a pending signature and emails a confirmation link; nothing counts until the signer confirms. ' +
          'The answer is the same whether or not this email address had signed before. Accepts JSON or an HTML form ' +
          '(application/x-www-form-urlencoded, answered with 303 to the "check your email" page).',
        tags: ['signatures'],
        params: slugParam,
        body: signInputSchema,
        response: { 202: signAcceptedSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema, 503: errorSchema },
      },
      // refused before the body is read when the server cannot answer in time (load-shedding.ts)
      ...(opts.shedding
        ? { onRequest: shedSigning(opts.shedding.signals, opts.shedding.opts), preHandler: admitSigning(opts.shedding.signals, opts.shedding.opts) }
        : {}),
    },
    async (req, reply) => {
      await sign({ ...opts.signatures, log: req.log }, req.params.slug, req.body, { ip: req.clientIp });
      if (req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
        const prefix = req.body.locale && req.body.locale !== 'en' ? `/${req.body.locale}` : '';
        return reply.redirect(`${prefix}/actions/${req.params.slug}/check-email`, 303);
      }
      return reply.code(202).send({ status: 'received', message: 'Check your email: the link we sent confirms your signature.' });
    },
  );
};
