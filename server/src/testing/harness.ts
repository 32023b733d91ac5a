// Test support: an app built on the test database and Redis (set by `npm test`), and
// fixtures with unique slugs so tests never depend on each other's rows.
import { randomBytes, randomUUID } from 'node:crypto';
import { ActionCache } from '../action/action.service.ts';
import { loadConfig, type Config } from '../config/config.ts';
import { ActionKind, ActionStatus, createDb, DeliveryPolicy, TargetKind, TargetMode, type Db } from '../db/db.ts';
import { prismaOn } from '../db/prisma.ts';
import { createQueues, redisConnection, type Queues } from '../queue/queue.ts';
import { recordConfirmations, SignatureWriter, type NewSignature } from '../signature/signature.repository.ts';
import { buildApp } from '../http/app.ts';
import type { LoadShedderOptions } from '../http/load-shedding.ts';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createSession } from '../staff/session.ts';
import { isTransientConflict } from '../db/conflict.ts';
import { insertUser } from '../staff/staff.repository.ts';
import type { StaffRole } from '../staff/staff.schema.ts';
import type { Redis } from 'ioredis';
import { checkEveryInject } from './openapi.ts';
import { createMailer, mailSigning, type Mailer } from '../mail/mailer.ts';
import { startMailbox, type Mailbox } from '../mailbox/mailbox.service.ts';
import type { ConfirmationMailDeps } from '../signature/confirmation.service.ts';

export interface Harness {
  app: FastifyInstance;
  db: Db;
  redis: Redis;
  queues: Queues;
  cache: ActionCache;
  secret: string;
  /** the configuration this harness built its app from (the environment, with `env` over it) */
  config: Config;
  now: { value: Date };
  close(): Promise<void>;
}

/**
 * `env` overrides the environment for this app's configuration (e.g. low rate limits);
 * `shedding` turns load shedding on (off by default in tests).
 */
export async function createHarness(
  opts: { env?: Record<string, string>; shedding?: LoadShedderOptions & { lag?: { lagMs: number } } } = {},
): Promise<Harness> {
  const config = loadConfig({ ...process.env, ...opts.env });
  const db = createDb(config.DATABASE_URL, { max: 10, applicationName: 'chorus-test' });
  const redis = redisConnection(config.REDIS_URL, { forWorker: false });
  const queues = createQueues(redisConnection(config.REDIS_URL, { forWorker: false }));
  const cache = new ActionCache(db.pool, { actionsRefreshMs: 60_000, countsRefreshMs: 60_000, countryMin: config.PUBLIC_COUNTRY_MIN });
  await cache.start();
  const now = { value: new Date() };
  const app = await buildApp({
    config: { ...config, LOG_LEVEL: 'silent' },
    pool: db.pool,
    redis,
    cache,
    internalSecret: randomBytes(16).toString('hex'),
    logger: false,
    queues,
    shedding: opts.shedding,
    signatures: {
      pool: db.pool,
      cache,
      writer: new SignatureWriter(db.pool),
      queues,
      secret: config.SECRET_KEY,
      clock: () => now.value,
      confirmLinkTtlHours: config.CONFIRM_LINK_TTL_HOURS,
    },
  });
  await app.ready();
  // every answer of a documented route is checked against the OpenAPI document (testing/openapi.ts)
  checkEveryInject(app);
  return {
    app,
    db,
    redis,
    queues,
    cache,
    secret: config.SECRET_KEY,
    config,
    now,
    async close() {
      // archive this run's fixtures so the public pages of later cross-process tests list
      // only the demo campaign and what those tests create
      await db.pool.query(
        `UPDATE actions SET status = 'ARCHIVED', archived_at = now()
         WHERE campaign_id IN (SELECT id FROM campaigns WHERE slug = 'test-campaign') AND status <> 'ARCHIVED'`,
      );
      await app.close();
      cache.stop();
      await queues.close();
      redis.disconnect();
      await db.close();
    },
  };
}

/** What delivering a letter takes from the configuration (LetterDeps), as the workers process passes it. */
export function letterConfig(h: Pick<Harness, 'config'>) {
  return { packetSecret: h.config.SECRET_KEY, publicBaseUrl: h.config.PUBLIC_BASE_URL, countryMin: h.config.PUBLIC_COUNTRY_MIN };
}

export function uniqueSlug(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function uniqueEmail(name = 'signer'): string {
  return `${name}.${randomUUID().slice(0, 8)}@example.org`;
}

export interface FixtureOptions {
  kind?: ActionKind;
  status?: ActionStatus;
  signingEnabled?: boolean;
  deliveryPolicy?: DeliveryPolicy;
  deliveryEveryN?: number;
  targetMode?: TargetMode;
  targets?: { country: string | null; language: string; email?: string }[];
  locales?: string[];
}

/** Creates a campaign-less action (in a shared test campaign) with texts and targets. */
export async function createAction(db: Db, opts: FixtureOptions = {}) {
  const slug = uniqueSlug('act');
  const campaign = await prismaOn(db.pool).campaign.upsert({
    where: { slug: 'test-campaign' },
    update: {},
    create: { slug: 'test-campaign', texts: { create: { locale: 'en', name: 'Test campaign' } } },
  });
  const targets = [];
  for (const t of opts.targets ?? [{ country: 'UZ', language: 'en' }]) {
    targets.push(
      await prismaOn(db.pool).target.create({
        data: {
          slug: uniqueSlug('tgt'),
          name: `Minister ${randomUUID().slice(0, 4)}`,
          title: 'Minister',
          kind: TargetKind.MINISTRY,
          country: t.country,
          email: t.email ?? `${uniqueSlug('minister')}@gov.example`,
          language: t.language,
          salutation: t.language === 'es' ? 'Estimado Ministro' : 'Dear Minister',
        },
      }),
    );
  }
  const action = await prismaOn(db.pool).action.create({
    data: {
      slug,
      kind: opts.kind ?? ActionKind.PETITION,
      status: opts.status ?? ActionStatus.PUBLISHED,
      signingEnabled: opts.signingEnabled ?? true,
      deliveryPolicy: opts.deliveryPolicy ?? DeliveryPolicy.IMMEDIATE,
      deliveryEveryN: opts.deliveryEveryN ?? 1,
      targetMode: opts.targetMode ?? TargetMode.FIXED,
      goal: 100,
      publishedAt: new Date(),
      campaignId: campaign.id,
      texts: {
        create: (opts.locales ?? ['en']).map((locale) => ({
          locale,
          title: `Title ${locale} ${slug}`,
          summary: `Summary ${locale}`,
          body: `Body ${locale}`,
          letterSubject: `Subject ${locale}`,
          officialRequest: `Request to officials ${locale}`,
        })),
      },
      targets: { create: targets.map((t, position) => ({ targetId: t.id, position })) },
    },
  });
  return { action, targets };
}

export function signBody(overrides: Record<string, unknown> = {}) {
  return {
    firstName: 'Ana',
    lastName: 'López',
    email: uniqueEmail('ana'),
    country: 'MX',
    consentCount: true,
    ...overrides,
  };
}

/**
 * Confirms the pending signatures `s` (with their supporter `p`) that match `where`, writing what
 * an owner's confirmation writes (recordConfirmations: the sign-up's name and country become the
 * supporter's, consent records); answers their ids.
 */
export async function confirmSignatures(pool: Db['pool'], where: string, params: unknown[], at = new Date()): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(`SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE ${where}`, params);
  const ids = rows.map((r) => r.id);
  // all at once, these lock the signatures before their supporters, where one confirmation (and
  // the workers' email budget) takes the supporter first: retry a deadlock as the confirm route does
  for (let attempt = 1; ; attempt++) {
    try {
      await recordConfirmations(pool, ids, at);
      return ids;
    } catch (err) {
      if (attempt >= 5 || !isTransientConflict(err)) throw err;
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}

/** A signed-in staff member of `role`, as the cookie header a request would carry. */
export async function staffSession(db: Db, role: StaffRole, name = `Test ${role.toLowerCase()}`) {
  const email = uniqueEmail(`staff-${role.toLowerCase()}`);
  const user = await insertUser(db.pool, { email, name, role, passwordHash: 'not-a-login-hash', createdAt: new Date() });
  if (!user) throw new Error('staff email collision');
  const token = await createSession({ pool: db.pool, clock: () => new Date() }, user.id);
  return { id: user.id, email, role, cookie: `chorus_staff=${token}` };
}

/** inject() as that staff member, with the console's CSRF header on every request. */
export function asStaff(app: FastifyInstance, cookie: string | null, opts: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject({
    ...opts,
    headers: { ...(opts.headers ?? {}), ...(cookie ? { cookie } : {}), 'x-chorus-csrf': '1' },
  });
}

/** A signature as the signing path hands it to the writer (SignatureWriter.write), for tests of the writer itself. */
export function newSignature(actionId: string, email: string, overrides: Partial<NewSignature> = {}): NewSignature {
  return {
    actionId,
    email,
    canonicalEmail: email.toLowerCase(),
    firstName: 'Ana',
    lastName: 'López',
    country: 'MX',
    locale: 'en',
    namedDisclosure: false,
    namedToOwnCountry: false,
    publicWall: false,
    contact: false,
    letterSubject: null,
    letterBody: null,
    ipHash: null,
    netHash: null,
    source: null,
    suspicious: false,
    ...overrides,
  };
}

/**
 * What the mail worker gives the confirmation and reminder code, for tests that run it
 * themselves: the harness's database and key, `mailer`, links valid two weeks, links to
 * http://chorus.test; `over` sets the clock, the budget and the rest.
 */
export function confirmationMailDeps(h: Pick<Harness, 'db' | 'secret'>, mailer: Mailer, over: Partial<ConfirmationMailDeps> = {}): ConfirmationMailDeps {
  return {
    pool: h.db.pool,
    mailer,
    secret: h.secret,
    clock: () => new Date(),
    confirmLinkTtlHours: 336,
    publicBaseUrl: 'http://chorus.test',
    mailFrom: 'Chorus <actions@chorus.example.org>',
    ...over,
  };
}

/**
 * A development mailbox on free ports and a mailer that sends to it (unpooled, so each message
 * is on the wire when `sendMail` resolves), signing as the platform's does with the test
 * configuration's key: what the in-process tests that read emails share.
 */
export async function startTestMail(): Promise<{ mailbox: Mailbox; mailer: Mailer }> {
  const mailbox = await startMailbox({ smtpPort: 0, httpPort: 0 });
  const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${mailbox.smtpPort}?tls=off`, pool: false, dkim: mailSigning(loadConfig()) });
  return { mailbox, mailer };
}
