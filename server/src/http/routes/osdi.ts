// OSDI entry point and resources under /api/osdi/v1, HAL+JSON, authenticated with the same API
// keys (Authorization: Bearer or OSDI-API-Token). Read-only except the two record helpers,
// which go through our signing form: same consents, same double opt-in.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import type { ActionCache } from '../../action/action.service.ts';
import { integratorClient, requireApiKey, type ApiKeyDeps, type ApiScope } from '../../integration/api-key.service.ts';
import * as osdi from '../../integration/osdi.service.ts';
import { AppError, notFound } from '../../shared/errors.ts';
import { issueCode } from '../../shared/issues.ts';
import { signInputSchema } from '../../signature/signature.schema.ts';
import { sign, type SignatureDeps } from '../../signature/signature.service.ts';
import type { AbuseGuard } from '../../abuse/abuse.service.ts';
import { errorSchema } from './schemas.ts';
import { ActionKind } from '../../db/db.ts';

export interface OsdiDeps {
  keys: ApiKeyDeps;
  cache: ActionCache;
  /** the same deps as the public form's, abuse limits included (required: no path may skip them) */
  signatures: Omit<SignatureDeps, 'log'> & { abuse: AbuseGuard };
  publicBaseUrl: string;
}

const HAL = 'application/hal+json';
const hal = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { [HAL]: { schema } } });
const errors = { 401: errorSchema, 403: errorSchema, 404: errorSchema, 422: errorSchema, 429: errorSchema };

/** our form's field names, as the OSDI body names them (for 422 issues) */
const FIELD: Record<string, string> = {
  firstName: 'person.given_name',
  lastName: 'person.family_name',
  email: 'person.email_addresses',
  country: 'person.postal_addresses.country',
  locale: 'person.languages_spoken',
  source: 'referrer_data.source',
  letterSubject: 'subject',
  letterBody: 'message',
};

export const osdiRoutes: FastifyPluginAsyncZod<OsdiDeps> = async (app, opts) => {
  const h = new osdi.Hal(`${opts.publicBaseUrl}/api/osdi/v1`);
  const guard = (...scopes: ApiScope[]) => requireApiKey(opts.keys, ...scopes) as onRequestHookHandler;
  const security: { [scheme: string]: string[] }[] = [{ apiKey: [] }, { osdiToken: [] }];
  const send = (reply: FastifyReply, body: unknown) => reply.type(HAL).header('cache-control', 'no-store').send(body);
  const tags = ['osdi'];
  // OSDI clients may send HAL+JSON bodies
  app.addContentTypeParser(HAL, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.get(
    '/',
    {
      onRequest: guard(),
      schema: {
        summary: 'OSDI API entry point (AEP)',
        description: 'Links to every collection and helper. Any valid key.',
        tags,
        security,
        response: {
          200: hal(
            z.object({ motd: z.string(), max_pagesize: z.number().int(), vendor_name: z.string(), product_name: z.string(), osdi_version: z.string(), _links: z.record(z.string(), z.unknown()) }),
            'The entry point',
          ),
          ...errors,
        },
      },
    },
    async (_req, reply) =>
      send(reply, {
        motd: 'Chorus: petitions and letters to governments and inter-governmental bodies',
        max_pagesize: osdi.MAX_PAGESIZE,
        vendor_name: 'Chorus',
        product_name: 'Chorus',
        osdi_version: '1.0',
        _links: {
          curies: h.curies(),
          self: { ...h.href('/'), title: 'This API entry point' },
          'osdi:petitions': { ...h.href('/petitions'), title: 'The collection of petitions in the system' },
          'osdi:advocacy_campaigns': { ...h.href('/advocacy_campaigns'), title: 'The collection of advocacy campaigns (letter actions) in the system' },
          'osdi:people': { ...h.href('/people'), title: 'The people who agreed to be contacted' },
          'osdi:tags': { ...h.href('/tags'), title: 'The collection of tags (campaigns) in the system' },
          docs: { href: `${opts.publicBaseUrl}/api/docs`, title: 'Documentation' },
        },
      }),
  );

  // --- petitions and signatures ---
  app.get(
    '/petitions',
    {
      onRequest: guard('read_public'),
      schema: {
        summary: 'OSDI petitions (our petition actions)',
        description: 'Scope `read_public`. Published and closed petitions.',
        tags,
        security,
        querystring: osdi.pagingQuery,
        response: { 200: hal(osdi.collectionSchema('osdi:petitions', osdi.osdiPetitionSchema), 'A page of petitions'), ...errors },
      },
    },
    async (req, reply) => {
      const all = osdi.actionsOfKind(opts.cache, ActionKind.PETITION);
      const p = req.query;
      const items = all.slice((p.page - 1) * p.per_page, p.page * p.per_page).map((a) => osdi.toPetition(h, opts.cache, a, opts.publicBaseUrl));
      return send(reply, h.collection('/petitions', 'osdi:petitions', items, all.length, p));
    },
  );

  app.get(
    '/petitions/:id',
    {
      onRequest: guard('read_public'),
      schema: { summary: 'One OSDI petition', tags, security, params: osdi.uuidParam, response: { 200: hal(osdi.osdiPetitionSchema, 'The petition'), ...errors } },
    },
    async (req, reply) => {
      const a = osdi.actionById(opts.cache, req.params.id, ActionKind.PETITION);
      if (!a) throw notFound('petition_not_found', 'No such petition');
      return send(reply, osdi.toPetition(h, opts.cache, a, opts.publicBaseUrl));
    },
  );

  app.get(
    '/petitions/:id/signatures',
    {
      onRequest: guard('read_signatures'),
      schema: {
        summary: 'OSDI signatures of a petition',
        description:
          'Scope `read_signatures`. Confirmed signatures, oldest change first; `filter=modified_date gt \'...\'` for incremental sync. ' +
          '`osdi:person` is linked only for people who agreed to be contacted.',
        tags,
        security,
        params: osdi.uuidParam,
        querystring: osdi.pagingQuery,
        response: { 200: hal(osdi.collectionSchema('osdi:signatures', osdi.osdiSignatureSchema), 'A page of signatures'), ...errors },
      },
    },
    async (req, reply) => {
      const a = osdi.actionById(opts.cache, req.params.id, ActionKind.PETITION);
      if (!a) throw notFound('petition_not_found', 'No such petition');
      const { rows, total } = await osdi.actionSignatures(opts.keys.pool, a.id, req.query);
      const items = rows.map((r) => osdi.toSignature(h, a.id, r));
      return send(reply, h.collection(`/petitions/${a.id}/signatures`, 'osdi:signatures', items, total, req.query));
    },
  );

  app.get(
    '/petitions/:id/signatures/:signatureId',
    {
      onRequest: guard('read_signatures'),
      schema: {
        summary: 'One OSDI signature',
        tags,
        security,
        params: osdi.uuidParam.extend({ signatureId: z.uuid({ error: 'signatureId must be a UUID' }) }),
        response: { 200: hal(osdi.osdiSignatureSchema, 'The signature'), ...errors },
      },
    },
    async (req, reply) => {
      const a = osdi.actionById(opts.cache, req.params.id, ActionKind.PETITION);
      const r = a && (await osdi.oneSignature(opts.keys.pool, a.id, req.params.signatureId));
      if (!a || !r) throw notFound('signature_not_found', 'No such confirmed signature');
      return send(reply, osdi.toSignature(h, a.id, r));
    },
  );

  // --- advocacy campaigns and outreaches ---
  app.get(
    '/advocacy_campaigns',
    {
      onRequest: guard('read_public'),
      schema: {
        summary: 'OSDI advocacy campaigns (our letter actions)',
        description: 'Scope `read_public`.',
        tags,
        security,
        querystring: osdi.pagingQuery,
        response: { 200: hal(osdi.collectionSchema('osdi:advocacy_campaigns', osdi.osdiAdvocacyCampaignSchema), 'A page of advocacy campaigns'), ...errors },
      },
    },
    async (req, reply) => {
      const all = osdi.actionsOfKind(opts.cache, ActionKind.LETTER);
      const p = req.query;
      const items = all.slice((p.page - 1) * p.per_page, p.page * p.per_page).map((a) => osdi.toAdvocacyCampaign(h, opts.cache, a, opts.publicBaseUrl));
      return send(reply, h.collection('/advocacy_campaigns', 'osdi:advocacy_campaigns', items, all.length, p));
    },
  );

  app.get(
    '/advocacy_campaigns/:id',
    {
      onRequest: guard('read_public'),
      schema: { summary: 'One OSDI advocacy campaign', tags, security, params: osdi.uuidParam, response: { 200: hal(osdi.osdiAdvocacyCampaignSchema, 'The advocacy campaign'), ...errors } },
    },
    async (req, reply) => {
      const a = osdi.actionById(opts.cache, req.params.id, ActionKind.LETTER);
      if (!a) throw notFound('advocacy_campaign_not_found', 'No such advocacy campaign');
      return send(reply, osdi.toAdvocacyCampaign(h, opts.cache, a, opts.publicBaseUrl));
    },
  );

  app.get(
    '/advocacy_campaigns/:id/outreaches',
    {
      onRequest: guard('read_signatures'),
      schema: {
        summary: 'OSDI outreaches of an advocacy campaign',
        description: 'Scope `read_signatures`. Confirmed letters of members, oldest change first. No message bodies.',
        tags,
        security,
        params: osdi.uuidParam,
        querystring: osdi.pagingQuery,
        response: { 200: hal(osdi.collectionSchema('osdi:outreaches', osdi.osdiOutreachSchema), 'A page of outreaches'), ...errors },
      },
    },
    async (req, reply) => {
      const a = osdi.actionById(opts.cache, req.params.id, ActionKind.LETTER);
      if (!a) throw notFound('advocacy_campaign_not_found', 'No such advocacy campaign');
      const { rows, total } = await osdi.actionSignatures(opts.keys.pool, a.id, req.query);
      const items = rows.map((r) => osdi.toOutreach(h, a, r));
      return send(reply, h.collection(`/advocacy_campaigns/${a.id}/outreaches`, 'osdi:outreaches', items, total, req.query));
    },
  );

  app.get(
    '/advocacy_campaigns/:id/outreaches/:outreachId',
    {
      onRequest: guard('read_signatures'),
      schema: {
        summary: 'One OSDI outreach',
        tags,
        security,
        params: osdi.uuidParam.extend({ outreachId: z.uuid({ error: 'outreachId must be a UUID' }) }),
        response: { 200: hal(osdi.osdiOutreachSchema, 'The outreach'), ...errors },
      },
    },
    async (req, reply) => {
      const a = osdi.actionById(opts.cache, req.params.id, ActionKind.LETTER);
      const r = a && (await osdi.oneSignature(opts.keys.pool, a.id, req.params.outreachId));
      if (!a || !r) throw notFound('outreach_not_found', 'No such confirmed outreach');
      return send(reply, osdi.toOutreach(h, a, r));
    },
  );

  // --- people and tags ---
  app.get(
    '/people',
    {
      onRequest: guard('read_signatures'),
      schema: {
        summary: 'OSDI people (only those who agreed to be contacted)',
        description: 'Scope `read_signatures`. People with a confirmed signature who agreed to be contacted and have not unsubscribed.',
        tags,
        security,
        querystring: osdi.pagingQuery,
        response: { 200: hal(osdi.collectionSchema('osdi:people', osdi.osdiPersonSchema), 'A page of people'), ...errors },
      },
    },
    async (req, reply) => {
      const { rows, total } = await osdi.people(opts.keys.pool, req.query);
      return send(reply, h.collection('/people', 'osdi:people', rows.map((r) => osdi.toPerson(h, r)), total, req.query));
    },
  );

  app.get(
    '/people/:id',
    {
      onRequest: guard('read_signatures'),
      schema: { summary: 'One OSDI person', tags, security, params: osdi.uuidParam, response: { 200: hal(osdi.osdiPersonSchema, 'The person'), ...errors } },
    },
    async (req, reply) => {
      const r = await osdi.onePerson(opts.keys.pool, req.params.id);
      if (!r) throw notFound('person_not_found', 'No such person (or they have not agreed to be contacted)');
      return send(reply, osdi.toPerson(h, r));
    },
  );

  app.get(
    '/tags',
    {
      onRequest: guard('read_public'),
      schema: {
        summary: 'OSDI tags (our campaigns)',
        description: 'Scope `read_public`.',
        tags,
        security,
        querystring: osdi.pagingQuery,
        response: { 200: hal(osdi.collectionSchema('osdi:tags', osdi.osdiTagSchema), 'A page of tags'), ...errors },
      },
    },
    async (req, reply) => {
      const all = osdi.campaignsAsTags(h, opts.cache);
      const p = req.query;
      return send(reply, h.collection('/tags', 'osdi:tags', all.slice((p.page - 1) * p.per_page, p.page * p.per_page), all.length, p));
    },
  );

  app.get(
    '/tags/:slug',
    {
      onRequest: guard('read_public'),
      schema: {
        summary: 'One OSDI tag',
        tags,
        security,
        params: z.object({ slug: z.string().max(80).regex(/^[a-z0-9][a-z0-9-]*$/, 'slug must be lower-case letters, digits and dashes') }),
        response: { 200: hal(osdi.osdiTagSchema, 'The tag'), ...errors },
      },
    },
    async (req, reply) => {
      const tag = osdi.campaignsAsTags(h, opts.cache).find((t) => t.identifiers[0] === `chorus_campaign:${req.params.slug}`);
      if (!tag) throw notFound('tag_not_found', 'No such tag');
      return send(reply, tag);
    },
  );

  // --- the record helpers ---
  const recordHelper = (kind: ActionKind) => async (
    req: { params: { id: string }; body: z.output<typeof osdi.recordHelperInput>; log: SignatureDeps['log'] } & Pick<FastifyRequest, 'clientIp' | 'apiKey'>,
    reply: FastifyReply,
  ) => {
    const a = osdi.actionById(opts.cache, req.params.id, kind);
    if (!a) throw notFound(kind === ActionKind.PETITION ? 'petition_not_found' : 'advocacy_campaign_not_found', 'No such action');
    const parsed = signInputSchema.safeParse(osdi.toSignForm(req.body));
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: FIELD[String(i.path[0])] ?? i.path.join('.'), code: issueCode(i), message: i.message }));
      throw new AppError(422, 'validation_failed', issues.map((i) => `${i.path}: ${i.message}`).join('; '), {}, issues);
    }
    const body = { ...parsed.data, source: parsed.data.source || req.apiKey?.prefix };
    await sign({ ...opts.signatures, log: req.log }, a.slug, body, integratorClient(req, req.body.signer_ip));
    // pending until the person confirms by email; the same answer for a person who had signed
    return reply.type(HAL).code(200).send({ notice: 'Recorded. The person has been emailed a link to confirm; nothing counts until they do.' });
  };
  const helperAnswer = { 200: hal(z.object({ notice: z.string() }), 'Recorded, pending the email confirmation'), 409: errorSchema, 503: errorSchema, ...errors };

  app.post(
    '/petitions/:id/record_signature_helper',
    {
      onRequest: guard('write_signatures'),
      schema: {
        summary: 'OSDI record signature helper',
        description:
          'Scope `write_signatures`. An OSDI person and the Chorus extension `consents` (with `count: true`) become a signature ' +
          'through our own form: the person is emailed a confirmation link and nothing counts until they confirm. The answer is ' +
          'the same whether or not the person had signed before, so it carries no signature. The abuse limits of our form ' +
          'apply (emails per address; per client address: the Chorus extension `signer_ip` when given, else your server) and each key ' +
          'may record `SIGN_LIMIT_PER_API_KEY` signatures per 10 minutes, then 429 `signing_rate_limited`.',
        tags,
        security,
        params: osdi.uuidParam,
        body: osdi.recordHelperInput,
        response: helperAnswer,
      },
    },
    recordHelper(ActionKind.PETITION),
  );

  app.post(
    '/advocacy_campaigns/:id/record_outreach_helper',
    {
      onRequest: guard('write_signatures'),
      schema: {
        summary: 'OSDI record outreach helper',
        description:
          'Scope `write_signatures`. As the record signature helper, for a letter action; `subject` and `message` become the ' +
          "member's own letter where the action allows personal letters.",
        tags,
        security,
        params: osdi.uuidParam,
        body: osdi.recordHelperInput,
        response: helperAnswer,
      },
    },
    recordHelper(ActionKind.LETTER),
  );
};
