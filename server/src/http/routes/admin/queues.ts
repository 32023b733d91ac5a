// The queue view (admins): what BullMQ holds in Redis for each queue, next to what the database
// says is owed, so an admin can see at a glance whether the workers keep up, and pause or
// resume a queue. Job data carries ids only (queue.ts), so nothing personal is shown.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Job, Queue } from 'bullmq';
import { z } from 'zod';
import { AppError } from '../../../shared/errors.ts';
import { errorSchema } from '../schemas.ts';
import { createWebhookQueue } from '../../../webhook/webhook.queue.ts';
import { owedWork, switchQueue } from '../../../queue/queue.admin.service.ts';
import { ADMIN_ONLY, type AdminDeps } from './roles.ts';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

const jobSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  data: z.record(z.string(), z.unknown()),
  attemptsMade: z.number(),
  createdAt: z.date(),
  processedAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
  runAt: z.date().nullable().describe('for delayed jobs: when they become due'),
  failedReason: z.string().nullable(),
});

const queueSchema = z.object({
  name: z.string(),
  paused: z.boolean(),
  workers: z.number().int(),
  counts: z.record(z.string(), z.number()),
  jobs: z.array(jobSchema),
});

const viewSchema = z.object({
  queues: z.array(queueSchema),
  owed: z.object({
    confirmations: z.number().int().describe('confirmation emails the database says are owed'),
    letters: z.number().int().describe('letters PENDING or SUBMITTING in the database'),
    lettersDue: z.number().int().describe('of those, due now'),
  }),
});

const nameParam = z.strictObject({ name: z.string().max(60).regex(/^[a-z0-9-]+$/, 'name is a queue name such as chorus-mail') });

export const queueRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const deps = opts.admin;
  // the webhook queue lives beside the others (webhook.queue.ts); this view opens its own handle
  const webhooks = deps.queues ? createWebhookQueue(deps.redis.duplicate({ maxRetriesPerRequest: null })) : null;
  if (webhooks) app.addHook('onClose', async () => webhooks.close());

  function queuesOf(): Queue[] {
    if (!deps.queues || !webhooks) throw new AppError(503, 'queues_unavailable', 'This server process has no job queues');
    return [deps.queues.mail, deps.queues.delivery, webhooks] as Queue[];
  }

async function describeJob(job: Job, state: string) {
  return {
    id: String(job.id),
    name: job.name,
    state,
    // ids only (see queue.ts); anything else is dropped rather than shown
    data: Object.fromEntries(Object.entries((job.data ?? {}) as Record<string, unknown>).filter(([k]) => /id$|^kind$/i.test(k))),
    attemptsMade: job.attemptsMade,
    createdAt: new Date(job.timestamp),
    processedAt: job.processedOn ? new Date(job.processedOn) : null,
    finishedAt: job.finishedOn ? new Date(job.finishedOn) : null,
    runAt: state === 'delayed' ? new Date(job.timestamp + (job.delay ?? 0)) : null,
    failedReason: job.failedReason ?? null,
  };
}

  app.get(
    '/queues',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'The job queues (admin)',
        description: 'Counts by state, connected workers and the latest jobs of each queue, with what the database says is owed.',
        tags: ['admin'],
        response: { 200: viewSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema },
      },
    },
    async () => {
      const queues = await Promise.all(
        queuesOf().map(async (q) => {
          const [counts, paused, workers, active, waiting, delayed, failed, completed] = await Promise.all([
            q.getJobCounts(...STATES),
            q.isPaused(),
            q.getWorkersCount(),
            q.getActive(0, 9),
            q.getWaiting(0, 9),
            q.getDelayed(0, 9),
            q.getFailed(0, 9),
            q.getCompleted(0, 9),
          ]);
          const jobs = await Promise.all([
            ...active.map((j) => describeJob(j, 'active')),
            ...failed.map((j) => describeJob(j, 'failed')),
            ...waiting.map((j) => describeJob(j, 'waiting')),
            ...delayed.map((j) => describeJob(j, 'delayed')),
            ...completed.map((j) => describeJob(j, 'completed')),
          ]);
          return { name: q.name, paused, workers, counts, jobs };
        }),
      );
      return { queues, owed: await owedWork(deps.pool) };
    },
  );

  for (const verb of ['pause', 'resume'] as const) {
    app.post(
      `/queues/:name/${verb}`,
      {
        config: { roles: ADMIN_ONLY },
        schema: {
          summary: `${verb === 'pause' ? 'Pause' : 'Resume'} a job queue (admin)`,
          description:
            verb === 'pause'
              ? 'Workers stop taking new jobs from this queue (jobs in progress finish). Nothing is lost: the jobs wait.'
              : 'Workers take jobs from this queue again.',
          tags: ['admin'],
          params: nameParam,
          response: { 200: z.object({ name: z.string(), paused: z.boolean() }), 401: errorSchema, 403: errorSchema, 404: errorSchema, 503: errorSchema },
        },
      },
      async (req) => {
        const queue = queuesOf().find((q) => q.name === req.params.name);
        if (!queue) throw new AppError(404, 'queue_not_found', `No queue named ${req.params.name}`);
        return switchQueue(deps.pool, queue, req.staff!.id, verb);
      },
    );
  }
};
