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
import { thresholdsSchema } from '../actions.ts';
import { actionThresholds, setThresholds, thresholdsInputSchema } from '../../../delivery/threshold.service.ts';
import { LOCALES } from '../../../shared/locales.ts';
import { publishUpdate, staffUpdates, updateInputSchema } from '../../../action/update.service.ts';
import { countPaperImport, getPaperImport, listPaperImports, paperImportInputSchema, previewPaperImport, withdrawPaperImport } from '../../../action/paper.service.ts';
import { mailDomain } from '../../../signature/confirmation.service.ts';
import { READ, WRITE, type AdminDeps } from './roles.ts';
import { ActionStatus } from '../../../db/db.ts';

const thresholdsView = z.object({ respondWithinDays: z.number().int(), thresholds: thresholdsSchema });

const errors = { 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema };

export const actionAdminRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const deps = opts.admin;
  const staffId = (req: { staff: { id: string } | null }) => req.staff!.id;
  const PAPER_NAMES =
    'The sample shows the signers’ names to campaigners and admins only (a viewer gets `null` names); each such look is audited (`paper_names_viewed`).';
  // paper signers' names are for campaigners and admins, and each look is audited (promise 17)
  const paperViewer = (req: { staff: { id: string; role: string } | null }) => ({ staffId: req.staff!.id, withNames: req.staff!.role !== 'VIEWER', clock: deps.clock });
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

  app.get(
    '/actions/:id/thresholds',
    {
      config: { roles: READ },
      schema: {
        summary: 'The action’s thresholds: answers owed by a date',
        tags: ['admin'],
        params: idParam,
        querystring: z.object({ locale: z.enum(LOCALES).default('en').describe('language of the targets’ names') }),
        response: { 200: thresholdsView, ...errors },
      },
    },
    async (req) => actionThresholds(deps.pool, req.params.id, deps.clock(), req.query.locale),
  );

  app.put(
    '/actions/:id/thresholds',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Set the thresholds at which every target is asked to answer, and the days they have',
        description:
          'When the confirmed count reaches a threshold, every target is sent a formal request to answer within `respondWithinDays` ' +
          '(its own letter, in its language, with the packet link), and signers who opted in are told. A reached threshold cannot be removed.',
        tags: ['admin'],
        params: idParam,
        body: thresholdsInputSchema,
        response: { 200: thresholdsView, ...errors },
      },
    },
    async (req) => refreshed(await setThresholds(deps, staffId(req), req.params.id, req.body)),
  );

  app.get(
    '/actions/:id/updates',
    {
      config: { roles: READ },
      schema: {
        summary: 'The action’s case updates, newest first, and how many signers a new one would email',
        tags: ['admin'],
        params: idParam,
        response: {
          200: z.object({
            audience: z.number().int().describe('confirmed signers who opted in to hear from the campaign: a new update emails each once'),
            updates: z.array(z.object({ id: z.string(), publishedAt: z.string(), texts: z.array(z.object({ locale: z.string(), title: z.string(), body: z.string() })) })),
          }),
          ...errors,
        },
      },
    },
    async (req) => staffUpdates(deps.pool, req.params.id),
  );

  app.post(
    '/actions/:id/updates',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Publish a case update: what happened next',
        description:
          'Shown at once on the action page and in `GET /api/actions/{slug}` (`updates`), sent to webhooks subscribed to `update.published`, ' +
          'and emailed once to every confirmed signer who opted in to hear from the campaign, in their language where the update has it ' +
          '(else the action’s default language), with one-click unsubscribe. A published update is not edited: publish a correction.',
        tags: ['admin'],
        params: idParam,
        body: updateInputSchema,
        response: { 201: z.object({ id: z.string(), publishedAt: z.string(), notificationsOwed: z.number().int() }), ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await refreshed(await publishUpdate(deps, staffId(req), req.params.id, req.body))),
  );

  const paperImportView = z.object({
    id: z.string(),
    actionId: z.string(),
    status: z.enum(['PREVIEW', 'COUNTED', 'WITHDRAWN']),
    filename: z.string(),
    event: z.string(),
    collectedOn: z.string(),
    consentVersion: z.string(),
    namesToOfficials: z.boolean(),
    rows: z.number().int().describe('signatures in the file'),
    repeats: z.number().int().describe('rows that repeat an earlier row of the file or a signature already counted (same sheet and line, or same name and country): never counted'),
    willCount: z.number().int().describe('what counting the preview would add; once counted, what was counted'),
    counted: z.number().int(),
    createdAt: z.coerce.date(),
    countedAt: z.coerce.date().nullable(),
    withdrawnAt: z.coerce.date().nullable(),
    sample: z
      .array(z.object({ sheet: z.string(), line: z.number().int(), firstName: z.string().nullable(), lastName: z.string().nullable(), country: z.string().nullable(), duplicate: z.boolean() }))
      .describe('the repeats first, then the first rows: at most 20'),
  });
  const importParam = z.object({ id: z.string().max(64) });

  app.get(
    '/actions/:id/paper-imports',
    { config: { roles: READ }, schema: { summary: 'The action’s imports of paper signatures, newest first', description: PAPER_NAMES, tags: ['admin'], params: idParam, response: { 200: z.object({ imports: z.array(paperImportView) }), ...errors } } },
    async (req) => ({ imports: await listPaperImports(deps.pool, req.params.id, paperViewer(req)) }),
  );

  app.post(
    '/actions/:id/paper-imports',
    {
      config: { roles: WRITE },
      bodyLimit: 1_000_000,
      schema: {
        summary: 'Check a CSV of paper signatures and keep it as a preview (nothing counts yet)',
        description:
          'The CSV has a header row and the columns `sheet`, `line` (both required: where the signature is on paper), `first_name`, `last_name` and `country` (optional). ' +
          'Every problem is reported by line (422 `csv_invalid`), and nothing is stored while any line is wrong. ' +
          'A good file is kept as a preview showing what would count and what repeats; `POST /api/admin/paper-imports/{id}/count` counts it.',
        tags: ['admin'],
        params: idParam,
        body: paperImportInputSchema,
        response: { 201: paperImportView, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await previewPaperImport(deps, staffId(req), req.params.id, req.body)),
  );

  app.get(
    '/paper-imports/:id',
    { config: { roles: READ }, schema: { summary: 'One import of paper signatures', description: PAPER_NAMES, tags: ['admin'], params: importParam, response: { 200: paperImportView, ...errors } } },
    async (req) => getPaperImport(deps.pool, req.params.id, paperViewer(req)),
  );

  app.post(
    '/paper-imports/:id/count',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Count a previewed import: into the public count, and to the officials',
        description: 'Its signatures that repeat nothing counted join the public count (`paperCount`) and are sent to the officials at once, in a delivery of their own. 409 unless it is a preview.',
        tags: ['admin'],
        params: importParam,
        response: { 200: paperImportView, ...errors },
      },
    },
    async (req) => refreshed(await countPaperImport({ ...deps, mailDomain: mailDomain(deps.mailFrom) }, staffId(req), req.params.id)),
  );

  app.post(
    '/paper-imports/:id/withdraw',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Withdraw an import: out of the public count and of the packets',
        description: 'Letters already sent stay sent; the packets no longer list its signatures. Withdrawing twice changes nothing.',
        tags: ['admin'],
        params: importParam,
        response: { 200: paperImportView, ...errors },
      },
    },
    async (req) => refreshed(await withdrawPaperImport(deps, staffId(req), req.params.id)),
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
