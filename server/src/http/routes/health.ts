// Liveness (/healthz: the process answers) and readiness (/readyz: PostgreSQL and Redis answer
// within 2 s each). The checks themselves come from app.ts: this file holds no queries.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

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

export interface HealthChecks {
  /** resolves when PostgreSQL answers a query */
  postgres: () => Promise<unknown>;
  /** resolves when Redis answers a PING */
  redis: () => Promise<unknown>;
}

export const healthRoutes: FastifyPluginAsyncZod<{ checks: HealthChecks }> = async (app, opts) => {
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
        probe(opts.checks.postgres, 2_000),
        probe(opts.checks.redis, 2_000),
      ]);
      const ok = postgres && redis;
      if (!ok) reply.code(503).header('retry-after', '5');
      return { status: ok ? ('ready' as const) : ('unavailable' as const), postgres, redis };
    },
  );
};
