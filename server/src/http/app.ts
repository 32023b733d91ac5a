// The Fastify application, composed: the server and its timeouts, logging, the answers given
// before routing (load-shedding.ts), the request hooks, and the routes. Each
// concern lives in a module of its own: who a request is from (internal.ts), security headers
// (security-headers.ts), CSRF (csrf.ts), rate limits (rate-limits.ts), error answers
// (errors.ts), the API docs (docs.ts, openapi.ts) and the pages (pages.ts). Dependencies come
// in, so tests can build an app against a test database and call it with inject().
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Config } from '../config/config.ts';
import type { ActionCache } from '../action/action.service.ts';
import type { SignatureDeps } from '../signature/signature.service.ts';
import { swaggerOptions } from './openapi.ts';
import { pingDatabase } from '../db/ping.ts';
import { actionRoutes } from './routes/actions.ts';
import { confirmationRoutes } from './routes/confirmations.ts';
import { healthRoutes } from './routes/health.ts';
import { memberRoutes } from './routes/members.ts';
import { packetRoutes } from './routes/packets.ts';
import { staffRoutes } from './routes/staff.ts';
import { adminRoutes } from './routes/admin/index.ts';
import { v1Routes } from './routes/v1.ts';
import { countRoutes } from './routes/counts.ts';
import { receiptRoutes } from './routes/receipts.ts';
import { WIDGET_JS } from './widget.ts';
import { osdiRoutes } from './routes/osdi.ts';
import type { Queues } from '../queue/queue.ts';
import { createMailer, mailSigning, type Mailer } from '../mail/mailer.ts';
import { apiSecurityHeaders, HSTS, jsonEscapeHook, securityHeadersHook } from './security-headers.ts';
import { earlyRefusal, EventLoopLag, InFlight, type LoadShedderOptions, type ShedSignals } from './load-shedding.ts';
import { clientIpHook } from './internal.ts';
import { csrfGuard } from './csrf.ts';
import { createRateLimits, publicPostLimit } from './rate-limits.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { loggerOptions } from './logging.ts';
import { docsRoutes } from './docs.ts';
import { MAX_PARAM_LENGTH, pageRoutes, type NodeHandler } from './pages.ts';
import { refusalRoutes } from './refusals.ts';
import { observeHttp } from '../shared/metrics.ts';

/** the route label of the refusals given before Fastify routes (see serverFactory below) */
const SIGNING_ROUTE = '/api/actions/:slug/signatures';

export interface AppDeps {
  config: Pick<Config, 'LOG_LEVEL' | 'PUBLIC_BASE_URL' | 'SMTP_URL' | 'MAIL_FROM' | 'ORG_NAME' | 'PUBLIC_COUNTRY_MIN' | 'DKIM_PRIVATE_KEY' | 'DKIM_SELECTOR'> &
    Partial<Pick<Config, 'EXPORT_DIR' | 'TRUSTED_PROXIES' | 'TRUSTED_FORM_ORIGINS' | 'SIGN_LIMIT_PER_IP' | 'SIGN_LIMIT_PER_API_KEY' | 'PUBLIC_POST_LIMIT_PER_IP'>> &
    Partial<Pick<Config, 'WEBHOOK_ALLOW_PRIVATE' | 'API_KEY_FAILURES_PER_IP'>>;
  pool: pg.Pool;
  redis: Redis;
  cache: ActionCache;
  signatures: Omit<SignatureDeps, 'log'>;
  /** member self-service (unsubscribe, "my data"): its mailer sends my-data links; default one on config.SMTP_URL */
  members?: { mailer?: Mailer; mailFrom?: string };
  /** shared with the SvelteKit handler in this process: marks its calls to the API */
  internalSecret: string;
  /** staff sessions: the clock behind idle/absolute timeouts and TOTP (default: signatures.clock) */
  staff?: { clock?: () => Date };
  /** the job queues, for the staff console's queue view and "send now" (absent in some tests) */
  queues?: Queues;
  /** load shedding of new signatures (503 + Retry-After); off when absent (most tests). A test may pass its own lag signal. */
  shedding?: LoadShedderOptions & { lag?: { lagMs: number } };
  /** the built SvelteKit app (web/build/handler.js), if pages are served */
  webHandler?: NodeHandler;
  logger?: boolean | object;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // load shedding of new signatures (load-shedding.ts): its signals, shared by the early
  // refusal below and the signing route's own check
  let shedding: { signals: ShedSignals & { inFlight: InFlight; shed: Record<string, number> }; opts: LoadShedderOptions } | undefined;
  const stopShedding: (() => void)[] = [];
  if (deps.shedding) {
    let lag = deps.shedding.lag;
    if (!lag) {
      const monitor = new EventLoopLag().start();
      stopShedding.push(() => monitor.stop());
      lag = monitor;
    }
    const inFlight = new InFlight().start();
    stopShedding.push(() => inFlight.stop());
    shedding = { signals: { lag, writer: deps.signatures.writer, inFlight, shed: {} }, opts: deps.shedding };
  }
  const hsts = deps.config.PUBLIC_BASE_URL.startsWith('https:') ? HSTS : null;
  const early = shedding ? earlyRefusal(shedding.signals, shedding.opts, hsts) : null;

  const app = Fastify({
    // a signature the server would refuse is refused before Fastify sees the request
    // (earlyRefusal in load-shedding.ts): in an overload most requests are refused, and this
    // makes each refusal cost a fraction of a routed one
    serverFactory: (handler) => {
      const server = createServer((req, res) => {
        // answered here, before Fastify: timed and counted here too, under the signing route
        const started = performance.now();
        if (early?.(req, res)) return observeHttp('POST', SIGNING_ROUTE, 503, (performance.now() - started) / 1000);
        handler(req, res);
      });
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = 30_000;
      server.setTimeout(30_000);
      return server;
    },
    logger: deps.logger === false ? false : loggerOptions(deps.config.LOG_LEVEL, typeof deps.logger === 'object' ? deps.logger : {}),
    bodyLimit: 256 * 1024,
    // emailed tokens travel in the path; longer values are refused by the route schemas
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // the real client address comes from the socket unless a trusted hop says otherwise:
    // X-Forwarded-For is read only from the proxies listed in TRUSTED_PROXIES (none by default),
    // right to left, and the first address that is not one of them is the client's
    trustProxy: deps.config.TRUSTED_PROXIES?.length ? deps.config.TRUSTED_PROXIES : false,
    return503OnClosing: true,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
  }).withTypeProvider<ZodTypeProvider>();

  if (shedding) {
    const { inFlight, shed } = shedding.signals;
    const opts = shedding.opts;
    // what was refused, and why, once every 10 s while it happens
    const report = setInterval(() => {
      if (Object.keys(shed).length === 0) return;
      app.log.warn({ shed: { ...shed }, inFlightLimit: inFlight.limit(opts), answersPerSecond: Math.round(inFlight.rate), capacity: Math.round(inFlight.capacity) }, 'load shedding: signatures refused with 503');
      for (const k of Object.keys(shed)) delete shed[k];
    }, 10_000).unref();
    stopShedding.push(() => clearInterval(report));
    app.addHook('onClose', async () => stopShedding.forEach((stop) => stop()));
  }

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(formbody, { bodyLimit: 256 * 1024 });
  // parses cookies for the staff session; nothing is signed with it (the token is opaque)
  await app.register(cookie);
  app.decorateRequest('staff', null);
  app.decorateRequest('staffSessionId', null);

  // every answer Fastify gives, by its route's pattern (never the URL, which holds slugs and
  // tokens); a request no route matched is 'unmatched'. onResponse runs for the pages too
  // (their reply is hijacked, but the response's end is still seen). A callback hook, so no
  // promise is made per request.
  app.addHook('onResponse', (req, reply, done) => {
    observeHttp(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.decorateRequest('clientIp', '');
  app.decorateRequest('apiKey', null);
  app.addHook('onRequest', clientIpHook(deps.internalSecret));

  // Security headers on everything Fastify answers itself (the API, health, 404s). Pages are
  // handed to SvelteKit and get theirs in web/src/hooks.server.ts (same set, plus their CSP).
  app.addHook('onSend', securityHeadersHook(apiSecurityHeaders(hsts)));
  app.addHook('onSend', jsonEscapeHook);

  const abuse = createRateLimits({ redis: deps.redis, secret: deps.signatures.secret, clock: deps.signatures.clock, config: deps.config });
  // every route that creates a signature gets these deps, limits included
  const signatures = { ...deps.signatures, abuse: deps.signatures.abuse ?? abuse };

  // the OpenAPI document, gathered from every route registered after this (docs.ts serves it)
  await app.register(swagger, swaggerOptions(deps.config.PUBLIC_BASE_URL));

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  // integrator keys; wrong ones are throttled per client address (api-key.service.ts)
  const apiKeys = { pool: deps.pool, redis: deps.redis, clock: deps.signatures.clock, secret: deps.signatures.secret, failuresPerIp: deps.config.API_KEY_FAILURES_PER_IP };
  await app.register(healthRoutes, { checks: { postgres: () => pingDatabase(deps.pool), redis: () => deps.redis.ping() } });
  await app.register(
    async (api) => {
      // the API speaks JSON and HTML forms only: anything else is 415, not a string body
      api.removeContentTypeParser('text/plain');
      api.addHook('onRequest', csrfGuard({ publicBaseUrl: deps.config.PUBLIC_BASE_URL, trustedFormOrigins: deps.config.TRUSTED_FORM_ORIGINS, internalSecret: deps.internalSecret }));
      api.addHook('onRequest', publicPostLimit(abuse));
      await api.register(actionRoutes, { cache: deps.cache, signatures, shedding });
      await api.register(confirmationRoutes, { signatures });
      const memberMailer = deps.members?.mailer ?? createMailer({ smtpUrl: deps.config.SMTP_URL, dkim: mailSigning(deps.config) });
      if (!deps.members?.mailer) api.addHook('onClose', async () => memberMailer.close());
      await api.register(memberRoutes, {
        pool: deps.pool,
        secret: deps.signatures.secret,
        clock: deps.signatures.clock,
        publicBaseUrl: deps.config.PUBLIC_BASE_URL,
        mailer: memberMailer,
        mailFrom: deps.members?.mailFrom ?? deps.config.MAIL_FROM,
        redis: deps.redis,
      });
      await api.register(packetRoutes, {
        packets: {
          pool: deps.pool,
          secret: deps.signatures.secret,
          clock: deps.signatures.clock,
          countryMin: deps.config.PUBLIC_COUNTRY_MIN,
          organisation: deps.config.ORG_NAME,
        },
      });
      await api.register(staffRoutes, {
        staff: {
          pool: deps.pool,
          redis: deps.redis,
          clock: deps.staff?.clock ?? deps.signatures.clock,
          publicBaseUrl: deps.config.PUBLIC_BASE_URL,
          secret: deps.signatures.secret,
        },
      });
      await api.register(adminRoutes, {
        prefix: '/admin',
        admin: {
          pool: deps.pool,
          redis: deps.redis,
          clock: deps.staff?.clock ?? deps.signatures.clock,
          publicBaseUrl: deps.config.PUBLIC_BASE_URL,
          secret: deps.signatures.secret,
          cache: deps.cache,
          mailer: memberMailer,
          mailFrom: deps.members?.mailFrom ?? deps.config.MAIL_FROM,
          organisation: deps.config.ORG_NAME,
          countryMin: deps.config.PUBLIC_COUNTRY_MIN,
          queues: deps.queues,
          exportDir: deps.config.EXPORT_DIR ?? '.data/exports',
          webhookAllowPrivate: deps.config.WEBHOOK_ALLOW_PRIVATE,
        },
      });
      await api.register(countRoutes, { cache: deps.cache });
      await api.register(receiptRoutes, { receipts: { pool: deps.pool } });
      await api.register(v1Routes, {
        prefix: '/v1',
        keys: apiKeys,
        cache: deps.cache,
        signatures,
        publicBaseUrl: deps.config.PUBLIC_BASE_URL,
      });
      await api.register(osdiRoutes, {
        prefix: '/osdi/v1',
        keys: apiKeys,
        cache: deps.cache,
        signatures,
        publicBaseUrl: deps.config.PUBLIC_BASE_URL,
      });
      await api.register(docsRoutes, { document: () => app.swagger() });
    },
    { prefix: '/api' },
  );

  // the embeddable widget's script (see widget.ts), from memory
  app.get('/widget.js', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(WIDGET_JS),
  );

  // what nginx in front answers its own refusals with (refusals.ts)
  refusalRoutes(app);

  // pages: everything outside /api goes to SvelteKit (pages.ts)
  if (deps.webHandler) await app.register(pageRoutes, { handler: deps.webHandler, secret: deps.signatures.secret, clock: deps.signatures.clock });

  return app;
}
