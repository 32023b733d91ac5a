// Public counts for live counters on other sites: answered from the ActionCache in memory (no
// query per request), cacheable (max-age and an ETag; a matching If-None-Match gets 304), and
// open to any origin (CORS *), since they are public anyway.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ActionCache } from '../../action/action.service.ts';
import { notFound } from '../../shared/errors.ts';
import { errorSchema, slugParam } from './schemas.ts';
import { ActionStatus } from '../../db/db.ts';

const actionCount = z.object({
  slug: z.string(),
  count: z.number().int().describe('confirmed signatures'),
  goal: z.number().int(),
  status: z.enum(ActionStatus),
});

/** Sends body with a strong ETag of its bytes, or 304 when the client has it already. */
function cached(req: FastifyRequest, reply: FastifyReply, body: unknown) {
  const json = JSON.stringify(body);
  const etag = `"${createHash('sha1').update(json).digest('base64url').slice(0, 22)}"`;
  reply
    .header('access-control-allow-origin', '*')
    .header('cache-control', 'public, max-age=5, stale-while-revalidate=5')
    .header('etag', etag);
  const given = req.headers['if-none-match'];
  if (typeof given === 'string' && given.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    return reply.code(304).send();
  }
  return reply.type('application/json; charset=utf-8').send(json);
}

export const countRoutes: FastifyPluginAsyncZod<{ cache: ActionCache }> = async (app, opts) => {
  app.get(
    '/counts',
    {
      schema: {
        summary: 'Live counts of every public action, and the total',
        description: 'From memory, refreshed several times a second; `Cache-Control: max-age=5` and an ETag (304 on `If-None-Match`). CORS open.',
        tags: ['counts'],
        response: { 200: z.object({ total: z.number().int(), actions: z.array(actionCount) }), 304: z.null().describe('Not modified') },
      },
    },
    async (req, reply) => {
      const actions = opts.cache
        .list()
        .map((a) => ({ slug: a.slug, count: opts.cache.count(a.id), goal: a.goal, status: a.status }))
        .sort((x, y) => x.slug.localeCompare(y.slug));
      return cached(req, reply, { total: actions.reduce((n, a) => n + a.count, 0), actions });
    },
  );

  app.get(
    '/counts/:slug',
    {
      schema: {
        summary: 'The live count of one action',
        description: 'As `/api/counts`, for one action.',
        tags: ['counts'],
        params: slugParam,
        response: { 200: actionCount, 304: z.null().describe('Not modified'), 404: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      const a = await opts.cache.find(req.params.slug);
      if (!a) throw notFound('action_not_found', `No action is published at "${req.params.slug}"`);
      return cached(req, reply, { slug: a.slug, count: opts.cache.count(a.id), goal: a.goal, status: a.status });
    },
  );
};
