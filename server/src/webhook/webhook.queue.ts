// The webhook queue: jobs carry a delivery id only (the payload and the endpoint's secret stay
// in PostgreSQL). One attempt per job: retries are scheduled in the database and enqueued by
// the webhook sweeper (webhook.service.ts), so a flushed Redis loses nothing.
import { Queue, type ConnectionOptions } from 'bullmq';
import type { WebhookJob } from './webhook.service.ts';

export const WEBHOOK_QUEUE = 'chorus-webhooks';

/** `name` only for tests that need a queue no other process listens on. */
export function createWebhookQueue(connection: ConnectionOptions, name = WEBHOOK_QUEUE): Queue<WebhookJob> {
  return new Queue<WebhookJob>(name, {
    connection,
    defaultJobOptions: { attempts: 1, removeOnComplete: { count: 1000 }, removeOnFail: true },
  });
}
