// The audit log, read-only, newest first, filtered and paged by cursor.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditEntities, listAudit } from '../../../staff/audit.ts';
import { errorSchema } from '../schemas.ts';
import { ADMIN_ONLY, type AdminDeps } from './roles.ts';

const auditQuery = z.object({
  entity: z.string().max(60).regex(/^[a-z_]+$/, 'entity is a lower-case record kind such as action or staff_user').optional(),
  entityId: z.string().max(100).optional(),
  staff: z.string().max(254).optional().describe('email of the staff member who made the change'),
  from: z.coerce.date({ error: 'from must be a date' }).optional(),
  to: z.coerce.date({ error: 'to must be a date' }).optional(),
  before: z.string().regex(/^\d{1,19}$/, 'before is the nextCursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const entrySchema = z.object({
  id: z.string(),
  createdAt: z.date(),
  staffEmail: z.string().nullable(),
  staffName: z.string().nullable(),
  verb: z.string(),
  entity: z.string(),
  entityId: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
});

export const auditRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const { pool } = opts.admin;
  app.get(
    '/audit',
    {
      // what staff looked at and changed, filters and matches included: for admins only
      config: { roles: ADMIN_ONLY },
      schema: {
        summary: 'The audit log of staff changes',
        description: 'Newest first. Filter by kind of record, record id, staff email and time; page with `before` = the previous nextCursor.',
        tags: ['admin'],
        querystring: auditQuery,
        response: {
          200: z.object({ entries: z.array(entrySchema), nextCursor: z.string().nullable(), entities: z.array(z.string()) }),
          401: errorSchema,
          403: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await listAudit(pool, {
        entity: q.entity,
        entityId: q.entityId,
        staffEmail: q.staff?.trim().toLowerCase() || undefined,
        from: q.from,
        to: q.to,
        before: q.before,
        limit: q.limit,
      });
      return { ...page, entities: await auditEntities(pool) };
    },
  );
};
