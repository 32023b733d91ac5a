// The worker process: BullMQ processors for confirmation emails and letters, and the
// periodic loops (counter, batcher, sweeper, reminders). Processors only translate a job into a call
// to a server/ service and let BullMQ retry what the service says is transient.
// SIGTERM stops the loops and waits for jobs in progress (worker.close()).
import { setPriority } from 'node:os';
import { Worker } from 'bullmq';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../server/src/config/config.ts';
import { createDb } from '../server/src/db/db.ts';
import { owedAnswerNotifications } from '../server/src/delivery/answer.service.ts';
import { buildDueBatches } from '../server/src/delivery/batch.service.ts';
import { startBounceServer, type BounceServer } from '../server/src/delivery/bounce.service.ts';
import { createDomainLimiter } from '../server/src/delivery/domain-limit.ts';
import { sweep } from '../server/src/delivery/sweeper.service.ts';
import { checkThresholds } from '../server/src/delivery/threshold.service.ts';
import { owedNotices } from '../server/src/supporter/member-notices.ts';
import { createBatchSignerCache, deliverLetter } from '../server/src/letter/letter.service.ts';
import { createMailer, mailSigning } from '../server/src/mail/mailer.ts';
import { QUEUE_NAMES, createQueues, redisConnection, type DeliveryJob, type MailJob } from '../server/src/queue/queue.ts';
import { mailDomain } from '../server/src/signature/confirmation.service.ts';
import { mailProcessor } from './mail.processor.ts';
import { DEFAULT_WINDOW_MS } from '../server/src/abuse/abuse.service.ts';
import { foldConfirmations } from '../server/src/signature/counter.service.ts';
import { sendDueReminders } from '../server/src/signature/reminder.service.ts';
import { createWebhookQueue, WEBHOOK_QUEUE } from '../server/src/webhook/webhook.queue.ts';
import { deliverWebhook, sweepWebhooks, type WebhookJob } from '../server/src/webhook/webhook.service.ts';
import { outboundPolicy } from '../server/src/shared/outbound.ts';
import { runRetention } from '../server/src/privacy/retention.service.ts';
import { enforceRedisConfig } from '../server/src/queue/redis-config.ts';
import { every } from './loop.ts';
import { sweepExpiredSessions } from '../server/src/staff/session.ts';
import { exitWithParent } from '../server/src/shared/parent-watch.ts';
import { registerScrapeGauges, startMetricsEndpoint } from '../server/src/shared/metrics.ts';
import { lettersByState } from '../server/src/letter/letter.service.ts';
import { loadKeyring } from '../server/src/privacy/personal-data.ts';

async function main() {
  const config = loadConfig();
  // every email is DKIM-signed: no key, no start (before anything connects)
  const dkim = mailSigning(config);
  // personal data is sealed under DATA_KEY: no key, no start
  loadKeyring();
  const log = pino({ name: 'chorus-workers', level: config.LOG_LEVEL });
  if (config.WORKERS_NICE > 0) {
    try {
      setPriority(config.WORKERS_NICE);
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not lower the workers CPU priority');
    }
  }
  const db = createDb(config.DATABASE_URL, { max: config.DATABASE_POOL_MAX ?? 16, applicationName: 'chorus-workers' });
  const queues = createQueues(redisConnection(config.REDIS_URL, { forWorker: false }).on('error', () => {}));
  const mailer = createMailer({
    smtpUrl: config.SMTP_URL,
    socketTimeoutMs: config.SMTP_SOCKET_TIMEOUT_MS,
    greetingTimeoutMs: config.SMTP_GREETING_TIMEOUT_MS,
    connectionTimeoutMs: config.SMTP_CONNECTION_TIMEOUT_MS,
    dkim,
  });
  const clock = () => new Date();
  const staleSubmittingMs = config.SUBMITTING_STALE_MS;
  // its own connection, which fails fast when Redis is away, so the limit fails open
  const limiterRedis = redisConnection(config.REDIS_URL, { forWorker: false }).on('error', () => {});
  const domainLimiter = createDomainLimiter({ redis: limiterRedis, perMinute: config.LETTERS_PER_DOMAIN_PER_MINUTE, log });
  const signerCache = createBatchSignerCache();
  let bounceServer: BounceServer | undefined;
  if (config.BOUNCE_SMTP_PORT !== undefined) {
    bounceServer = await startBounceServer({ port: config.BOUNCE_SMTP_PORT, host: config.BOUNCE_SMTP_HOST, pool: db.pool, secret: config.SECRET_KEY, clock, log });
    log.info({ host: config.BOUNCE_SMTP_HOST, port: bounceServer.port }, 'bounce server listening');
  }

  await enforceRedisConfig(limiterRedis, { mode: config.REDIS_EVICTION_CHECK, log });
  // Prometheus metrics on a port of their own (shared/metrics.ts); a taken port stops the start
  const metrics = await startMetricsEndpoint({ host: config.METRICS_HOST, port: config.WORKERS_METRICS_PORT, setting: 'WORKERS_METRICS_PORT' });
  const connection = redisConnection(config.REDIS_URL, { forWorker: true });
  connection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));

  // one address gets at most SIGN_LIMIT_PER_EMAIL confirmation emails per window; the others wait
  const confirmationBudget = { perWindow: config.SIGN_LIMIT_PER_EMAIL, windowMs: DEFAULT_WINDOW_MS };
  const mailWorker = new Worker<MailJob>(
    QUEUE_NAMES.mail,
    mailProcessor({
      answers: { pool: db.pool, mailer, secret: config.SECRET_KEY, clock, publicBaseUrl: config.PUBLIC_BASE_URL, mailFrom: config.MAIL_FROM },
      confirmations: {
        pool: db.pool,
        mailer,
        secret: config.SECRET_KEY,
        clock,
        confirmLinkTtlHours: config.CONFIRM_LINK_TTL_HOURS,
        publicBaseUrl: config.PUBLIC_BASE_URL,
        mailFrom: config.MAIL_FROM,
        budget: confirmationBudget,
      },
    }),
    { connection, concurrency: 10 },
  );
  const deliveryWorker = new Worker<DeliveryJob>(
    QUEUE_NAMES.delivery,
    async (job) =>
      deliverLetter(
        {
          pool: db.pool,
          mailer,
          mailFrom: config.MAIL_FROM,
          organisation: config.ORG_NAME,
          staleSubmittingMs,
          clock,
          queues,
          domainLimiter,
          signerCache,
          packetSecret: config.SECRET_KEY,
          publicBaseUrl: config.PUBLIC_BASE_URL,
          countryMin: config.PUBLIC_COUNTRY_MIN,
        },
        job.data.letterId,
      ),
    // a job held by a killed worker is taken back after about 15 s rather than BullMQ's 60 s
    // default, so the sweeper's re-enqueue (same job id) is not ignored for a whole minute.
    // 20 at a time: a letter spends most of its time waiting (PostgreSQL, Redis, SMTP), so
    // this keeps the pooled SMTP connections busy while others render or record
    { connection, concurrency: 20, lockDuration: 10_000, stalledInterval: 5_000 },
  );
  // webhooks: delivered from the outbox (webhook_deliveries); the loop below enqueues what is due
  // webhook endpoints on internal addresses are refused unless WEBHOOK_ALLOW_PRIVATE lists them
  const outbound = outboundPolicy(config.WEBHOOK_ALLOW_PRIVATE);
  const webhookQueue = createWebhookQueue(redisConnection(config.REDIS_URL, { forWorker: false }).on('error', () => {}));
  const webhookWorker = new Worker<WebhookJob>(
    WEBHOOK_QUEUE,
    async (job) => deliverWebhook({ pool: db.pool, appSecret: config.SECRET_KEY, clock, outbound }, job.data.deliveryId),
    { connection, concurrency: 20 },
  );
  for (const w of [mailWorker, deliveryWorker, webhookWorker]) {
    w.on('failed', (job, err) => log.warn({ queue: w.name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job failed'));
    w.on('error', (err) => log.warn({ queue: w.name, err: err.message }, 'worker error'));
  }

  let sweepFailing = false;
  const loops = [
    every('counter', config.COUNT_INTERVAL_MS, log, () => foldConfirmations(db.pool)),
    every('batcher', config.BATCH_INTERVAL_MS, log, () =>
      buildDueBatches({ pool: db.pool, queues, mailDomain: mailDomain(config.MAIL_FROM), countryMin: config.PUBLIC_COUNTRY_MIN }),
    ),
    every('sweeper', config.SWEEP_INTERVAL_MS, log, async () => {
      try {
        await sweep({ pool: db.pool, queues, clock, graceMs: config.SWEEP_GRACE_MS, staleSubmittingMs, confirmationBudget });
        // "an official answered" emails still owed (the outbox of answer.service.ts)
        await queues.enqueueAnswerNotifications(await owedAnswerNotifications(db.pool, new Date(clock().getTime() - config.SWEEP_GRACE_MS)));
        // and the notices of thresholds reached and answers overdue (threshold.service.ts)
        await queues.enqueueNotices(await owedNotices(db.pool, new Date(clock().getTime() - config.SWEEP_GRACE_MS)));
      } catch (err) {
        sweepFailing = true;
        throw err;
      }
      // Watchdog: the first good sweep after failing ones (PostgreSQL or Redis was away) wakes
      // the confirmation emails whose retries wait on backoff, so work resumes at once rather
      // than after a retry delay of up to a minute. Their processor re-reads each row.
      if (sweepFailing) {
        sweepFailing = false;
        await queues.mail.promoteJobs().catch((err: unknown) => log.warn({ err: String(err) }, 'could not promote delayed emails'));
        log.warn({}, 'sweeper recovered: delayed confirmation emails promoted');
      }
    }),
    // thresholds reached (formal requests to answer by a date) and dates passed unanswered
    every('thresholds', 10_000, log, () => checkThresholds({ pool: db.pool, clock, queues, mailDomain: mailDomain(config.MAIL_FROM) })),
    every('webhooks', 1_000, log, () => sweepWebhooks({ pool: db.pool, queue: webhookQueue, clock })),
    every('staff-sessions', 10 * 60_000, log, () => sweepExpiredSessions(db.pool, clock())),
    every('reminders', 60_000, log, () =>
      sendDueReminders(
        {
          pool: db.pool,
          mailer,
          secret: config.SECRET_KEY,
          clock,
          confirmLinkTtlHours: config.CONFIRM_LINK_TTL_HOURS,
          publicBaseUrl: config.PUBLIC_BASE_URL,
          mailFrom: config.MAIL_FROM,
          log,
        },
        { afterHours: config.REMINDER_AFTER_HOURS, limit: 500 },
      ),
    ),
    every('retention', config.RETENTION_INTERVAL_MS, log, async () => {
      const r = await runRetention({
        pool: db.pool,
        clock,
        ipHashDays: config.IP_HASH_RETENTION_DAYS,
        unconfirmedDays: config.UNCONFIRMED_RETENTION_DAYS,
      });
      if (r.ipHashesCleared + r.signaturesDeleted + r.supportersDeleted > 0) log.info(r, 'retention: personal data removed');
    }),
  ];
  // queue depths and letters by state, read when Prometheus scrapes this process
  registerScrapeGauges({
    queues: [
      { name: QUEUE_NAMES.mail, queue: queues.mail },
      { name: QUEUE_NAMES.delivery, queue: queues.delivery },
      { name: WEBHOOK_QUEUE, queue: webhookQueue },
    ],
    lettersByState: () => lettersByState(db.pool),
  });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'workers draining');
    const force = setTimeout(() => process.exit(1), 30_000).unref();
    await Promise.all(loops.map((l) => l.stop()));
    await Promise.all([mailWorker.close(), deliveryWorker.close(), webhookWorker.close(), bounceServer?.close()]);
    await Promise.all([queues.close(), webhookQueue.close(), metrics?.close()]);
    mailer.close();
    connection.disconnect();
    limiterRedis.disconnect();
    await db.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  exitWithParent();
  // last, once SIGTERM drains the jobs: before, Node's own handler ends the process at once
  log.info('workers started');
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `chorus workers failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
