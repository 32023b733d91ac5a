// Abuse alerts for staff: sources (and client networks, by keyed IP hash) whose signing rate
// jumped in the last hour. Read-only; nothing is blocked by an alert.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { trendingSources } from '../../../abuse/abuse.service.ts';
import { errorSchema } from '../schemas.ts';
import { READ, type AdminDeps } from './roles.ts';

const alertSchema = z.object({
  kind: z.enum(['source', 'network']).describe('source: the `source` tag of the signing links; network: one client address, by a prefix of its keyed hash'),
  action: z.object({ slug: z.string() }),
  subject: z.string().nullable().describe('the source tag (null: signed without one), or the hash prefix'),
  lastHour: z.number().int(),
  baselinePerHour: z.number(),
  flagged: z.number().int().describe('of lastHour, stored invalidated (rate limits, honeypot)'),
});

export const alertRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const { pool, clock } = opts.admin;
  app.get(
    '/alerts',
    {
      config: { roles: READ },
      schema: {
        summary: 'Trending sources: signing rates that jumped',
        description:
          'Sources and client networks with at least `min` signatures in the last hour and at least `factor` times their hourly average over the 24 hours before.',
        tags: ['admin'],
        querystring: z.object({
          min: z.coerce.number().int().min(1).max(1_000_000).default(50),
          factor: z.coerce.number().min(1).max(1000).default(5),
        }),
        response: { 200: z.object({ generatedAt: z.date(), alerts: z.array(alertSchema) }), 401: errorSchema, 403: errorSchema, 422: errorSchema },
      },
    },
    async (req) => {
      const now = clock();
      return { generatedAt: now, alerts: await trendingSources(pool, now, { minLastHour: req.query.min, factor: req.query.factor }) };
    },
  );
};
