// Integrations in the staff console (admins only): API keys for integrators and webhook
// endpoints. The secret of a new key or endpoint is in the answer to its creation and nowhere
// else, ever; deliveries can be looked at and sent again.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiKeyInputSchema, apiKeySchema, createApiKey, listApiKeys, revokeApiKey } from '../../../integration/api-key.service.ts';
import {
  createEndpoint,
  deliverySchema,
  disableEndpoint,
  endpointInputSchema,
  endpointSchema,
  listDeliveries,
  listEndpoints,
  replayDelivery,
} from '../../../webhook/webhook.service.ts';
import { outboundPolicy } from '../../../shared/outbound.ts';
import { errorSchema } from '../schemas.ts';
import { ADMIN_ONLY, type AdminDeps } from './roles.ts';

const idParam = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });
const errors = { 401: errorSchema, 403: errorSchema, 422: errorSchema };

export const integrationRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const { pool, clock, secret } = opts.admin;
  const outbound = outboundPolicy(opts.admin.webhookAllowPrivate ?? []);

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

  app.get(
    '/webhooks',
    {
      config: { roles: ADMIN_ONLY },
      schema: { summary: 'Webhook endpoints (no secrets)', tags: ['admin'], response: { 200: z.object({ endpoints: z.array(endpointSchema) }), ...errors } },
    },
    async () => ({ endpoints: await listEndpoints(pool) }),
  );

  app.post(
    '/webhooks',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'Register a webhook endpoint',
        description:
          'Answers the signing secret once (`secret`); it is kept encrypted. Audited. An endpoint on a loopback, private, link-local, shared, multicast or reserved address (or a name resolving to one) is refused with 422 unless WEBHOOK_ALLOW_PRIVATE lists it; every delivery checks again.',
        tags: ['admin'],
        body: endpointInputSchema,
        response: { 201: z.object({ endpoint: endpointSchema, secret: z.string().describe('shown once: the HMAC key') }), ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await createEndpoint(pool, secret, req.body, req.staff!.id, outbound)),
  );

  app.post(
    '/webhooks/:id/disable',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'Disable a webhook endpoint',
        description: 'No more events are recorded or sent to it. Audited.',
        tags: ['admin'],
        params: idParam,
        response: { 200: z.object({ endpoint: endpointSchema }), 404: errorSchema, ...errors },
      },
    },
    async (req) => ({ endpoint: await disableEndpoint(pool, req.params.id, req.staff!.id, clock()) }),
  );

  app.get(
    '/webhooks/deliveries',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'Recent webhook deliveries with every attempt',
        tags: ['admin'],
        querystring: z.object({ endpointId: z.uuid({ error: 'endpointId must be a UUID' }).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }),
        response: { 200: z.object({ deliveries: z.array(deliverySchema) }), ...errors },
      },
    },
    async (req) => ({ deliveries: await listDeliveries(pool, req.query) }),
  );

  app.post(
    '/webhooks/deliveries/:id/replay',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'Send a webhook delivery again',
        description: 'Whatever became of it, it is owed again with a fresh budget of attempts, and sent within a couple of seconds. Audited.',
        tags: ['admin'],
        params: idParam,
        response: { 202: z.object({ status: z.literal('queued') }), 404: errorSchema, ...errors },
      },
    },
    async (req, reply) => {
      await replayDelivery(pool, req.params.id, req.staff!.id, clock());
      return reply.code(202).send({ status: 'queued' as const });
    },
  );
};
