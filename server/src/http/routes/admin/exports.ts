// CSV exports of signatures and letters, as jobs with progress. WRITE (campaigners and
// admins), not READ: an export copies supporters' data out of Chorus, which is more than
// looking at a dashboard, so viewers may not. Email addresses only of signers who agreed to
// be contacted; every address is an admin's export with a stated reason (export.service.ts).
// A file is downloaded only by the staff member who started it, or an admin.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  countExport,
  expireExports,
  getExport,
  LETTER_STATUSES,
  listExports,
  openExport,
  SIGNATURE_STATUSES,
  startExport,
  type ExportDeps,
} from '../../../insight/export.service.ts';
import { checkExportDownload } from '../../../insight/export.access.ts';
import { isCountryCode } from '../../../shared/countries.ts';
import { notFound } from '../../../shared/errors.ts';
import { errorSchema } from '../schemas.ts';
import { WRITE, type AdminDeps } from './roles.ts';
import { ExportStatus } from '../../../db/db.ts';

const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' || v === null ? undefined : v), schema.optional());

export const exportFilter = z.object({
  kind: z.enum(['SIGNATURES', 'LETTERS']),
  actionId: opt(z.uuid({ error: 'actionId must be an action id (a UUID)' })),
  status: opt(z.enum([...new Set([...SIGNATURE_STATUSES, ...LETTER_STATUSES])] as [string, ...string[]])).describe(
    'signatures: PENDING, CONFIRMED or INVALIDATED; letters: PENDING, SUBMITTING, SENT, FAILED or BOUNCED',
  ),
  from: opt(z.coerce.date({ error: 'from must be a date' })),
  to: opt(z.coerce.date({ error: 'to must be a date' })),
  country: opt(
    z
      .string()
      .trim()
      .toUpperCase()
      .refine((c) => isCountryCode(c), 'country must be an ISO 3166-1 alpha-2 code'),
  ),
  includePersonal: opt(z.union([z.boolean(), z.enum(['true', 'false', 'on', '1', '0']).transform((v) => v === 'true' || v === 'on' || v === '1')])).describe(
    'signatures: add first name, last name, contact_consent and email (off by default). The email only of signers who agreed to be contacted (and have not unsubscribed or been erased)',
  ),
  emailsWithoutConsent: opt(z.union([z.boolean(), z.enum(['true', 'false', 'on', '1', '0']).transform((v) => v === 'true' || v === 'on' || v === '1')])).describe(
    'signatures with includePersonal: also the email of signers who did not agree to be contacted. Admins only (403 otherwise), with a `reason`; kept with the job and in the audit log',
  ),
  reason: opt(
    z
      .string()
      .trim()
      .max(500, 'reason must be at most 500 characters')
      .regex(/^[^\p{Cc}]*$/u, 'reason must be one line'),
  ).describe('why every address is needed (with emailsWithoutConsent; at least 10 characters)'),
});

const jobSchema = z.object({
  id: z.string(),
  kind: z.enum(['SIGNATURES', 'LETTERS']),
  status: z.enum(ExportStatus),
  filter: z.record(z.string(), z.unknown()),
  total: z.number().int(),
  rowsDone: z.number().int(),
  error: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  staffEmail: z.string().nullable(),
  fileName: z.string(),
});

const idParam = z.object({ id: z.uuid({ error: 'id must be an export id (a UUID)' }) });

export const exportRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const { admin } = opts;
  const deps: ExportDeps = { pool: admin.pool, clock: admin.clock, dir: admin.exportDir ?? '.data/exports' };
  const expire = () => expireExports(deps).catch(() => 0);
  const timer = setInterval(() => void expire(), 3_600_000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get(
    '/exports',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Recent exports, newest first',
        tags: ['admin'],
        response: { 200: z.object({ exports: z.array(jobSchema) }), 401: errorSchema, 403: errorSchema },
      },
    },
    async () => {
      await expire();
      return { exports: await listExports(deps) };
    },
  );

  app.get(
    '/exports/count',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'How many rows an export with this filter would have',
        tags: ['admin'],
        querystring: exportFilter,
        response: { 200: z.object({ count: z.number().int() }), 401: errorSchema, 403: errorSchema, 404: errorSchema, 422: errorSchema },
      },
    },
    async (req) => ({ count: await countExport(deps, req.query) }),
  );

  app.post(
    '/exports',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Start an export',
        description:
          'Counts the rows, records the export (and who asked, with the filter and count, in the audit log) and writes the CSV in the background. Poll the job for progress. ' +
          'With `includePersonal`, emails only of signers who agreed to be contacted; `emailsWithoutConsent` (every address) is for admins only and needs a `reason`.',
        tags: ['admin'],
        body: exportFilter,
        response: { 202: z.object({ job: jobSchema }), 401: errorSchema, 403: errorSchema, 404: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      await expire();
      const { job, done } = await startExport(deps, { id: req.staff!.id, role: req.staff!.role }, req.body);
      void done;
      return reply.code(202).send({ job });
    },
  );

  app.get(
    '/exports/:id',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'One export: status and progress',
        tags: ['admin'],
        params: idParam,
        response: { 200: z.object({ job: jobSchema }), 401: errorSchema, 403: errorSchema, 404: errorSchema, 422: errorSchema },
      },
    },
    async (req) => {
      const job = await getExport(deps, req.params.id);
      if (!job) throw notFound('export_not_found', 'No export has this id');
      return { job };
    },
  );

  app.get(
    '/exports/:id/download',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Download a finished export (CSV)',
        description: 'Only the staff member who started the export, or an admin. 409 while it runs, 410 after 24 hours.',
        tags: ['admin'],
        params: idParam,
        response: { 200: z.any().describe('text/csv'), 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 410: errorSchema, 422: errorSchema },
      },
    },
    async (req, reply) => {
      await checkExportDownload(admin.pool, req.staff!, req.params.id);
      const { job, size, stream } = await openExport(deps, req.staff!.id, req.params.id);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${job.fileName}"`)
        .header('content-length', String(size))
        .header('x-content-type-options', 'nosniff')
        .send(stream);
    },
  );
};
