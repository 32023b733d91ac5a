import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { z } from 'zod';
import type { ActionCache } from '../../action/action.service.ts';

async function probe(fn: () => Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsyncZod<{ pool: pg.Pool; redis: Redis; cache: ActionCache }> = async (app, opts) => {
  app.get(
    '/healthz',
    { schema: { summary: 'The process is up', tags: ['health'], response: { 200: z.object({ status: z.literal('ok') }) } }, logLevel: 'warn' },
    async () => ({ status: 'ok' as const }),
  );

  const readiness = z.object({ status: z.enum(['ready', 'unavailable']), postgres: z.boolean(), redis: z.boolean() });
  app.get(
    '/readyz',
    { schema: { summary: 'PostgreSQL and Redis are reachable', tags: ['health'], response: { 200: readiness, 503: readiness } }, logLevel: 'warn' },
    async (_req, reply) => {
      const [postgres, redis] = await Promise.all([
        probe(() => opts.pool.query('SELECT 1'), 2_000),
        probe(() => opts.redis.ping(), 2_000),
      ]);
      const ok = postgres && redis;
      if (!ok) reply.code(503).header('retry-after', '5');
      return { status: ok ? ('ready' as const) : ('unavailable' as const), postgres, redis };
    },
  );
};
