// What the console's API routes share: the roles each route declares (config.roles) and the
// dependencies they are given. Apart from index.ts, which registers the routes, so that a route
// file and the index never import each other.
import type { ActionCache } from '../../../action/action.service.ts';
import type { Mailer } from '../../../mail/mailer.ts';
import type { StaffDeps } from '../../../staff/session.ts';
import type { StaffRole } from '../../../staff/staff.schema.ts';
import type { Queues } from '../../../queue/queue.ts';
import type { DashboardService } from '../../../insight/dashboard.service.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** staff roles allowed on an /api/admin route (required there) */
    roles?: readonly StaffRole[];
  }
}

/** Any signed-in staff member: reading dashboards, lists and logs. */
export const READ = ['ADMIN', 'CAMPAIGNER', 'VIEWER'] as const satisfies readonly StaffRole[];
/** Campaigners and admins: changing actions, targets, deliveries, signatures. */
export const WRITE = ['ADMIN', 'CAMPAIGNER'] as const satisfies readonly StaffRole[];
/** Admins only: accounts, API keys, webhooks, queues. */
export const ADMIN_ONLY = ['ADMIN'] as const satisfies readonly StaffRole[];

export interface AdminDeps extends StaffDeps {
  cache: ActionCache;
  /** sends what staff actions email (published answers to signers) */
  mailer: Mailer;
  mailFrom: string;
  /** ORG_NAME: the organisation that signs letters (the letter preview, deliveries) */
  organisation: string;
  /** PUBLIC_COUNTRY_MIN: the smallest group of signers whose country is shown (counts, letters, packets) */
  countryMin: number;
  /** the job queues, when this process has them (the queue view, "send now") */
  queues?: Queues;
  /** folder for staff CSV exports (config EXPORT_DIR) */
  exportDir?: string;
  /** WEBHOOK_ALLOW_PRIVATE: internal ranges webhook endpoints may use */
  webhookAllowPrivate?: readonly string[];
  /** the dashboard's short-lived answers, shared so that fraud actions can forget them */
  dashboard?: DashboardService;
}

