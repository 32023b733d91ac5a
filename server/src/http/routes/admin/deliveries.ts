// Staff delivery controls per action: the list with what is owed, paused or failed; the full
// ledger; the policy; pause and resume; send now; the preview of the next delivery; and the
// retry of a failed letter. The logic is in delivery/delivery-admin.service.ts.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  deliveryDetail,
  listDeliveryActions,
  policyInputSchema,
  previewNextDelivery,
  retryLetter,
  sendNow,
  setPaused,
  setPolicy,
  type DeliveryAdminDeps,
} from '../../../delivery/delivery-admin.service.ts';
import { mailDomain } from '../../../signature/confirmation.service.ts';
import { recordAudit } from '../../../staff/audit.ts';
import { errorSchema } from '../schemas.ts';
import { READ, WRITE, type AdminDeps } from './roles.ts';
import { LetterStatus } from '../../../db/db.ts';

const idParam = z.object({ id: z.string().max(64) });
const errors = { 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 422: errorSchema };

const summarySchema = z.object({
  id: z.string(),
  slug: z.string(),
  title: z.string(),
  status: z.string(),
  policy: z.string(),
  everyN: z.number().int(),
  paused: z.boolean(),
  owed: z.number().int().describe('confirmed signatures in no batch yet that a delivery made now would carry'),
  held: z
    .number()
    .int()
    .describe(
      "confirmed signatures in no batch yet that wait until at least PUBLIC_COUNTRY_MIN signers of their country are owed a letter (BY_SIGNER_COUNTRY actions only); an action closed with some held delivers nothing for them",
    ),
  pendingLetters: z.number().int(),
  failedLetters: z.number().int().describe('FAILED or BOUNCED letters'),
  staleTargets: z.number().int().describe('targets whose contact is flagged stale after bounces'),
  lastBatchAt: z.date().nullable(),
});

const letterSchema = z.object({
  id: z.string(),
  target: z.object({ id: z.string(), name: z.string(), organisation: z.string(), email: z.string(), contactStatus: z.string() }),
  status: z.string(),
  locale: z.string(),
  signatureCount: z.number().int(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  errorClass: z.enum(['smtp-permanent', 'smtp-transient', 'timeout', 'connection', 'gave-up', 'other']).nullable(),
  nextAttemptAt: z.date().nullable(),
  messageId: z.string(),
  smtpResponse: z.string().nullable(),
  createdAt: z.date(),
  sentAt: z.date().nullable(),
  bouncedAt: z.date().nullable(),
  openedAt: z.date().nullable(),
  answeredAt: z.date().nullable(),
  responseSeconds: z.number().int().nullable(),
});

const detailSchema = z.object({
  action: summarySchema.extend({ milestones: z.array(z.number().int()), defaultLocale: z.string() }),
  targets: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      organisation: z.string(),
      country: z.string().nullable().describe('ISO 3166-1 alpha-2 of a national authority; null for an inter-governmental body'),
      email: z.string(),
      language: z.string(),
      timezone: z.string(),
      officeOpensAt: z.number().int(),
      officeClosesAt: z.number().int(),
      contactStatus: z.string(),
      bounceCount: z.number().int(),
      medianResponseSeconds: z.number().int().nullable(),
      answered: z.number().int(),
    }),
  ),
  batches: z.array(
    z.object({
      id: z.string(),
      reason: z.string(),
      signatureCount: z.number().int(),
      totalCount: z.number().int(),
      createdAt: z.date(),
      root: z.string().nullable().describe('the Merkle root (hex) of the signatures with a receipt this delivery carried, as letters, packets and the public ledger show it; null when it carried none'),
      receiptCount: z.number().int().nullable().describe('how many signatures with a receipt the root seals'),
      chainIndex: z.number().int().nullable().describe("the delivery's place in the action's chain of roots, from 1"),
      letters: z.array(letterSchema),
    }),
  ),
  failures: z.array(letterSchema).describe('failed and bounced letters, and letters to targets with a stale contact'),
  countryMin: z.number().int().describe('PUBLIC_COUNTRY_MIN: the country minimum behind action.held'),
});

const previewSchema = z.object({
  owed: z.boolean(),
  policy: z.string(),
  paused: z.boolean(),
  heldForOfficeHours: z.boolean(),
  signatureCount: z.number().int(),
  totalCount: z.number().int(),
  held: z.number().int().describe('confirmed signatures this delivery leaves waiting for their country to reach PUBLIC_COUNTRY_MIN'),
  countries: z.array(z.object({ country: z.string(), count: z.number().int() })),
  letters: z.array(
    z.object({
      target: z.object({ name: z.string(), organisation: z.string(), email: z.string() }),
      locale: z.string(),
      signatureCount: z.number().int(),
      subject: z.string(),
      text: z.string(),
      html: z.string(),
      sendAt: z.date(),
    }),
  ),
});

export const deliveryRoutes: FastifyPluginAsyncZod<{ admin: AdminDeps }> = async (app, opts) => {
  const a = opts.admin;
  const deps: DeliveryAdminDeps = {
    pool: a.pool,
    queues: a.queues,
    mailDomain: mailDomain(a.mailFrom),
    organisation: a.organisation,
    clock: a.clock,
    packet: { secret: a.secret, publicBaseUrl: a.publicBaseUrl, countryMin: a.countryMin },
    countryMin: a.countryMin,
  };
  const refresh = () => a.cache.refresh().catch(() => {});

  app.get(
    '/deliveries',
    {
      config: { roles: READ },
      schema: { summary: 'Actions with their delivery state', tags: ['admin'], response: { 200: z.object({ actions: z.array(summarySchema) }), ...errors } },
    },
    async () => ({ actions: await listDeliveryActions(a.pool, a.countryMin) }),
  );

  app.get(
    '/deliveries/:id',
    {
      config: { roles: READ },
      schema: {
        summary: 'The full delivery ledger of one action',
        description: 'Every batch (newest 100) with its letters: state, attempts, classified last error, next attempt, Message-ID, accepted/bounced/opened/answered times; failures listed apart.',
        tags: ['admin'],
        params: idParam,
        response: { 200: detailSchema, ...errors },
      },
    },
    async (req) => deliveryDetail(a.pool, req.params.id, a.countryMin),
  );

  app.put(
    '/deliveries/:id/policy',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Choose the delivery policy of an action',
        description: 'EVERY_N needs everyN; MILESTONES needs milestones. Audited.',
        tags: ['admin'],
        params: idParam,
        body: policyInputSchema,
        response: { 200: z.object({ policy: z.string(), everyN: z.number().int(), milestones: z.array(z.number().int()) }), ...errors },
      },
    },
    async (req) => {
      const result = await setPolicy(deps, req.staff!.id, req.params.id, req.body);
      return result;
    },
  );

  for (const [path, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    app.post(
      `/deliveries/:id/${path}`,
      {
        config: { roles: WRITE },
        schema: {
          summary: paused ? 'Pause the delivery of an action' : 'Resume the delivery of an action',
          description: paused
            ? 'The batcher makes no batch for a paused action; letters already made still go. Audited.'
            : 'The batcher takes up what is owed at its next run. Audited.',
          tags: ['admin'],
          params: idParam,
          response: { 200: z.object({ paused: z.boolean() }), ...errors },
        },
      },
      async (req) => setPaused(deps, req.staff!.id, req.params.id, paused),
    );
  }

  app.post(
    '/deliveries/:id/send-now',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Send what is owed now',
        description: 'Builds a batch of every confirmed, undelivered signature at once (reason "send-now"), whatever the policy, and sends it without waiting for office hours. Signatures held for their country\'s minimum (BY_SIGNER_COUNTRY actions) still wait. 409 nothing_owed when there is nothing. Audited.',
        tags: ['admin'],
        params: idParam,
        response: { 200: z.object({ batchId: z.string(), signatureCount: z.number().int(), letterIds: z.array(z.string()) }), ...errors },
      },
    },
    async (req) => {
      const built = await sendNow(deps, req.staff!.id, req.params.id);
      void refresh();
      return { batchId: built.batchId, signatureCount: built.signatureCount, letterIds: built.letterIds };
    },
  );

  app.get(
    '/deliveries/:id/preview',
    {
      // the letters carry the names and personal letters of the signers who agreed to be named:
      // a look at personal data, so campaigners and admins only, and audited
      config: { roles: WRITE },
      schema: {
        summary: 'Preview the next delivery',
        description: 'What the next batch would carry right now, with each letter exactly as the delivery would render it. Writes nothing.',
        tags: ['admin'],
        params: idParam,
        response: { 200: previewSchema, ...errors },
      },
    },
    async (req) => {
      const preview = await previewNextDelivery(deps, req.params.id);
      await recordAudit(deps.pool, {
        staffId: req.staff!.id,
        verb: 'delivery_previewed',
        entity: 'action',
        entityId: req.params.id,
        after: { signatureCount: preview.signatureCount, letters: preview.letters.length },
      });
      return preview;
    },
  );

  app.post(
    '/deliveries/letters/:id/retry',
    {
      config: { roles: WRITE },
      schema: {
        summary: 'Retry a FAILED letter',
        description: 'Back to PENDING, due now, and enqueued. 409 unless the letter is FAILED. Audited.',
        tags: ['admin'],
        params: idParam,
        response: { 200: z.object({ status: z.literal(LetterStatus.PENDING), actionId: z.string() }), ...errors },
      },
    },
    async (req) => retryLetter(deps, req.staff!.id, req.params.id),
  );
};
