// Actions from the staff console: list, create, texts per language, targets, lifecycle,
// kill switches (one action, or every action) and the per-target letter preview.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  actionDetailView,
  actionListView,
  actionSettingsInput,
  actionTargetsInput,
  actionTextInput,
  ACTION_STATUSES,
  createActionInput,
  globalSwitchInput,
  idParam,
  letterPreviewView,
  localeParam,
  signingSwitchInput,
} from '../../../action/action.admin.schema.ts';
import {
  createActionForStaff,
  deleteText,
  getActionForStaff,
  isSigningPausedAll,
  letterPreviewForStaff,
  listActionsForStaff,
  saveText,
  setSigning,
  setSigningPausedAll,
  setTargets,
  transition,
  updateSettings,
} from '../../../action/action.admin.service.ts';
import { errorSchema } from '../schemas.ts';
import { READ, WRITE, type AdminDeps } from './roles.ts';
import { ActionStatus } from '../../../db/db.ts';

const errors = { 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema };

export const actionAdminRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const deps = opts.admin;
  const staffId = (req: { staff: { id: string } | null }) => req.staff!.id;
  // other processes see a change at their next refresh (2 s); this one refreshes at once
  const refreshed = async <T>(value: T): Promise<T> => {
    await deps.cache.refresh().catch(() => {});
    return value;
  };

  app.get(
    '/actions',
    {
      config: { roles: READ },
      schema: {
        summary: 'Every action, with its counts',
        tags: ['admin'],
        querystring: z.object({ status: z.enum(ACTION_STATUSES).optional() }),
        response: { 200: actionListView, ...errors },
      },
    },
    async (req) => listActionsForStaff(deps.pool, req.query.status),
  );

  app.post(
    '/actions',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Create a draft action with its texts in the default language',
        tags: ['admin'],
        body: createActionInput,
        response: { 201: actionDetailView, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await createActionForStaff(deps, staffId(req), req.body)),
  );

  app.get(
    '/actions/:id',
    {
      config: { roles: READ },
      schema: { summary: 'One action: settings, texts in every language, targets', tags: ['admin'], params: idParam, response: { 200: actionDetailView, ...errors } },
    },
    async (req) => getActionForStaff(deps.pool, req.params.id),
  );

  app.patch(
    '/actions/:id',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Change goal, milestones, default language, target mode or letter settings',
        tags: ['admin'],
        params: idParam,
        body: actionSettingsInput,
        response: { 200: actionDetailView, ...errors },
      },
    },
    async (req) => refreshed(await updateSettings(deps, staffId(req), req.params.id, req.body)),
  );

  app.put(
    '/actions/:id/texts/:locale',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Write the texts of one language (adds a translation or replaces it)',
        description:
          'The letter subject and body are the text to officials. The letter template (templates/<locale>/letter.*.hbs) ' +
          'adds the salutation of each target, the counts, the countries, the consenting names, the packet link and the sign-off.',
        tags: ['admin'],
        params: localeParam,
        body: actionTextInput,
        response: { 200: actionDetailView, ...errors },
      },
    },
    async (req) => refreshed(await saveText(deps, staffId(req), req.params.id, req.params.locale, req.body)),
  );

  app.delete(
    '/actions/:id/texts/:locale',
    {
      config: { roles: WRITE },
      schema: { summary: 'Remove a translation', tags: ['admin'], params: localeParam, response: { 200: actionDetailView, ...errors } },
    },
    async (req) => refreshed(await deleteText(deps, staffId(req), req.params.id, req.params.locale)),
  );

  app.put(
    '/actions/:id/targets',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Choose the action’s targets from the directory, in order',
        tags: ['admin'],
        params: idParam,
        body: actionTargetsInput,
        response: { 200: actionDetailView, ...errors },
      },
    },
    async (req) => refreshed(await setTargets(deps, staffId(req), req.params.id, req.body.targetIds)),
  );

  for (const [verb, to] of [
    ['publish', ActionStatus.PUBLISHED],
    ['close', ActionStatus.CLOSED],
    ['archive', ActionStatus.ARCHIVED],
  ] as const) {
    app.post(
      `/actions/:id/${verb}`,
      {
        config: { roles: WRITE },
        schema: {
          summary: `${verb[0]!.toUpperCase()}${verb.slice(1)} an action`,
          description: 'Allowed moves: draft → published or archived; published → closed; closed → published (reopen) or archived.',
          tags: ['admin'],
          params: idParam,
          response: { 200: actionDetailView, ...errors },
        },
      },
      async (req) => refreshed(await transition(deps, staffId(req), req.params.id, to)),
    );
  }

  app.post(
    '/actions/:id/signing',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Kill switch for one action: stop or resume signing',
        description: 'While signing is stopped, POST /api/actions/:slug/signatures answers 409 `signing_paused` and the page says signing is paused.',
        tags: ['admin'],
        params: idParam,
        body: signingSwitchInput,
        response: { 200: actionDetailView, ...errors },
      },
    },
    async (req) => refreshed(await setSigning(deps, staffId(req), req.params.id, req.body.enabled)),
  );

  app.get(
    '/signing',
    {
      config: { roles: READ },
      schema: { summary: 'Whether signing is stopped on every action', tags: ['admin'], response: { 200: z.object({ pausedAll: z.boolean() }), ...errors } },
    },
    async () => ({ pausedAll: await isSigningPausedAll(deps.pool) }),
  );

  app.put(
    '/signing',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Kill switch for every action: stop or resume all signing',
        tags: ['admin'],
        body: globalSwitchInput,
        response: { 200: z.object({ pausedAll: z.boolean() }), ...errors },
      },
    },
    async (req) => refreshed(await setSigningPausedAll(deps, staffId(req), req.body.paused)),
  );

  app.get(
    '/actions/:id/letter-preview',
    {
      config: { roles: READ },
      schema: {
        summary: 'Exactly what each target would receive now, in its language',
        description:
          'Rendered by the delivery’s own letter rendering, as if everything confirmed so far were delivered now. ' +
          'Names and members’ own letters depend on each delivery and are not shown; the packet link is a placeholder.',
        tags: ['admin'],
        params: idParam,
        response: { 200: letterPreviewView, ...errors },
      },
    },
    async (req) => letterPreviewForStaff(deps.pool, req.params.id, deps.organisation, deps.countryMin),
  );
};
