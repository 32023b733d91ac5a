// The dashboard: numbers staff watch while an action runs, overall and per action.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DashboardService } from '../../../insight/dashboard.service.ts';
import { errorSchema } from '../schemas.ts';
import { READ, type AdminDeps } from './roles.ts';
import { ActionKind, ActionStatus, LetterStatus } from '../../../db/db.ts';
import { LOCALES } from '../../../shared/locales.ts';

const query = z.object({
  range: z.enum(['minute', 'hour', 'day']).default('hour').describe('bucket size: the last 60 minutes, 48 hours or 30 days'),
  locale: z.enum(LOCALES).default('en').describe('language of the action titles'),
});

const counts = {
  confirmed: z.number().int(),
  pending: z.number().int(),
  invalidated: z.number().int(),
};
const totals = z.object({ ...counts, counted: z.number().int(), confirmationRate: z.number().nullable() });
const actionLine = totals.extend({
  id: z.string(),
  slug: z.string(),
  title: z.string(),
  kind: z.enum(ActionKind),
  status: z.enum(ActionStatus),
  goal: z.number().int(),
});
const base = {
  generatedAt: z.string(),
  range: z.enum(['minute', 'hour', 'day']),
  totals,
  series: z.array(z.object({ at: z.string(), ...counts })),
  countries: z
    .array(z.object({ country: z.string(), count: z.number().int() }))
    .describe('confirmed signatures by country; for a viewer, only the countries with at least PUBLIC_COUNTRY_MIN, as on the public page'),
  belowMinimum: z
    .object({ count: z.number().int(), min: z.number().int() })
    .nullable()
    .describe('for a viewer: the signatures of the countries with fewer than `min` (PUBLIC_COUNTRY_MIN) signers, counted together and left out of `countries`; null for campaigners and admins, who see every country'),
  sources: z.array(z.object({ source: z.string(), count: z.number().int() })),
  delivery: z.object({
    batches: z.number().int(),
    letters: z.object({ pending: z.number().int(), submitting: z.number().int(), sent: z.number().int(), failed: z.number().int(), bounced: z.number().int() }),
    signaturesDelivered: z.number().int(),
    opened: z.number().int(),
    waiting: z.number().int(),
    lastBatchAt: z.string().nullable(),
  }),
};
const ledgerEntry = z.object({
  date: z.string(),
  target: z.object({ name: z.string(), organisation: z.string() }),
  count: z.number().int(),
  accepted: z.boolean(),
  bounced: z.boolean(),
  opened: z.boolean(),
  answered: z.boolean(),
  status: z.enum(LetterStatus),
});

/**
 * What a viewer sees of the countries: as much as the public (PUBLIC_COUNTRY_MIN). A count of one
 * or two from a country is a person or two; a viewer (a volunteer, a partner) has no need of it.
 * Campaigners and admins, who can read the signatures themselves, see every country.
 */
function forRole<T extends { countries: { country: string; count: number }[] }>(d: T, role: string, min: number): T & { belowMinimum: { count: number; min: number } | null } {
  if (role !== 'VIEWER') return { ...d, belowMinimum: null };
  const shown = d.countries.filter((c) => c.count >= min);
  const hidden = d.countries.reduce((n, c) => (c.count >= min ? n : n + c.count), 0);
  return { ...d, countries: shown, belowMinimum: { count: hidden, min } };
}

export const dashboardRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const { admin } = opts;
  const service = (admin.dashboard ??= new DashboardService(admin.pool, admin.clock));

  app.get(
    '/dashboard',
    {
      config: { roles: READ },
      schema: {
        summary: 'Dashboard of every action',
        description: 'Totals by status, signatures over time, countries, sources and deliveries, with one line per action.',
        tags: ['admin'],
        querystring: query,
        response: { 200: z.object({ ...base, actions: z.array(actionLine) }), 401: errorSchema, 403: errorSchema, 422: errorSchema },
      },
    },
    async (req) => forRole(await service.overall(req.query.range, req.query.locale), req.staff!.role, admin.countryMin),
  );

  app.get(
    '/dashboard/actions/:id',
    {
      config: { roles: READ },
      schema: {
        summary: 'Dashboard of one action',
        tags: ['admin'],
        params: z.object({ id: z.uuid({ error: 'id must be an action id (a UUID)' }) }),
        querystring: query,
        response: {
          200: z.object({ ...base, action: actionLine, ledger: z.array(ledgerEntry) }),
          401: errorSchema,
          403: errorSchema,
          404: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (req) => forRole(await service.forAction(req.params.id, req.query.range, req.query.locale), req.staff!.role, admin.countryMin),
  );
};
