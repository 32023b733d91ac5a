// Integrations in the staff console (admins only): API keys for integrators. The secret of a
// new key is in the answer to its creation and nowhere else, ever.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeyInputSchema, apiKeySchema, createApiKey, listApiKeys, revokeApiKey } from '../../../integration/api-key.service.ts';
import { errorSchema } from '../schemas.ts';
import { ADMIN_ONLY, type AdminDeps } from './index.ts';

const idParam = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });
const errors = { 401: errorSchema, 403: errorSchema, 422: errorSchema };

export const integrationRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const { pool, clock } = opts.admin;

  app.get(
    '/api-keys',
    {
      config: { roles: ADMIN_ONLY },
      schema: { summary: 'API keys (no secrets)', tags: ['admin'], response: { 200: z.object({ keys: z.array(apiKeySchema) }), ...errors } },
    },
    async () => ({ keys: await listApiKeys(pool) }),
  );

  app.post(
    '/api-keys',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'Create an API key',
        description: 'Answers the secret once (`secret`); only its hash is kept. Audited.',
        tags: ['admin'],
        body: apiKeyInputSchema,
        response: { 201: z.object({ key: apiKeySchema, secret: z.string().describe('shown once: store it now') }), ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await createApiKey(pool, req.body, req.staff!.id)),
  );

  app.post(
    '/api-keys/:id/revoke',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'Revoke an API key',
        description: 'The key stops working at once. Repeating it changes nothing. Audited.',
        tags: ['admin'],
        params: idParam,
        response: { 200: z.object({ key: apiKeySchema }), 404: errorSchema, ...errors },
      },
    },
    async (req) => ({ key: await revokeApiKey(pool, req.params.id, req.staff!.id, clock()) }),
  );
};
