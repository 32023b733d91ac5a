// What staff send and get when they run actions from the console (/api/admin/actions).
import { z } from 'zod';
import { ActionKind, ActionStatus, ContactStatus, DeliveryPolicy, TargetKind, TargetMode } from '../generated/kysely/enums.ts';
import { LOCALES } from '../shared/locales.ts';
import { staffBlock, staffLine } from '../target/target.schema.ts';

/** The statuses of an action, as the schema names them (for a filter's enum). */
export const ACTION_STATUSES = ActionStatus;

const slug = z
  .string({ error: 'slug must be text' })
  .min(3, 'slug must be at least 3 characters')
  .max(80, 'slug must be at most 80 characters')
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'slug must be lower-case letters, digits and single dashes');

const locale = z.enum(LOCALES, { error: `locale must be one of ${LOCALES.join(', ')}` });

const goal = z.coerce
  .number({ error: 'goal must be a whole number' })
  .int('goal must be a whole number')
  .min(1, 'goal must be at least 1')
  .max(100_000_000, 'goal must be at most 100,000,000');

const milestones = z
  .array(z.number({ error: 'each milestone must be a number' }).int('milestones are whole numbers').min(1, 'milestones are above 0').max(100_000_000), {
    error: 'milestones must be a list of numbers',
  })
  .max(20, 'at most 20 milestones')
  .refine((m) => m.every((v, i) => i === 0 || v > m[i - 1]!), 'milestones must rise: each one above the one before');

/**
 * Letter texts enter the letter template as values, never as template source, so a `{{`
 * would be printed as it is: the merge fields (salutation, counts, countries, names,
 * sign-off, packet link) are placed around the text by templates/<locale>/letter.*.hbs.
 */
const noMergeSyntax = (s: string) => !s.includes('{{');

export const actionTextInput = z
  .object({
    title: staffLine(200, 'title', true),
    summary: staffBlock(1000, 'summary').default(''),
    body: staffBlock(20_000, 'body').default(''),
    letterSubject: staffLine(200, 'letterSubject')
      .refine(noMergeSyntax, { params: { code: 'merge_fields' }, message: 'letterSubject must not contain {{ merge fields }}: the letter template adds them' })
      .default(''),
    /** what officials receive, addressed to them: the petition's demand, or the letter of a letter
     * action (shown on its page, and the draft a signer who may write their own starts from) */
    officialRequest: staffBlock(20_000, 'officialRequest')
      .refine(noMergeSyntax, {
        params: { code: 'merge_fields' },
        message: 'officialRequest must not contain {{ merge fields }}: the salutation, counts, countries, names and sign-off are added around it by the letter template',
      })
      .default(''),
    shareText: staffLine(280, 'shareText').default(''),
  })
  .strict();

export type ActionTextInput = z.output<typeof actionTextInput>;

export const createActionInput = z
  .object({
    slug,
    campaign: slug.describe('slug of an existing campaign'),
    kind: z.enum(ActionKind, { error: `kind must be ${Object.values(ActionKind).join(' or ')}` }),
    defaultLocale: locale.default('en'),
    goal: goal.default(1000),
    milestones: milestones.default([]),
    title: staffLine(200, 'title', true),
    summary: staffBlock(1000, 'summary').default(''),
  })
  .strict();

export type CreateActionInput = z.output<typeof createActionInput>;

export const actionSettingsInput = z
  .object({
    goal: goal.optional(),
    milestones: milestones.optional(),
    defaultLocale: locale.optional(),
    targetMode: z.enum(TargetMode, { error: `targetMode must be ${Object.values(TargetMode).join(' or ')}` }).optional(),
    allowPersonalisation: z.boolean({ error: 'allowPersonalisation must be true or false' }).optional(),
    maxLetterLength: z.number().int().min(100, 'maxLetterLength must be at least 100').max(20_000, 'maxLetterLength must be at most 20,000').optional(),
    replyTo: z
      .union([z.email('replyTo must be an email address').max(254), z.literal(''), z.null()])
      .transform((v) => v || null)
      .optional(),
  })
  .strict();

export type ActionSettingsInput = z.output<typeof actionSettingsInput>;

export const actionTargetsInput = z
  .object({
    targetIds: z
      .array(z.uuid('each target id must be an id from the directory'))
      .max(200, 'at most 200 targets per action')
      .refine((ids) => new Set(ids).size === ids.length, 'a target is listed twice'),
  })
  .strict();

export const signingSwitchInput = z.object({ enabled: z.boolean({ error: 'enabled must be true or false' }) }).strict();
export const globalSwitchInput = z.object({ paused: z.boolean({ error: 'paused must be true or false' }) }).strict();

export const idParam = z.object({ id: z.uuid('id must be an action id') });
export const localeParam = idParam.extend({ locale });

const textView = z.object({
  locale: z.string(),
  title: z.string(),
  summary: z.string(),
  body: z.string(),
  letterSubject: z.string(),
  officialRequest: z.string(),
  shareText: z.string(),
});

const targetSummary = z.object({
  id: z.string(),
  name: z.string(),
  title: z.string(),
  organisation: z.string(),
  kind: z.enum(TargetKind),
  country: z.string().nullable(),
  email: z.string(),
  language: z.string(),
  contactStatus: z.enum(ContactStatus),
  disabled: z.boolean(),
});

export const actionListItem = z.object({
  id: z.string(),
  slug: z.string(),
  kind: z.enum(ActionKind),
  status: z.enum(ActionStatus),
  title: z.string(),
  campaign: z.string(),
  defaultLocale: z.string(),
  locales: z.array(z.string()),
  goal: z.number().int(),
  confirmed: z.number().int(),
  pending: z.number().int(),
  targetCount: z.number().int(),
  signingEnabled: z.boolean(),
  updatedAt: z.date(),
});

export const actionListView = z.object({
  actions: z.array(actionListItem),
  /** how many actions in each status */
  statusCounts: z.record(z.string(), z.number().int()),
  signingPausedAll: z.boolean(),
  campaigns: z.array(z.object({ slug: z.string(), name: z.string() })),
});

export const actionDetailView = actionListItem.extend({
  milestones: z.array(z.number().int()),
  targetMode: z.enum(TargetMode),
  allowPersonalisation: z.boolean(),
  maxLetterLength: z.number().int(),
  replyTo: z.string().nullable(),
  deliveryPolicy: z.enum(DeliveryPolicy),
  deliveryEveryN: z.number().int(),
  deliveryPaused: z.boolean(),
  publishedAt: z.date().nullable(),
  closedAt: z.date().nullable(),
  archivedAt: z.date().nullable(),
  createdAt: z.date(),
  texts: z.array(textView),
  /** the campaign's name in each language it has one (`campaign` is its slug) */
  campaignNames: z.array(z.object({ locale: z.string(), name: z.string() })),
  targets: z.array(targetSummary),
  signingPausedAll: z.boolean(),
  /** the transitions the state machine allows from the current status */
  nextStatuses: z.array(z.enum(ActionStatus)),
});

export type ActionDetailView = z.output<typeof actionDetailView>;

export const letterPreviewView = z.object({
  /** counts used for the preview: a delivery of everything confirmed so far */
  sample: z.object({ newCount: z.number().int(), totalCount: z.number().int() }),
  previews: z.array(
    z.object({
      target: targetSummary,
      /** the language the letter is written in, greeting to sign-off */
      locale: z.string(),
      /** the language the target reads; differs from locale when the letter falls back to another language */
      wantedLocale: z.string(),
      /** no language has a request to officials: the letter carries a neutral sentence built from the title */
      requestMissing: z.boolean(),
      subject: z.string(),
      text: z.string(),
    }),
  ),
});
