// Answers from officials, for staff: the list awaiting review, one answer with its
// attachments, publish (with an optional public summary) and reject. The logic and the
// outbox of the "an official answered" emails are in delivery/answer.service.ts.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getAnswer, getAttachment, listAnswers, publishAnswer, publishInputSchema, rejectAnswer, type AnswerDeps } from '../../../delivery/answer.service.ts';
import { sendAttachment } from '../../../delivery/attachment.ts';
import { errorSchema } from '../schemas.ts';
import { READ, WRITE, type AdminDeps } from './roles.ts';
import { AnswerStatus } from '../../../db/db.ts';
import { owedAnswers } from '../../../delivery/threshold.service.ts';
import { LOCALES } from '../../../shared/locales.ts';

const idParam = z.object({ id: z.string().max(64) });
const errors = { 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema };

const answerSchema = z.object({
  id: z.string(),
  status: z.enum(AnswerStatus),
  body: z.string(),
  publicSummary: z.string().nullable(),
  receivedAt: z.coerce.date(),
  publishedAt: z.coerce.date().nullable(),
  reviewedAt: z.coerce.date().nullable(),
  reviewerEmail: z.string().nullable(),
  action: z.object({ id: z.string(), slug: z.string(), title: z.string() }),
  target: z.object({ id: z.string(), name: z.string(), title: z.string(), organisation: z.string() }),
  letterId: z.string().nullable(),
  letterSentAt: z.coerce.date().nullable(),
  responseSeconds: z.number().int().nullable().describe('seconds from the delivery (first letter of the batch accepted) to this answer'),
  attachments: z.array(z.object({ id: z.string(), filename: z.string(), contentType: z.string(), size: z.number().int() })),
  notifications: z.object({ owed: z.number().int(), sent: z.number().int() }).describe('"an official answered" emails to signers'),
});

export const answerRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const a = opts.admin;
  const deps: AnswerDeps = { pool: a.pool, clock: a.clock, queues: a.queues, refreshPublic: () => a.cache.refresh() };

  app.get(
    '/answers',
    {
      config: { roles: READ },
      schema: {
        summary: 'Answers from officials',
        description: 'Those awaiting review first, then newest first. Filter by status and action.',
        tags: ['admin'],
        querystring: z.object({
          status: z.enum(AnswerStatus).optional(),
          action: z.string().max(64).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(100),
        }),
        response: { 200: z.object({ answers: z.array(answerSchema) }), ...errors },
      },
    },
    async (req) => ({ answers: await listAnswers(a.pool, { status: req.query.status, actionId: req.query.action, limit: req.query.limit }) }),
  );

  app.get(
    '/answers/owed',
    {
      config: { roles: READ },
      schema: {
        summary: 'Answers owed by a date, overdue first',
        description: 'Every target asked to answer when a threshold was reached: overdue first (most days late first), then undelivered, sending, waiting by date, and answered.',
        tags: ['admin'],
        querystring: z.object({ locale: z.enum(LOCALES).default('en').describe('language of the titles and names') }),
        response: {
          200: z.object({
            owed: z.array(
              z.object({
                actionId: z.string(),
                slug: z.string(),
                title: z.string(),
                count: z.number().int(),
                reachedAt: z.string(),
                targetSlug: z.string(),
                target: z.object({ name: z.string(), title: z.string(), organisation: z.string(), locale: z.string(), roleLocale: z.string() }),
                state: z.enum(['sending', 'waiting', 'answered', 'overdue', 'undelivered']),
                askedAt: z.string().nullable(),
                respondBy: z.string(),
                answeredAt: z.string().nullable(),
                answer: z.string().nullable(),
                summary: z.boolean(),
                overdueDays: z.number().int(),
                late: z.boolean(),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (req) => ({ owed: await owedAnswers(a.pool, a.clock(), req.query.locale) }),
  );

  app.get(
    '/answers/:id',
    { config: { roles: READ }, schema: { summary: 'One answer', tags: ['admin'], params: idParam, response: { 200: answerSchema, ...errors } } },
    async (req) => getAnswer(a.pool, req.params.id),
  );

  app.post(
    '/answers/:id/publish',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Publish an answer',
        description:
          'Shows it on the public action page (the public summary instead of the answer, when given) and emails every confirmed signer ' +
          'who opted in to contact, once each, in their language. Publishing again only updates the summary; nobody is emailed twice. Audited.',
        tags: ['admin'],
        params: idParam,
        body: publishInputSchema.nullish(),
        response: { 200: z.object({ status: z.literal(AnswerStatus.PUBLISHED), notificationsOwed: z.number().int() }), ...errors },
      },
    },
    async (req) => publishAnswer(deps, req.staff!.id, req.params.id, req.body ?? {}),
  );

  app.post(
    '/answers/:id/reject',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Reject an answer',
        description: 'Never shown publicly (withdrawn if it was published); emails not yet sent are dropped. Audited.',
        tags: ['admin'],
        params: idParam,
        response: { 200: z.object({ status: z.literal(AnswerStatus.REJECTED) }), ...errors },
      },
    },
    async (req) => rejectAnswer(deps, req.staff!.id, req.params.id),
  );

  app.get(
    '/answers/:id/attachments/:attachmentId',
    {
      config: { roles: READ },
      schema: {
        summary: 'Download an attachment of an answer',
        tags: ['admin'],
        params: z.object({ id: z.string().max(64), attachmentId: z.string().max(64) }),
        response: { 200: z.any().describe('the file, as a download'), ...errors },
      },
    },
    async (req, reply) => {
      const f = await getAttachment(a.pool, req.params.id, req.params.attachmentId, { publishedOnly: false });
      return sendAttachment(reply, f);
    },
  );
};
