// Fraud and moderation: preview and bulk-invalidate signatures matching a filter; list the
// public wall of an action and hide or show an entry. All WRITE (campaigners and admins): a
// preview answers whether an address, a name or a domain signed an action, which is a look at
// personal data, so viewers may not, every look is audited (fraud.service.ts), and every
// filter names its action.
import { isIP } from 'node:net';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DashboardService } from '../../../insight/dashboard.service.ts';
import { invalidateFraud, listWall, previewFraud, setWallHidden, type FraudDeps } from '../../../insight/fraud.service.ts';
import { errorSchema } from '../schemas.ts';
import { WRITE, type AdminDeps } from './roles.ts';
import { SignatureStatus } from '../../../db/db.ts';

/** Form fields arrive as '' when left empty: that means "not set". */
const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' || v === null ? undefined : v), schema.optional());
const hash = (what: string) => z.string().regex(/^[0-9a-f]{32}$/, `${what} is 32 lower-case hex characters, as shown in a preview`);
const ip = (what: string) => z.string().trim().max(64).refine((v) => isIP(v) !== 0, `${what} must be an IPv4 or IPv6 address`);

export const fraudFilter = z.object({
  actionId: z.preprocess(
    (v) => (v === '' || v === null ? undefined : v),
    z.uuid({ error: (iss) => (iss.input === undefined ? 'actionId is required: choose the action to search' : 'actionId must be an action id (a UUID)') }),
  ),
  ip: opt(ip('ip')).describe('an address: hashed with the signing key and compared with ip_hash; never stored'),
  ipHash: opt(hash('ipHash')),
  network: opt(ip('network')).describe('any address in the /24 (IPv4) or /64 (IPv6) network; hashed, never stored'),
  netHash: opt(hash('netHash')),
  emailDomain: opt(
    z
      .string()
      .trim()
      .toLowerCase()
      .max(253)
      .regex(/^@?[\p{L}\p{N}-]+(\.[\p{L}\p{N}-]+)+$/u, 'emailDomain is a domain such as example.org'),
  ),
  from: opt(z.coerce.date({ error: 'from must be a date' })),
  to: opt(z.coerce.date({ error: 'to must be a date' })),
  namePattern: opt(
    z
      .string()
      .trim()
      .min(2, 'namePattern needs at least 2 characters')
      .max(100)
      .regex(/^[^\p{Cc}]*$/u, 'namePattern must not contain control characters'),
  ),
  status: opt(z.enum([SignatureStatus.PENDING, SignatureStatus.CONFIRMED])),
});

const sampleRow = z.object({
  id: z.string(),
  actionSlug: z.string(),
  createdAt: z.string(),
  status: z.enum([SignatureStatus.PENDING, SignatureStatus.CONFIRMED]),
  firstName: z.string().nullable(),
  emailDomain: z.string().nullable(),
  country: z.string(),
  source: z.string().nullable(),
  ipHash: z.string().nullable(),
  netHash: z.string().nullable(),
});
const cluster = z.array(z.object({ value: z.string(), count: z.number().int() }));
const wallEntry = z.object({ signatureId: z.string(), firstName: z.string(), country: z.string(), confirmedAt: z.string(), hiddenAt: z.string().nullable() });

export const fraudRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const { admin } = opts;
  const deps: FraudDeps = { pool: admin.pool, secret: admin.secret, clock: admin.clock };
  const dashboard = (admin.dashboard ??= new DashboardService(admin.pool, admin.clock));
  /** the public counts and wall come from the cache: reload it so the correction shows at once */
  const refreshPublic = () => {
    dashboard.forget();
    return admin.cache.refresh().catch(() => {});
  };

  app.get(
    '/fraud/signatures',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Preview the signatures a fraud filter matches',
        description:
          'Campaigners and admins. Counts pending and confirmed signatures of one action (`actionId`, required) matching every given criterion, made up to now (`asOf`), with a sample of at most 20 (first name and email domain only, never a full address) and the most frequent address hashes, networks and domains among them. Each preview is audited (`fraud_previewed`, with the filter as the invalidation keeps it, the count and the signatures shown).',
        tags: ['admin'],
        querystring: fraudFilter,
        response: {
          200: z.object({
            count: z.number().int(),
            asOf: z.string(),
            sample: z.array(sampleRow),
            clusters: z.object({ ipHash: cluster, netHash: cluster, emailDomain: cluster }),
          }),
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (req) => previewFraud(deps, req.staff!.id, req.query),
  );

  app.post(
    '/fraud/invalidate',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Invalidate every signature a fraud filter matches',
        description:
          'Repeats the preview with its `asOf`; if the count is not `expectedCount`, changes nothing (409 `count_changed`). Otherwise invalidates them all in one transaction, takes the counted ones out of the public counts, and writes one audit entry with the filter and the count.',
        tags: ['admin'],
        body: z.object({
          filter: fraudFilter,
          asOf: z.coerce.date({ error: 'asOf must be the asOf of a preview' }),
          expectedCount: z.coerce.number().int().min(1, 'expectedCount must be the count of a preview (at least 1)'),
          reason: z
            .string()
            .trim()
            .min(1)
            .max(200)
            .regex(/^[^\p{Cc}]*$/u, 'reason must be one line')
            .default('fraud'),
        }),
        response: {
          200: z.object({ invalidated: z.number().int(), uncounted: z.number().int() }),
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          409: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (req) => {
      const result = await invalidateFraud(deps, req.staff!.id, req.body);
      await refreshPublic();
      return result;
    },
  );

  app.get(
    '/fraud/wall',
    {
      config: { roles: WRITE },
      schema: {
        summary: "An action's public wall, for moderation",
        description:
          'Campaigners and admins. The latest 100 confirmed signers who chose to appear on the wall, newest first, with whether staff have hidden them (hidden ones are not public). Audited (`wall_listed`).',
        tags: ['admin'],
        querystring: z.object({ actionId: z.uuid({ error: 'actionId must be an action id (a UUID)' }) }),
        response: { 200: z.object({ entries: z.array(wallEntry) }), 401: errorSchema, 403: errorSchema, 404: errorSchema, 422: errorSchema },
      },
    },
    async (req) => ({ entries: await listWall(deps, req.staff!.id, req.query.actionId) }),
  );

  for (const verb of ['hide', 'show'] as const) {
    app.post(
      `/fraud/wall/:signatureId/${verb}`,
      {
        config: { roles: WRITE },
        schema: {
          summary: verb === 'hide' ? "Hide a signer's entry on the public wall" : "Show a hidden entry on the public wall again",
          tags: ['admin'],
          params: z.object({ signatureId: z.uuid({ error: 'signatureId must be a signature id (a UUID)' }) }),
          response: { 200: wallEntry, 401: errorSchema, 403: errorSchema, 404: errorSchema, 422: errorSchema },
        },
      },
      async (req) => {
        const entry = await setWallHidden(deps, req.staff!.id, req.params.signatureId, verb === 'hide');
        await refreshPublic();
        return entry;
      },
    );
  }
};
