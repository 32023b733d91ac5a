// The staff API: sign-in, sessions, two-step sign-in, and the admin's account management.
// Every route answers JSON; every state change needs the CSRF header or a same-origin Origin.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cookieName, cookieOptions, csrfGuard, requireStaff, tokenFrom, type StaffDeps } from '../../staff/session.ts';
import {
  createUserInputSchema,
  loginInputSchema,
  resetPasswordInputSchema,
  staffUserAdminSchema,
  staffUserSchema,
  totpConfirmInputSchema,
  totpSetupSchema,
  userIdParam,
} from '../../staff/staff.schema.ts';
import * as staff from '../../staff/staff.service.ts';
import { errorSchema } from './schemas.ts';

const userBody = z.object({ user: staffUserSchema });
const adminUserBody = z.object({ user: staffUserAdminSchema });
const errors = { 401: errorSchema, 403: errorSchema, 422: errorSchema };

export const staffRoutes: FastifyPluginAsyncZod<{ staff: StaffDeps }> = async (app, opts) => {
  const deps = opts.staff;
  const anyStaff = requireStaff(deps);
  const adminOnly = requireStaff(deps, 'ADMIN');
  const name = cookieName(deps.publicBaseUrl);

  app.addHook('onRequest', csrfGuard(deps.publicBaseUrl));
  app.addHook('onSend', async (_req, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.post(
    '/staff/login',
    {
      schema: {
        summary: 'Staff sign-in',
        description:
          'Checks the password (and the TOTP code once two-step sign-in is on) and starts a new session in an HttpOnly, ' +
          'SameSite=Strict cookie. Wrong, unknown and disabled accounts all get the same 401 invalid_credentials. ' +
          'At most 5 failed attempts per email and 20 per client address in 15 minutes, then 429 with Retry-After.',
        tags: ['staff'],
        body: loginInputSchema,
        response: { 200: userBody, 401: errorSchema, 403: errorSchema, 422: errorSchema, 429: errorSchema },
      },
    },
    async (req, reply) => {
      const { user, token } = await staff.login(deps, req.body, { ip: req.clientIp, currentToken: tokenFrom(req, deps.publicBaseUrl) });
      reply.setCookie(name, token, cookieOptions(deps.publicBaseUrl));
      return { user };
    },
  );

  app.post(
    '/staff/logout',
    { schema: { summary: 'End this staff session', tags: ['staff'], response: { 204: z.null(), 403: errorSchema } } },
    async (req, reply) => {
      await staff.logout(deps, tokenFrom(req, deps.publicBaseUrl));
      reply.clearCookie(name, cookieOptions(deps.publicBaseUrl));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/staff/me',
    { onRequest: anyStaff, schema: { summary: 'The signed-in staff member', tags: ['staff'], response: { 200: userBody, 401: errorSchema } } },
    async (req) => ({ user: await staff.me(deps, req.staff!.id) }),
  );

  app.post(
    '/staff/me/totp/setup',
    {
      onRequest: anyStaff,
      schema: {
        summary: 'Start two-step sign-in: a new TOTP secret, pending until confirmed',
        tags: ['staff'],
        response: { 200: totpSetupSchema, 409: errorSchema, ...errors },
      },
    },
    async (req) => staff.totpSetup(deps, req.staff!),
  );

  app.post(
    '/staff/me/totp/confirm',
    {
      onRequest: anyStaff,
      schema: {
        summary: 'Turn two-step sign-in on with a code from the pending secret',
        tags: ['staff'],
        body: totpConfirmInputSchema,
        response: { 200: userBody, 409: errorSchema, ...errors },
      },
    },
    async (req) => ({ user: await staff.totpConfirm(deps, req.staff!, req.body.totp) }),
  );

  app.get(
    '/staff/users',
    {
      onRequest: adminOnly,
      schema: { summary: 'All staff accounts (admin)', tags: ['staff'], response: { 200: z.object({ users: z.array(staffUserAdminSchema) }), ...errors } },
    },
    async () => ({ users: await staff.listStaff(deps) }),
  );

  app.post(
    '/staff/users',
    {
      onRequest: adminOnly,
      schema: { summary: 'Create a staff account (admin)', tags: ['staff'], body: createUserInputSchema, response: { 201: adminUserBody, 409: errorSchema, ...errors } },
    },
    async (req, reply) => reply.code(201).send({ user: await staff.createStaff(deps, req.staff!.id, req.body) }),
  );

  app.post(
    '/staff/users/:id/disable',
    {
      onRequest: adminOnly,
      schema: {
        summary: 'Disable a staff account and end its sessions (admin; not your own)',
        tags: ['staff'],
        params: userIdParam,
        response: { 200: adminUserBody, 404: errorSchema, 409: errorSchema, ...errors },
      },
    },
    async (req) => ({ user: await staff.disableStaff(deps, req.staff!, req.params.id) }),
  );

  app.post(
    '/staff/users/:id/enable',
    {
      onRequest: adminOnly,
      schema: { summary: 'Enable a staff account (admin)', tags: ['staff'], params: userIdParam, response: { 200: adminUserBody, 404: errorSchema, ...errors } },
    },
    async (req) => ({ user: await staff.enableStaff(deps, req.staff!, req.params.id) }),
  );

  app.post(
    '/staff/users/:id/reset-password',
    {
      onRequest: adminOnly,
      schema: {
        summary: 'Set a new password, end the sessions and turn two-step sign-in off (admin)',
        tags: ['staff'],
        params: userIdParam,
        body: resetPasswordInputSchema,
        response: { 200: adminUserBody, 404: errorSchema, ...errors },
      },
    },
    async (req) => ({ user: await staff.resetStaffPassword(deps, req.staff!, req.params.id, req.body.password) }),
  );
};
