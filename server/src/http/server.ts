// The server process: API and pages on one port. SIGTERM stops taking connections,
// lets in-flight requests finish, and closes the pools.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ActionCache } from '../action/action.service.ts';
import { ConfigError, loadConfig } from '../config/config.ts';
import { createDb } from '../db/db.ts';
import { mailSigning } from '../mail/mailer.ts';
import { enforceRedisConfig } from '../queue/redis-config.ts';
import { batchCalls, createQueues, redisConnection } from '../queue/queue.ts';
import { SignatureWriter } from '../signature/signature.repository.ts';
import { buildApp } from './app.ts';
import { ANSWER_FORM_BODY_LIMIT, PEER_HEADER, type NodeHandler } from './pages.ts';
import { exitWithParent } from '../shared/parent-watch.ts';
import { startMetricsEndpoint } from '../shared/metrics.ts';
import { loadKeyring } from '../privacy/personal-data.ts';

const WEB_HANDLER = fileURLToPath(new URL('../../../web/build/handler.js', import.meta.url));

async function main() {
  const config = loadConfig();
  // the "my data" emails are DKIM-signed (app.ts): no key, no start (before anything connects)
  mailSigning(config);
  // personal data is sealed under DATA_KEY: no key, no start
  loadKeyring();
  const internalSecret = randomBytes(24).toString('hex');
  const db = createDb(config.DATABASE_URL, { max: config.DATABASE_POOL_MAX ?? 24, applicationName: 'chorus-server' });
  const redis = redisConnection(config.REDIS_URL, { forWorker: false });
  redis.on('error', () => {});
  const queues = createQueues(redisConnection(config.REDIS_URL, { forWorker: false }).on('error', () => {}));
  const cache = new ActionCache(db.pool, { actionsRefreshMs: config.ACTIONS_REFRESH_MS, countsRefreshMs: 250, countryMin: config.PUBLIC_COUNTRY_MIN });
  await cache.start();
  const writer = new SignatureWriter(db.pool);

  let webHandler: NodeHandler | undefined;
  if (existsSync(WEB_HANDLER)) {
    // the pages call the API on this same process, marked with a per-process secret
    process.env.CHORUS_INTERNAL_SECRET = internalSecret;
    process.env.CHORUS_API_URL = `http://127.0.0.1:${config.PORT}`;
    process.env.PUBLIC_BASE_URL = config.PUBLIC_BASE_URL;
    // SvelteKit checks form posts against this origin (cross-site request protection)
    process.env.ORIGIN = config.PUBLIC_BASE_URL;
    // room for an official's attachments on the packet page (3 × 5 MB; the API checks each);
    // every other page is held to PAGE_BODY_LIMIT (512 kB) by pages.ts before SvelteKit reads it
    process.env.BODY_SIZE_LIMIT ??= String(ANSWER_FORM_BODY_LIMIT);
    // SvelteKit learns the client address from the header pages.ts sets (under TRUSTED_PROXIES)
    process.env.ADDRESS_HEADER = PEER_HEADER;
    webHandler = (await import(pathToFileURL(WEB_HANDLER).href)).handler as NodeHandler;
  }

  const app = await buildApp({
    config,
    pool: db.pool,
    redis,
    cache,
    internalSecret,
    webHandler,
    queues,
    shedding: { inFlightLatencyMs: config.SHED_SIGNING_LATENCY_MS, minInFlight: config.SHED_MIN_IN_FLIGHT, maxEventLoopLagMs: config.SHED_EVENT_LOOP_LAG_MS, maxWriterWaitMs: config.SHED_WRITER_WAIT_MS, retryAfterSeconds: 1 },
    signatures: {
      pool: db.pool,
      cache,
      writer,
      // one Redis round trip per few milliseconds of signatures, not one per signature
      queues: { enqueueConfirmations: batchCalls((items) => queues.enqueueConfirmations(items)) },
      secret: config.SECRET_KEY,
      clock: () => new Date(),
      confirmLinkTtlHours: config.CONFIRM_LINK_TTL_HOURS,
    },
  });
  await enforceRedisConfig(redis, { mode: config.REDIS_EVICTION_CHECK, log: app.log });
  if (!webHandler) app.log.warn('web/build/handler.js not found: serving the API only (run the web build)');
  // Prometheus metrics on a port of their own, never on PORT (shared/metrics.ts); a taken
  // port stops the start here, with its reason
  const metrics = await startMetricsEndpoint({ host: config.METRICS_HOST, port: config.METRICS_PORT, setting: 'METRICS_PORT' });

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000).unref();
    await app.close();
    await metrics?.close();
    cache.stop();
    await queues.close();
    redis.disconnect();
    await db.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  exitWithParent();

  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error('chorus server failed to start:', err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
