import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirm, viewConfirmation, type SignatureDeps } from '../../signature/signature.service.ts';
import { errorSchema, localeQuery } from './schemas.ts';

const tokenParam = z.object({ token: z.string().max(512) });
const actionRef = z.object({ slug: z.string(), title: z.string() });

export const confirmationRoutes: FastifyPluginAsyncZod<{ signatures: Omit<SignatureDeps, 'log'> }> = async (app, opts) => {
  const deps = () => ({ ...opts.signatures, log: app.log });

  app.get(
    '/confirmations/:token',
    {
      schema: {
        summary: 'Look at a confirmation link without confirming',
        description: 'Safe for link scanners: reading never confirms. POST to the same path confirms.',
        tags: ['signatures'],
        params: tokenParam,
        querystring: localeQuery,
        response: { 200: z.object({ status: z.enum(['pending', 'confirmed']), action: actionRef }), 404: errorSchema, 410: errorSchema },
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
        description: 'Idempotent: confirming twice answers already_confirmed.',
        tags: ['signatures'],
        params: tokenParam,
        querystring: localeQuery,
        response: {
          200: z.object({ status: z.enum(['confirmed', 'already_confirmed']), action: actionRef }),
          404: errorSchema,
          410: errorSchema,
        },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      const result = await confirm(deps(), req.params.token, req.query.locale);
      // the public count of this process shows the confirmation at once (action.service.ts)
      if (result.status === 'confirmed') opts.signatures.cache.confirmed(result.action.slug);
      if (req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
        const prefix = req.query.locale && req.query.locale !== 'en' ? `/${req.query.locale}` : '';
        return reply.redirect(`${prefix}/actions/${result.action.slug}/thanks?confirmed=1`, 303);
      }
      return result;
    },
  );
};
