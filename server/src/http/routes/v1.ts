// The integrator API, versioned: /api/v1. Every route needs an API key (Authorization: Bearer)
// with the scope it names; each key has its own rate limit. Actions and counts come from the
// in-memory ActionCache; signatures are read from the database page by page.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import { isSigningOpen, publicCountryFields as publicCountryFieldsOf, textFor, type ActionCache } from '../../action/action.service.ts';
import type { ActionRow } from '../../action/action.repository.ts';
import { integratorClient, requireApiKey, signerIpSchema, type ApiKeyDeps } from '../../integration/api-key.service.ts';
import { actionIdBySlug, listSignatures, syncedSignatureSchema, syncQuerySchema } from '../../integration/sync.service.ts';
import { notFound } from '../../shared/errors.ts';
import { setSigningByApiKey } from '../../action/action.signing.service.ts';
import { signAcceptedSchema, signInputSchema } from '../../signature/signature.schema.ts';
import { sign, type SignatureDeps } from '../../signature/signature.service.ts';
import type { AbuseGuard } from '../../abuse/abuse.service.ts';
import { errorSchema, localeQuery, publicCountryFields, slugParam } from './schemas.ts';
import { ActionKind, ActionStatus } from '../../db/db.ts';

export const v1ActionSchema = z.object({
  slug: z.string(),
  kind: z.enum(ActionKind),
  status: z.enum(ActionStatus),
  title: z.string(),
  summary: z.string(),
  locale: z.string(),
  locales: z.array(z.string()),
  goal: z.number().int(),
  count: z.number().int().describe('confirmed signatures (updated within about a second)'),
  signingOpen: z.boolean(),
  publishedAt: z.string().nullable(),
  url: z.string().describe('the public page'),
  campaign: z.object({ slug: z.string(), name: z.string() }),
});

const authErrors = { 401: errorSchema, 403: errorSchema, 422: errorSchema, 429: errorSchema };

export interface V1Deps {
  keys: ApiKeyDeps;
  cache: ActionCache;
  /** the same deps as the public form's, abuse limits included (required: no path may skip them) */
  signatures: Omit<SignatureDeps, 'log'> & { abuse: AbuseGuard };
  publicBaseUrl: string;
}

/** Our form's body, and the signer's own address if the integrator has it. */
const recordInputSchema = signInputSchema.extend({ signerIp: signerIpSchema.optional() });

export function toV1Action(cache: ActionCache, a: ActionRow, locale: string, publicBaseUrl: string): z.infer<typeof v1ActionSchema> {
  const text = textFor(a, locale);
  const lang = text?.locale ?? a.defaultLocale;
  return {
    slug: a.slug,
    kind: a.kind,
    status: a.status,
    title: text?.title ?? a.slug,
    summary: text?.summary ?? '',
    locale: lang,
    locales: a.texts.map((t) => t.locale).sort(),
    goal: a.goal,
    count: cache.count(a.id),
    signingOpen: isSigningOpen(a),
    publishedAt: a.publishedAt ? new Date(a.publishedAt).toISOString() : null,
    url: `${publicBaseUrl}${lang === 'en' ? '' : `/${lang}`}/actions/${a.slug}`,
    campaign: { slug: a.campaign.slug, name: a.campaign.names[lang] ?? a.campaign.names[a.defaultLocale] ?? a.campaign.slug },
  };
}

export const v1Routes: FastifyPluginAsyncZod<V1Deps> = async (app, opts) => {
  const guard = (...scopes: Parameters<typeof requireApiKey>[1][]) => requireApiKey(opts.keys, ...scopes) as onRequestHookHandler;
  const security = [{ apiKey: [] }];
  app.addHook('onSend', async (_req, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  app.get(
    '/actions',
    {
      onRequest: guard('read_public'),
      schema: {
        summary: 'Published and closed actions with their counts',
        description: 'Scope `read_public`.',
        tags: ['integrations'],
        security,
        querystring: localeQuery,
        response: { 200: z.object({ actions: z.array(v1ActionSchema) }), ...authErrors },
      },
    },
    async (req) => ({
      actions: opts.cache.list().map((a) => toV1Action(opts.cache, a, req.query.locale ?? a.defaultLocale, opts.publicBaseUrl)),
    }),
  );

  app.get(
    '/actions/:slug',
    {
      onRequest: guard('read_public'),
      schema: {
        summary: 'One action with its count and the countries of its signers',
        description: 'Scope `read_public`.',
        tags: ['integrations'],
        security,
        params: slugParam,
        querystring: localeQuery,
        response: {
          200: v1ActionSchema.extend(publicCountryFields),
          404: errorSchema,
          ...authErrors,
        },
      },
    },
    async (req) => {
      const a = await opts.cache.find(req.params.slug);
      if (!a) throw notFound('action_not_found', `No action is published at "${req.params.slug}"`);
      return { ...toV1Action(opts.cache, a, req.query.locale ?? a.defaultLocale, opts.publicBaseUrl), ...publicCountryFieldsOf(opts.cache.publicCountries(a.id)) };
    },
  );

  const page = z.object({ signatures: z.array(syncedSignatureSchema), nextCursor: z.string().nullable() });

  app.get(
    '/actions/:slug/signatures',
    {
      onRequest: guard('read_signatures'),
      schema: {
        summary: 'Confirmed signatures of an action, for incremental sync',
        description:
          'Scope `read_signatures`. Oldest change first. Page with `cursor` = the previous `nextCursor` until it is null. ' +
          'For the next sync pass `since` = the largest `updatedAt` you saw, minus a minute (changes committed at the same ' +
          'moment may land just behind it); records seen twice are the same record, dedupe by `id`. ' +
          'Contact data (`person`) is given only where the signer agreed to be contacted. IP data is never given.',
        tags: ['integrations'],
        security,
        params: slugParam,
        querystring: syncQuerySchema,
        response: { 200: page, 404: errorSchema, ...authErrors },
      },
    },
    async (req) => {
      const actionId = await actionIdBySlug(opts.keys.pool, req.params.slug);
      return listSignatures(opts.keys.pool, { actionId, ...req.query });
    },
  );

  app.get(
    '/signatures',
    {
      onRequest: guard('read_signatures'),
      schema: {
        summary: 'Confirmed signatures of every action, for incremental sync',
        description: 'Scope `read_signatures`. As `/api/v1/actions/{slug}/signatures`, across all actions.',
        tags: ['integrations'],
        security,
        querystring: syncQuerySchema,
        response: { 200: page, ...authErrors },
      },
    },
    async (req) => listSignatures(opts.keys.pool, req.query),
  );

  app.post(
    '/actions/:slug/signatures',
    {
      onRequest: guard('write_signatures'),
      schema: {
        summary: 'Record a signature collected on your site',
        description:
          'Scope `write_signatures`. The same body, consents and double opt-in as our own form: the signer is emailed a ' +
          'confirmation link and nothing counts until they confirm. `source` defaults to the key prefix. The answer is ' +
          'the same whether or not the address had signed before. The same abuse limits as our form apply, silently: ' +
          'past the per-address limit the signature is stored invalidated and never emailed; past the per-email limit ' +
          '(confirmation emails per address) it is kept pending and its email waits its turn. The client ' +
          'address is `signerIp` when you pass it, else your server. Each key may record `SIGN_LIMIT_PER_API_KEY` ' +
          'signatures per 10 minutes; beyond that, 429 `signing_rate_limited` with Retry-After and nothing is stored.',
        tags: ['integrations'],
        security,
        params: slugParam,
        body: recordInputSchema,
        response: { 202: signAcceptedSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema, ...authErrors },
      },
    },
    async (req, reply) => {
      const { signerIp, ...input } = req.body;
      const body = { ...input, source: input.source || req.apiKey?.prefix };
      await sign({ ...opts.signatures, log: req.log }, req.params.slug, body, integratorClient(req, signerIp));
      return reply.code(202).send({ status: 'received', message: 'The signer has been emailed a confirmation link.' });
    },
  );

  app.post(
    '/actions/:slug/signing',
    {
      onRequest: guard('manage_actions'),
      schema: {
        summary: 'Pause or resume signing on an action',
        description:
          'Scope `manage_actions`. `{ "open": false }` pauses signing (the form answers 409 `signing_paused`), `{ "open": true }` ' +
          'resumes it. Audited, with the key prefix. Changes take effect within a second or two on every server.',
        tags: ['integrations'],
        security,
        params: slugParam,
        body: z.strictObject({ open: z.boolean({ error: 'open must be true or false' }) }).meta({ examples: [{ open: false }] }),
        response: { 200: v1ActionSchema, 404: errorSchema, ...authErrors },
      },
    },
    async (req) => {
      const changed = await setSigningByApiKey(opts.keys.pool, req.params.slug, req.body.open, req.apiKey?.prefix);
      if (!changed) throw notFound('action_not_found', `No action is published at "${req.params.slug}"`);
      await opts.cache.refresh();
      const a = await opts.cache.find(req.params.slug);
      if (!a) throw notFound('action_not_found', `No action is published at "${req.params.slug}"`);
      return toV1Action(opts.cache, a, a.defaultLocale, opts.publicBaseUrl);
    },
  );
};
