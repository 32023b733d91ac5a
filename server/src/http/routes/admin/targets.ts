// The targets directory: search and filter, create, edit, disable, CSV import and export.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseTargetsCsv, targetsToCsv } from '../../../target/target.csv.ts';
import { targetInputSchema, targetListQuery, targetView } from '../../../target/target.schema.ts';
import { allTargets, createTarget, editTarget, getTarget, importTargets, listTargets, setTargetDisabled } from '../../../target/target.service.ts';
import { errorSchema } from '../schemas.ts';
import { READ, WRITE, type AdminDeps } from './roles.ts';

const idParam = z.object({ id: z.uuid('id must be a target id') });
const errors = { 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema };

export const targetRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const deps = opts.admin;
  const staffId = (req: { staff: { id: string } | null }) => req.staff!.id;
  // a change to a target shows on the public action pages at the next cache refresh; this
  // process refreshes at once
  const refresh = () => deps.cache.refresh().catch(() => {});

  app.get(
    '/targets',
    {
      config: { roles: READ },
      schema: {
        summary: 'Search the targets directory',
        tags: ['admin'],
        querystring: targetListQuery,
        response: { 200: z.object({ targets: z.array(targetView), total: z.number().int() }), ...errors },
      },
    },
    async (req) => listTargets(deps.pool, req.query),
  );

  app.get(
    '/targets/export.csv',
    {
      config: { roles: READ },
      schema: {
        summary: 'The whole directory as CSV',
        description: 'Cells that a spreadsheet would evaluate (starting with = + - @, tab or CR) are prefixed with a single quote.',
        tags: ['admin'],
        response: { 200: z.string(), 401: errorSchema, 403: errorSchema },
      },
    },
    async (_req, reply) => {
      const csv = targetsToCsv(await allTargets(deps.pool));
      const day = deps.clock().toISOString().slice(0, 10);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="targets-${day}.csv"`)
        .header('x-content-type-options', 'nosniff')
        .send(csv);
    },
  );

  app.post(
    '/targets/import',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Import targets from CSV (upsert by email)',
        description:
          'Body: `{ "csv": "<file text>" }` with a header row (name, kind and email required; see the export for every column). ' +
          'Rows are matched to existing targets by email, case-insensitively. Nothing is stored unless every row is valid; ' +
          'problems come back in `issues`, each with its line.',
        tags: ['admin'],
        body: z.object({ csv: z.string().min(1, 'csv is empty').max(250_000, 'csv must be at most 250 kB') }).strict(),
        response: { 200: z.object({ created: z.number().int(), updated: z.number().int(), unchanged: z.number().int() }), ...errors },
      },
    },
    async (req) => {
      const rows = parseTargetsCsv(req.body.csv);
      const result = await importTargets(deps, staffId(req), rows);
      await refresh();
      return result;
    },
  );

  app.post(
    '/targets',
    {
      config: { roles: WRITE },
      schema: { summary: 'Add a target', tags: ['admin'], body: targetInputSchema, response: { 201: targetView, ...errors } },
    },
    async (req, reply) => reply.code(201).send(await createTarget(deps, staffId(req), req.body)),
  );

  app.get(
    '/targets/:id',
    { config: { roles: READ }, schema: { summary: 'One target', tags: ['admin'], params: idParam, response: { 200: targetView, ...errors } } },
    async (req) => getTarget(deps.pool, req.params.id),
  );

  app.put(
    '/targets/:id',
    {
      config: { roles: WRITE },
      schema: { summary: 'Edit a target (every field)', tags: ['admin'], params: idParam, body: targetInputSchema, response: { 200: targetView, ...errors } },
    },
    async (req) => {
      const t = await editTarget(deps, staffId(req), req.params.id, req.body);
      await refresh();
      return t;
    },
  );

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(
      `/targets/:id/${verb}`,
      {
        config: { roles: WRITE },
        schema: {
          summary: disabled ? 'Disable a target (kept for the ledger, no longer offered to actions)' : 'Enable a disabled target',
          tags: ['admin'],
          params: idParam,
          response: { 200: targetView, ...errors },
        },
      },
      async (req) => setTargetDisabled(deps, staffId(req), req.params.id, disabled),
    );
  }
};
