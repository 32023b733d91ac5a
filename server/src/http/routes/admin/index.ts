// The staff console's API, under /api/admin. Every route here must declare the roles that
// may call it (`config: { roles: READ | WRITE | ADMIN_ONLY }`); the onRoute hook below turns
// that declaration into the guard, so what a route says is what it enforces, and a route
// without one stops the server at start-up. The access test walks `adminRouteTable()`.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { onRequestHookHandler } from 'fastify';
import { csrfGuard, requireStaff } from '../../../staff/session.ts';
import type { AdminDeps } from './roles.ts';
import type { StaffRole } from '../../../staff/staff.schema.ts';
import { auditRoutes } from './audit.ts';
import { dashboardRoutes } from './dashboard.ts';
import { exportRoutes } from './exports.ts';
import { fraudRoutes } from './fraud.ts';
import { answerRoutes } from './answers.ts';
import { deliveryRoutes } from './deliveries.ts';
import { integrationRoutes } from './integrations.ts';
import { actionAdminRoutes } from './actions.ts';
import { targetRoutes } from './targets.ts';
import { queueRoutes } from './queues.ts';
import { alertRoutes } from './alerts.ts';

export { ADMIN_ONLY, READ, WRITE, type AdminDeps } from './roles.ts';

export interface AdminRouteInfo {
  method: string;
  url: string;
  roles: readonly StaffRole[];
}

const table = new Map<string, AdminRouteInfo>();

/** Every /api/admin route registered in this process, with its roles (for the access test). */
export function adminRouteTable(): AdminRouteInfo[] {
  return [...table.values()];
}

export const adminRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const deps = opts.admin;
  app.addHook('onRoute', (route) => {
    const roles = route.config?.roles;
    if (!roles || roles.length === 0) {
      throw new Error(`admin route ${String(route.method)} ${route.url} declares no config.roles`);
    }
    const guard = requireStaff(deps, ...roles) as onRequestHookHandler;
    const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
    route.onRequest = [guard, ...existing];
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      if (method === 'HEAD') continue;
      table.set(`${method} ${route.url}`, { method, url: route.url, roles });
    }
  });
  app.addHook('onRequest', csrfGuard(deps.publicBaseUrl));
  app.addHook('onSend', async (_req, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  // One line per area of the console. Each module exports a plugin taking { admin: AdminDeps }.
  await app.register(auditRoutes, { admin: deps });
  await app.register(dashboardRoutes, { admin: deps });
  await app.register(fraudRoutes, { admin: deps });
  await app.register(exportRoutes, { admin: deps });
  await app.register(deliveryRoutes, { admin: deps });
  await app.register(answerRoutes, { admin: deps });
  await app.register(integrationRoutes, { admin: deps });
  await app.register(actionAdminRoutes, { admin: deps });
  await app.register(targetRoutes, { admin: deps });
  await app.register(queueRoutes, { admin: deps });
  await app.register(alertRoutes, { admin: deps });
};
