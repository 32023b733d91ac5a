// Prometheus metrics of the server and the workers processes: every metric is defined here, once,
// and each process serves its registry on an endpoint of its own (startMetricsEndpoint), a small
// node:http server on METRICS_HOST:METRICS_PORT (the server) or WORKERS_METRICS_PORT (the
// workers), never on the public PORT. docs/operating.md#metrics lists what each one means.
//
// Counting is cheap where it happens: a counter's inc() or a histogram's observe() on a
// child whose labels are bound once. Nothing here awaits or queries on the signing path; the
// gauges that need Redis or PostgreSQL (queues, letters by state) are read when Prometheus
// scrapes the workers, once per scrape.
//
// No label holds personal data: labels are closed sets (reasons, outcomes, states, queue
// names, route patterns), never an address, a name, an IP, a token or a raw URL.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobType } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();

// ---- signatures -------------------------------------------------------------------------

/** how a signature reached the signing service: our form, or an integrator's key (API, OSDI) */
export type SigningVia = 'form' | 'api';

export const signaturesReceived = new Counter({
  name: 'chorus_signatures_received_total',
  help: 'Signatures that reached the signing service (form, integrator API, OSDI); those refused earlier by load shedding count in chorus_signatures_shed_total only',
  labelNames: ['via'] as const,
  registers: [registry],
});

export const signaturesAccepted = new Counter({
  name: 'chorus_signatures_accepted_total',
  help: 'Signatures stored as pending (a confirmation email is owed)',
  labelNames: ['via'] as const,
  registers: [registry],
});

/** why a signature was stored or set invalidated: a closed set, so the label stays bounded */
export const INVALIDATION_REASONS = ['rate_limit_ip', 'honeypot', 'fraud', 'not_me'] as const;
export type InvalidationReason = (typeof INVALIDATION_REASONS)[number];

export const signaturesInvalidated = new Counter({
  name: 'chorus_signatures_invalidated_total',
  help: 'Signatures invalidated, by reason: rate_limit_ip (too many from one client address), honeypot (a bot filled the hidden field), fraud (staff invalidated them in bulk), not_me (the owner of the address discarded the sign-up)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

/** why a signature was refused before it was stored (503 or 429) */
export const SHED_REASONS = ['in_flight', 'event_loop_lag', 'writer_backlog', 'writer_full', 'api_key_limit'] as const;
export type ShedReason = (typeof SHED_REASONS)[number];

export const signaturesShed = new Counter({
  name: 'chorus_signatures_shed_total',
  help: 'Signatures refused under load, by reason: 503 + Retry-After for in_flight, event_loop_lag, writer_backlog, writer_full; 429 for api_key_limit (an integrator key used up its budget)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const confirmationEmailsDeferred = new Counter({
  name: 'chorus_confirmation_emails_deferred_total',
  help: 'Confirmation emails held back to the next window because their address used up its budget (SIGN_LIMIT_PER_EMAIL per 10 minutes)',
  registers: [registry],
});

export const confirmationLatency = new Histogram({
  name: 'chorus_signature_confirmation_seconds',
  help: 'Time from signing to confirming, in seconds, observed when a signature is confirmed (its _count is the number of confirmations)',
  // a signer confirms within minutes, or hours later from another device, or days later after the reminder
  buckets: [30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 14 * 86_400],
  registers: [registry],
});

// ---- mail, bounces, webhooks ------------------------------------------------------------

export const SMTP_OUTCOMES = ['sent', 'temporary_failure', 'permanent_failure', 'timeout_connection'] as const;
export type SmtpOutcome = (typeof SMTP_OUTCOMES)[number];

export const smtpSends = new Counter({
  name: 'chorus_smtp_sends_total',
  help: 'Emails handed to the SMTP server, by kind (letter: to an official; member: confirmations, reminders, answers, my-data links) and outcome (sent, temporary_failure: 4xx, permanent_failure: 5xx or a refused address, timeout_connection: no answer or no connection)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const bouncesReceived = new Counter({
  name: 'chorus_bounces_received_total',
  help: 'Mail received on the bounce endpoint, by outcome: bounced (a letter marked BOUNCED), duplicate (that letter had bounced already), not_permanent (a delay or other transient report), or why it was ignored (not_a_return_path, unsigned, bad_mac, message_id_mismatch, auto_reply, not_a_report)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: 'chorus_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome: delivered (2xx), retry_scheduled (failed, tried again later), failed (given up or refused target)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

// ---- HTTP -------------------------------------------------------------------------------

export const httpRequests = new Histogram({
  name: 'chorus_http_request_duration_seconds',
  help: 'HTTP requests answered by the server, by method, route pattern (never the raw URL) and status class, in seconds',
  labelNames: ['method', 'route', 'status_class'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Observes one answered request. `route` must be a pattern (a Fastify route's url) or a fixed
 * name. About 0.7 µs of CPU a request (prom-client's histogram; measured on the project's
 * machine), where a routed answer costs tens of microseconds.
 */
export function observeHttp(method: string, route: string, status: number, seconds: number): void {
  httpRequests.observe({ method: METHODS.has(method) ? method : 'OTHER', route, status_class: `${Math.floor(status / 100)}xx` }, seconds);
}

// ---- gauges read at scrape time (the workers) ---------------------------------------------

/** the part of a BullMQ queue the queue gauges read */
export interface ScrapedQueue {
  getJobCounts(...types: JobType[]): Promise<{ [state: string]: number }>;
  getJobs(types: JobType[] | JobType, start?: number, end?: number, asc?: boolean): Promise<({ timestamp: number; delay?: number } | undefined)[]>;
}

export const QUEUE_STATES = ['wait', 'active', 'delayed', 'prioritized'] as const;

/**
 * Queue depth by state and the age of the oldest waiting job of each queue, and letters by
 * state, read when Prometheus scrapes. Registered by the workers process only: the server
 * has no reason to read them, and two processes reporting one queue would be counted twice.
 * A read that fails leaves that gauge out of the scrape (so it goes stale) rather than
 * failing the whole scrape.
 */
export function registerScrapeGauges(deps: { queues: { name: string; queue: ScrapedQueue }[]; lettersByState: () => Promise<Record<string, number>>; now?: () => number }): { depth: Gauge<'queue' | 'state'>; oldest: Gauge<'queue'>; letters: Gauge<'state'> } {
  const now = deps.now ?? Date.now;
  // registered again (a test building a second set): the new reader replaces the old one
  for (const name of ['chorus_queue_jobs', 'chorus_queue_oldest_waiting_seconds', 'chorus_letters']) registry.removeSingleMetric(name);
  const depth = new Gauge({
    name: 'chorus_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (wait: ready and waiting for a worker; active; delayed: waiting for their time, retries and office hours included; prioritized)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        deps.queues.map(async (q) => {
          const counts = await q.queue.getJobCounts(...QUEUE_STATES).catch(() => null);
          if (!counts) return;
          for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
        }),
      );
    },
  });
  const oldest = new Gauge({
    name: 'chorus_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting for a worker in each BullMQ queue, in seconds since it became due: created plus its first delay; a job back from a retry counts from then too (0 when none waits)',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        deps.queues.map(async (q) => {
          // BullMQ pushes new jobs at the head of the wait list: ascending order gives the oldest first
          const jobs = await q.queue.getJobs('wait', 0, 0, true).catch(() => null);
          if (!jobs) return;
          const job = jobs[0];
          const due = job ? job.timestamp + (job.delay ?? 0) : now();
          this.set({ queue: q.name }, Math.max(0, (now() - due) / 1000));
        }),
      );
    },
  });
  const letters = new Gauge({
    name: 'chorus_letters',
    help: 'Letters by state (PENDING, SUBMITTING, SENT, FAILED, BOUNCED), from the database',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const byState = await deps.lettersByState().catch(() => null);
      if (!byState) return;
      for (const [state, n] of Object.entries(byState)) this.set({ state }, n);
    },
  });
  return { depth, oldest, letters };
}

// ---- the endpoint -----------------------------------------------------------------------

let defaultsOn = false;

/** prom-client's process metrics (event-loop lag, heap, GC, CPU, memory, handles), once per process. */
export function enableDefaultMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: registry });
}

export interface MetricsEndpoint {
  /** the port it listens on (useful when 0 was not asked for but a free one was) */
  port: number;
  close(): Promise<void>;
}

export class MetricsPortError extends Error {}

/**
 * Serves GET /metrics on host:port from a node:http server of its own, and turns on the
 * default process metrics. Port 0 means off (answers null). A port that is taken fails with a
 * one-line reason naming the setting (`setting`), so a process never runs without the
 * endpoint it was told to serve.
 */
export async function startMetricsEndpoint(opts: { host: string; port: number; setting: string }): Promise<MetricsEndpoint | null> {
  if (opts.port === 0) return null;
  enableDefaultMetrics();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics could not be collected: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  // a scrape is a short request; idle keep-alive connections need not hold the process
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${opts.host}:${opts.port}`;
      if (err.code === 'EADDRINUSE') reject(new MetricsPortError(`${opts.setting} ${opts.port} is taken on ${opts.host} (another process listens there): give this process a free port, or 0 to turn its metrics off`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') reject(new MetricsPortError(`METRICS_HOST ${opts.host} is not an address of this machine: metrics cannot listen on ${where}`));
      else if (err.code === 'EACCES') reject(new MetricsPortError(`${opts.setting} ${opts.port} may not be opened by this user (ports below 1024 need privileges): cannot listen on ${where}`));
      else reject(new MetricsPortError(`metrics cannot listen on ${where}: ${err.message}`));
    });
    server.listen(opts.port, opts.host, () => resolve());
  });
  // once listening, an error of the endpoint (say, out of file descriptors) must not end the process
  server.on('error', () => {});
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
