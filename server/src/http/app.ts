// The Fastify application: plugins, the error handler, the API routes, and the SvelteKit
// handler for every path that is not the API. Dependencies come in, so tests can build an
// app against a test database and call it with inject().
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { DEFAULT_PUBLIC_COUNTRY_MIN, type Config } from '../config/config.ts';
import type { ActionCache } from '../action/action.service.ts';
import type { SignatureDeps } from '../signature/signature.service.ts';
import { DOCS_CSP, DOCS_CSS, renderDocs, swaggerOptions } from './openapi.ts';
import type { OpenAPIV3_1 } from 'openapi-types';
import { AppError, forbidden, tooMany } from '../shared/errors.ts';
import { isTransientConflict } from '../db/conflict.ts';
import { validationIssues } from './validation-issues.ts';
import { createAbuseGuard, DEFAULT_WINDOW_MS } from '../abuse/abuse.service.ts';
import { actionRoutes } from './routes/actions.ts';
import { confirmationRoutes } from './routes/confirmations.ts';
import { healthRoutes } from './routes/health.ts';
import { memberRoutes } from './routes/members.ts';
import { packetRoutes } from './routes/packets.ts';
import { staffRoutes } from './routes/staff.ts';
import { adminRoutes } from './routes/admin/index.ts';
import { v1Routes } from './routes/v1.ts';
import { countRoutes } from './routes/counts.ts';
import { WIDGET_JS } from './widget.ts';
import { osdiRoutes } from './routes/osdi.ts';
import type { Queues } from '../queue/queue.ts';
import { createMailer, type Mailer } from '../mail/mailer.ts';
import { fastReads } from './fast-reads.ts';
import { apiSecurityHeaders } from './security-headers.ts';
import { earlyRefusal, EventLoopLag, InFlight, type LoadShedderOptions, type ShedSignals } from './load-shedding.ts';
import { verifyToken } from '../shared/tokens.ts';
import { PACKET_PURPOSE } from '../delivery/packet.service.ts';
import { RENDER_KEY_HEADER, cachedPageKey, pageCache } from '../shared/page-cache.ts';
import { isLocale, negotiateLocale, type Locale } from '../shared/locales.ts';

const JSON_ESCAPES: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026' };

/** two years, subdomains too: sent only when PUBLIC_BASE_URL is https */
export const HSTS = 'max-age=63072000; includeSubDomains';

/** the header through which the SvelteKit handler learns the client address (see server.ts) */
export const PEER_HEADER = 'x-chorus-peer';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

export interface AppDeps {
  config: Pick<Config, 'LOG_LEVEL' | 'PUBLIC_BASE_URL' | 'SMTP_URL' | 'MAIL_FROM'> &
    Partial<Pick<Config, 'EXPORT_DIR' | 'TRUSTED_PROXIES' | 'TRUSTED_FORM_ORIGINS' | 'SIGN_LIMIT_PER_IP' | 'SIGN_LIMIT_PER_API_KEY' | 'PUBLIC_POST_LIMIT_PER_IP' | 'PUBLIC_COUNTRY_MIN'>> &
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

declare module 'fastify' {
  interface FastifyRequest {
    /** the client's address: the socket's, or the one the SvelteKit server forwarded */
    clientIp: string;
  }
}

/** Page form bodies (sign, confirm, my data, the staff console): 413 beyond this. */
export const PAGE_BODY_LIMIT = 512 * 1024;
/**
 * The officials' answer form on the packet page carries up to 3 attachments of 5 MB (base64 in
 * the API call, raw in the form): its own limit, the SvelteKit handler's BODY_SIZE_LIMIT
 * (server.ts sets both from this).
 */
export const ANSWER_FORM_BODY_LIMIT = 16 * 1024 * 1024;
const ANSWER_FORM = /^\/(?:[a-z]{2}\/)?packet\/([^/?#]+)\/?(?:[?#]|$)/;

/** A post to the packet page of a packet link that is valid now. */
function isAnswerForm(url: string, secret: string, now: Date): boolean {
  const m = ANSWER_FORM.exec(url);
  if (!m) return false;
  let token: string;
  try {
    token = decodeURIComponent(m[1]!);
  } catch {
    return false;
  }
  return verifyToken(secret, PACKET_PURPOSE, token, now).ok;
}

const TOO_LARGE: Record<Locale, { title: string; text: string }> = {
  en: { title: 'Too much data', text: 'What you sent is larger than this form accepts. Go back, shorten it and send it again.' },
  es: { title: 'Demasiados datos', text: 'Lo que ha enviado supera lo que admite este formulario. Vuelva atrás, acórtelo y envíelo de nuevo.' },
  fr: { title: 'Trop de données', text: 'Ce que vous avez envoyé dépasse ce que ce formulaire accepte. Revenez en arrière, raccourcissez-le et renvoyez-le.' },
  ru: { title: 'Слишком много данных', text: 'Отправленное превышает то, что принимает эта форма. Вернитесь назад, сократите текст и отправьте снова.' },
};

/** The page that answers a form body over its limit (413) or of unknown length (411), in the page's language. */
function bodyRefusalPage(url: string, acceptLanguage: string | undefined): string {
  const prefix = url.split('/')[1];
  const locale = isLocale(prefix) ? prefix : negotiateLocale(acceptLanguage);
  const { title, text } = TOO_LARGE[locale];
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><main><h1>${title}</h1><p>${text}</p></main></body></html>`;
}

/** Paths whose segments carry secrets (emailed tokens) are logged without them. */
function redactUrl(url: string): string {
  return url
    .replace(/\/(confirm|confirmations|unsubscribe|my-data|packet|packets)\/(?!requests(?:[/?#]|$))[^/?#]+/g, '/$1/[token]')
    .replace(/\?.*$/, '');
}

function sameSecret(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== 'string' || given.length !== secret.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(secret));
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
  const securityHeaders = apiSecurityHeaders(hsts);
  const early = shedding ? earlyRefusal(shedding.signals, shedding.opts, hsts) : null;
  // the count and fresh action pages from memory, before routing (fast-reads.ts)
  const fast = fastReads({ cache: deps.cache, hsts, pages: Boolean(deps.webHandler) });

  const app = Fastify({
    // a signature the server would refuse is refused before Fastify sees the request
    // (earlyRefusal in load-shedding.ts): in an overload most requests are refused, and this
    // makes each refusal cost a fraction of a routed one
    serverFactory: (handler) => {
      const server = createServer((req, res) => {
        if (early?.(req, res) || fast(req, res)) return;
        handler(req, res);
      });
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = 30_000;
      server.setTimeout(30_000);
      return server;
    },
    logger:
      deps.logger === false
        ? false
        : {
            level: deps.config.LOG_LEVEL,
            redact: ['req.headers.cookie', 'req.headers.authorization'],
            serializers: {
              // no addresses, no query strings, no tokens in logs
              req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url) }),
            },
            ...(typeof deps.logger === 'object' ? deps.logger : {}),
          },
    bodyLimit: 256 * 1024,
    // emailed tokens travel in the path; longer values are refused by the route schemas
    routerOptions: { maxParamLength: 1024 },
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

  app.decorateRequest('clientIp', '');
  app.decorateRequest('apiKey', null);
  app.addHook('onRequest', async (req) => {
    const forwarded = req.headers['x-chorus-client-ip'];
    req.clientIp =
      sameSecret(req.headers['x-chorus-internal'], deps.internalSecret) && typeof forwarded === 'string' && forwarded.length <= 64
        ? forwarded
        : req.ip;
  });

  // Security headers on everything Fastify answers itself (the API, health, 404s). Pages are
  // handed to SvelteKit and get theirs in web/src/hooks.server.ts (same set, plus their CSP).
  app.addHook('onSend', async (_req, reply) => {
    // a page from the page cache already carries the headers SvelteKit gave it (page-cache.ts)
    if (reply.getHeader('x-cache') === 'hit') return;
    for (const [name, value] of Object.entries(securityHeaders)) {
      // a route with a CSP of its own (the API docs page) keeps it
      if (name !== 'content-security-policy' || !reply.hasHeader(name)) reply.header(name, value);
    }
  });
  // JSON never carries markup characters as such: `<`, `>` and `&` can only occur inside JSON
  // strings, where \u003c, \u003e and \u0026 mean the same to every JSON parser. So an answer
  // that repeats what a client sent (a field name it got wrong, say) cannot be read as HTML by
  // anything that sniffs or mis-serves it.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (typeof payload !== 'string' || !/^application\/json/.test(String(reply.getHeader('content-type') ?? ''))) return payload;
    return /[<>&]/.test(payload) ? payload.replace(/[<>&]/g, (c) => JSON_ESCAPES[c]!) : payload;
  });

  // Rate limits of the public forms (server/src/abuse): counters in Redis, keyed by HMACs
  const abuse = createAbuseGuard({
    redis: deps.redis,
    secret: deps.signatures.secret,
    clock: deps.signatures.clock,
    limits: {
      signPerIp: deps.config.SIGN_LIMIT_PER_IP ?? 100,
      postPerIp: deps.config.PUBLIC_POST_LIMIT_PER_IP ?? 300,
      signPerApiKey: deps.config.SIGN_LIMIT_PER_API_KEY ?? 1000,
      windowMs: DEFAULT_WINDOW_MS,
    },
  });
  // every route that creates a signature gets these deps, limits included
  const signatures = { ...deps.signatures, abuse: deps.signatures.abuse ?? abuse };

  await app.register(swagger, swaggerOptions(deps.config.PUBLIC_BASE_URL));

  app.setErrorHandler((err, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = validationIssues(err.validation, err.validationContext, req);
      return reply.code(422).send({
        statusCode: 422,
        error: 'Unprocessable Entity',
        code: 'validation_failed',
        message: issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
        issues,
      });
    }
    if (err instanceof AppError) {
      return reply
        .code(err.statusCode)
        .headers(err.headers)
        .send({
          statusCode: err.statusCode,
          error: reasonPhrase(err.statusCode),
          code: err.code,
          message: err.message,
          ...(err.issues ? { issues: err.issues } : {}),
        });
    }
    const status = typeof (err as { statusCode?: unknown }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, wrong content type, too large): say what, not where
      return reply.code(status).send({ statusCode: status, error: reasonPhrase(status), code: clientCode(status, err as Error), message: clientMessage(status, err as Error) });
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ code: (err as { code?: string }).code }, 'PostgreSQL or Redis unavailable');
      return reply
        .code(503)
        .header('retry-after', '5')
        .send({ statusCode: 503, error: 'Service Unavailable', code: 'unavailable', message: 'The service is briefly unavailable; please try again shortly' });
    }
    if (isTransientConflict(err)) {
      // a transaction that lost a race with another (deadlock, serialization failure) and
      // still did after its retries: nothing of it was written; trying again is the answer
      req.log.warn({ code: (err as { code?: string }).code }, 'transaction conflict after retries');
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ statusCode: 503, error: 'Service Unavailable', code: 'busy', message: 'Too many changes to the same record at once; please try again in a moment' });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', code: 'internal', message: 'Something went wrong on our side; it has been logged' });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ statusCode: 404, error: 'Not Found', code: 'not_found', message: `No route for ${req.method} ${redactUrl(req.url)}` });
  });

  // integrator keys; wrong ones are throttled per client address (api-key.service.ts)
  const apiKeys = { pool: deps.pool, redis: deps.redis, clock: deps.signatures.clock, secret: deps.signatures.secret, failuresPerIp: deps.config.API_KEY_FAILURES_PER_IP };
  await app.register(healthRoutes, { pool: deps.pool, redis: deps.redis, cache: deps.cache });
  await app.register(
    async (api) => {
      // the API speaks JSON and HTML forms only: anything else is 415, not a string body
      api.removeContentTypeParser('text/plain');
      // CSRF for the public API. The staff routes have their own guard (session.ts). A request
      // from a browser says where it comes from (Origin, Sec-Fetch-Site): only our own pages,
      // and the origins in TRUSTED_FORM_ORIGINS, may change anything. The SvelteKit server's
      // own calls carry the internal secret; servers and scripts send neither header. The
      // RFC 8058 unsubscribe is posted by mail providers and carries its own token.
      const formOrigins = new Set([new URL(deps.config.PUBLIC_BASE_URL).origin, ...(deps.config.TRUSTED_FORM_ORIGINS ?? [])]);
      api.addHook('onRequest', async (req) => {
        if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
        // (the integrator APIs need an API key in the Authorization header, which no cross-site form or
        // un-preflighted fetch can send)
        if (/^\/api\/(staff|admin|unsubscribe|v1|osdi)\//.test(req.url)) return;
        if (sameSecret(req.headers['x-chorus-internal'], deps.internalSecret)) return;
        const origin = req.headers.origin;
        const site = req.headers['sec-fetch-site'];
        if (typeof origin === 'string' ? formOrigins.has(origin) : site === undefined || site === 'same-origin' || site === 'none') return;
        throw forbidden('csrf', 'Cross-site request refused: post from this site’s own pages');
      });
      // other public POSTs: a plain 429 past the per-address limit (signing has its own, silent one;
      // staff sign-in has its own throttle; the console's writes need a session; the integrator APIs
      // need an API key)
      api.addHook('onRequest', async (req) => {
        if (req.method !== 'POST' || /^\/api\/(staff|admin|v1|osdi)\//.test(req.url) || /^\/api\/actions\/[^/]+\/signatures(?:[?#]|$)/.test(req.url)) return;
        const verdict = await abuse.allowPost(req.clientIp);
        if (!verdict.ok) throw tooMany('rate_limited', 'Too many requests from your network; please try again later', verdict.retryAfter);
      });
      await api.register(actionRoutes, { cache: deps.cache, signatures, shedding });
      await api.register(confirmationRoutes, { signatures });
      const memberMailer = deps.members?.mailer ?? createMailer({ smtpUrl: deps.config.SMTP_URL });
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
        packets: { pool: deps.pool, secret: deps.signatures.secret, clock: deps.signatures.clock, countryMin: deps.config.PUBLIC_COUNTRY_MIN ?? DEFAULT_PUBLIC_COUNTRY_MIN },
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
          queues: deps.queues,
          exportDir: deps.config.EXPORT_DIR ?? '.data/exports',
          webhookAllowPrivate: deps.config.WEBHOOK_ALLOW_PRIVATE,
        },
      });
      await api.register(countRoutes, { cache: deps.cache });
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
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      // the reference page, rendered once on first request (the document does not change)
      let docsHtml: string | undefined;
      api.get('/docs', { schema: { hide: true } }, async (_req, reply) => {
        docsHtml ??= renderDocs(app.swagger() as OpenAPIV3_1.Document);
        return reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CSP).header('cache-control', 'public, max-age=300').send(docsHtml);
      });
      api.get('/docs/docs.css', { schema: { hide: true } }, async (_req, reply) =>
        reply.type('text/css; charset=utf-8').header('content-security-policy', DOCS_CSP).header('cache-control', 'public, max-age=300').send(DOCS_CSS),
      );
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

  if (deps.webHandler) {
    const handler = deps.webHandler;
    // Pages: everything outside /api goes to SvelteKit, with the body left unread for it.
    await app.register(async (web) => {
      web.removeAllContentTypeParsers();
      web.addContentTypeParser('*', (_req, _payload, done) => done(null));
      // SvelteKit reads the client address from this header (ADDRESS_HEADER, set in
      // server.ts): the one Fastify worked out under TRUSTED_PROXIES, never one a client sent
      const toSvelteKit = async (req: FastifyRequest, reply: FastifyReply) => {
        // Form bodies are bounded before SvelteKit reads any of them: 512 kB, the answer form
        // its own limit. Over it, 413 at once from the Content-Length, without reading the body;
        // a body of unknown length (chunked) is refused with 411 outside the answer form (forms
        // in browsers always send a length), so no page buffers more than its limit. The
        // connection is closed after the answer, so the unread rest goes nowhere.
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          // the answer form's larger limit is for a packet link that is valid now: any other
          // path under /packet/ is held to the page limit, so no made-up link makes the server
          // read 16 MB
          const answerForm = isAnswerForm(req.url, deps.signatures.secret, deps.signatures.clock());
          const limit = answerForm ? ANSWER_FORM_BODY_LIMIT : PAGE_BODY_LIMIT;
          const length = req.headers['content-length'];
          const status = length !== undefined ? (Number(length) > limit ? 413 : 0) : req.headers['transfer-encoding'] !== undefined && !answerForm ? 411 : 0;
          if (status) {
            return reply
              .code(status)
              .header('connection', 'close')
              .type('text/html; charset=utf-8')
              .header('cache-control', 'no-store')
              .send(bodyRefusalPage(req.url, req.headers['accept-language']));
          }
        }
        // only the server decides which rendering SvelteKit stores (page-cache.ts)
        delete req.raw.headers[RENDER_KEY_HEADER];
        // a public action page rendered within the last second is sent as it is (page-cache.ts);
        // no other request waits on the cache or is stored in it
        const key = req.method === 'GET' && req.headers.cookie === undefined ? cachedPageKey(req.url, req.headers['accept-language']) : null;
        if (key) {
          const cache = pageCache();
          let found = cache.lookup(key);
          if (found.kind === 'wait') {
            // another reader is rendering this page: wait for it, released on every path
            // (stored or not); the timer is only a backstop
            await Promise.race([found.done, new Promise((r) => setTimeout(r, cache.limits.staleMs).unref())]);
            found = cache.lookup(key);
            // still being rendered by another: render for ourselves, without storing
            if (found.kind === 'wait') found = { kind: 'pass' };
          }
          if (found.kind === 'hit') {
            const hit = found.page;
            return reply.code(hit.status).headers(hit.headers).header('x-cache', 'hit').send(hit.body);
          }
          if (found.kind === 'render') {
            const ticket = found.ticket;
            req.raw.headers[RENDER_KEY_HEADER] = key;
            // stored by the hook or not, the waiters go on once this answer is over
            reply.raw.once('close', () => cache.release(key, ticket));
          }
        }
        req.raw.headers[PEER_HEADER] = req.ip;
        // A page that answers without reading the body it was posted (a form action that needs
        // none, an error before the body is read) must not leave the rest of the body in the
        // socket: the next request on that keep-alive connection would wait behind it forever.
        // Once the answer is sent, what is left is read and dropped (within the body limit).
        reply.raw.once('finish', () => {
          if (!req.raw.complete) {
            req.raw.removeAllListeners('data');
            req.raw.resume();
          }
        });
        reply.hijack();
        handler(req.raw, reply.raw);
      };
      web.all('/*', { schema: { hide: true } }, toSvelteKit);
      web.all('/', { schema: { hide: true } }, toSvelteKit);
    });
  }

  return app;
}

function reasonPhrase(status: number): string {
  const phrases: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    409: 'Conflict',
    410: 'Gone',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  };
  return phrases[status] ?? 'Error';
}

function clientCode(status: number, err: Error): string {
  const code = (err as { code?: string }).code;
  if (status === 413) return 'body_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'empty_body';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return 'invalid_json';
  return 'bad_request';
}

function clientMessage(status: number, err: Error): string {
  if (status === 413) return 'The request body is too large';
  if (status === 415) return 'Send the body as application/json or application/x-www-form-urlencoded';
  const code = (err as { code?: string }).code;
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return 'The JSON body is empty';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return 'The body is not valid JSON';
  return err.message.length < 200 ? err.message : 'The request is not valid';
}

function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  const msg = String((err as { message?: string })?.message ?? '');
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === '57P01' ||
    code === '57P03' ||
    code === '08006' ||
    code === '08001' ||
    (err as { name?: string })?.name === 'MaxRetriesPerRequestError' ||
    /timeout exceeded when trying to connect|Connection terminated|Connection is closed|Stream isn't writeable/i.test(msg)
  );
}
