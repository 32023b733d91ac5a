// The OpenAPI document without a running server, database or Redis: the app is built on
// dependencies it never uses (a pool and a Redis client that never connect, a mailer that never
// sends), its document is read, and it is closed. The web's API types are generated from this
// document at build time (server/bin/web-contract.ts), so the pages and the API share one
// contract: the route schemas.
import { Redis } from 'ioredis';
import pg from 'pg';
import type { OpenAPIV3_1 } from 'openapi-types';
import { ActionCache } from '../action/action.service.ts';
import { loadConfig } from '../config/config.ts';
import { createMailer } from '../mail/mailer.ts';
import { SignatureWriter } from '../signature/signature.repository.ts';
import { buildApp } from './app.ts';

/** Where the document says the API is served: fixed, so the document does not depend on who builds it. */
const SERVER_URL = 'http://localhost:3000';

export async function openapiDocument(): Promise<OpenAPIV3_1.Document> {
  // a configuration of defaults only; the secret signs nothing here
  const env = { SECRET_KEY: 'openapi-document-openapi-document-0123', PUBLIC_BASE_URL: SERVER_URL, LOG_LEVEL: 'silent' };
  const config = loadConfig(env);
  const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 1 });
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  redis.on('error', () => {});
  const cache = new ActionCache(pool);
  const mailer = createMailer({ smtpUrl: config.SMTP_URL, dkim: null });
  const app = await buildApp({
    config,
    pool,
    redis,
    cache,
    internalSecret: 'openapi-document',
    logger: false,
    members: { mailer },
    signatures: {
      pool,
      cache,
      writer: new SignatureWriter(pool),
      queues: { enqueueConfirmations: async () => {} },
      secret: config.SECRET_KEY,
      clock: () => new Date(),
      confirmLinkTtlHours: config.CONFIRM_LINK_TTL_HOURS,
    },
  });
  try {
    await app.ready();
    return structuredClone(app.swagger()) as OpenAPIV3_1.Document;
  } finally {
    await app.close();
    mailer.close();
    redis.disconnect();
    await pool.end();
  }
}
