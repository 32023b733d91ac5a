// OSDI (Open Supporter Data Interface, https://opensupporter.github.io/osdi-docs/) views of
// our records, in HAL+JSON with the specification's field names:
//   petition            = a PETITION action        advocacy_campaign = a LETTER action
//   signature           = a confirmed signature of a petition
//   outreach            = a confirmed signature of a letter action (an email to its targets)
//   person              = a supporter who agreed to be contacted (no one else is exposed)
//   tag                 = a campaign (the group an action belongs to)
// Resource ids in paths are our UUIDs; `identifiers` carry them as `chorus:<uuid>`.
import { expressionBuilder, sql, type InferResult } from 'kysely';
import type pg from 'pg';
import { z } from 'zod';
import { qb, SignatureStatus, type ActionKind, type DB } from '../db/db.ts';
import type { ActionCache } from '../action/action.service.ts';
import { textFor } from '../action/action.service.ts';
import type { ActionRow } from '../action/action.repository.ts';
import { AppError } from '../shared/errors.ts';
import { isLocale } from '../shared/locales.ts';
import { signerIpSchema } from './api-key.service.ts';
import { latestContactConsent } from '../supporter/consent.ts';
import { open, openName, supporterKey } from '../privacy/personal-data.ts';

export const ORIGIN_SYSTEM = 'Chorus';
export const MAX_PAGESIZE = 100;

const link = z.object({ href: z.string(), title: z.string().optional() });
const links = z.record(z.string(), z.union([link, z.array(link), z.array(z.object({ name: z.string(), href: z.string(), templated: z.boolean() }))]));

const common = {
  identifiers: z.array(z.string()),
  origin_system: z.string(),
  created_date: z.string(),
  modified_date: z.string(),
};

export const osdiPetitionSchema = z.object({
  ...common,
  name: z.string(),
  title: z.string(),
  description: z.string(),
  summary: z.string(),
  petition_text: z.string(),
  browser_url: z.string(),
  total_signatures: z.number().int(),
  target: z.array(z.object({ name: z.string() })),
  _links: links,
});

export const osdiAdvocacyCampaignSchema = z.object({
  ...common,
  name: z.string(),
  title: z.string(),
  description: z.string(),
  summary: z.string(),
  browser_url: z.string(),
  type: z.literal('email'),
  targets: z.array(z.object({ title: z.string(), organization: z.string(), given_name: z.string(), family_name: z.string() })),
  total_outreaches: z.number().int(),
  _links: links,
});

export const osdiSignatureSchema = z.object({
  ...common,
  action_date: z.string(),
  referrer_data: z.object({ source: z.string() }).optional(),
  _links: links,
});

export const osdiOutreachSchema = z.object({
  ...common,
  action_date: z.string(),
  type: z.literal('email'),
  targets: z.array(z.object({ title: z.string(), organization: z.string(), given_name: z.string(), family_name: z.string() })),
  referrer_data: z.object({ source: z.string() }).optional(),
  _links: links,
});

export const osdiPersonSchema = z.object({
  ...common,
  given_name: z.string().nullable(),
  family_name: z.string().nullable(),
  email_addresses: z.array(z.object({ address: z.string(), primary: z.boolean(), status: z.literal('subscribed') })),
  postal_addresses: z.array(z.object({ country: z.string(), primary: z.boolean() })),
  languages_spoken: z.array(z.string()),
  _links: links,
});

export const osdiTagSchema = z.object({ ...common, name: z.string(), _links: links });

export function collectionSchema(rel: string, item: z.ZodType) {
  return z.object({
    total_pages: z.number().int(),
    per_page: z.number().int(),
    page: z.number().int(),
    total_records: z.number().int(),
    _links: links,
    _embedded: z.object({ [rel]: z.array(item) }),
  });
}

export const pagingQuery = z.object({
  page: z.coerce.number({ error: 'page must be a number' }).int().min(1, 'page starts at 1').max(1_000_000).default(1),
  per_page: z.coerce.number({ error: 'per_page must be a number' }).int().min(1).max(MAX_PAGESIZE, `per_page is at most ${MAX_PAGESIZE}`).default(25),
  filter: z
    .string()
    .max(200)
    .optional()
    .describe("OData-style filter; supported: modified_date gt|ge|lt|le '2026-11-28T12:00:00Z'"),
});
export type Paging = z.output<typeof pagingQuery>;

export const uuidParam = z.object({ id: z.uuid({ error: 'id must be a UUID' }) });

// --- helpers ------------------------------------------------------------------------------

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z') : '');

export class Hal {
  constructor(readonly base: string) {}
  href(path: string) {
    return { href: `${this.base}${path}` };
  }
  curies() {
    return [{ name: 'osdi', href: 'https://opensupporter.github.io/osdi-docs/{rel}', templated: true }];
  }
  /** A page of a collection: paging fields, next/previous, links and embedded items. */
  collection<T extends { _links: Record<string, unknown> }>(path: string, rel: string, items: T[], total: number, paging: Paging) {
    const totalPages = Math.max(1, Math.ceil(total / paging.per_page));
    const pageUrl = (p: number) => {
      const q = new URLSearchParams({ page: String(p), per_page: String(paging.per_page) });
      if (paging.filter) q.set('filter', paging.filter);
      return `${this.base}${path}?${q}`;
    };
    const l: Record<string, unknown> = {
      self: { href: pageUrl(paging.page) },
      [rel]: items.map((i) => ({ href: (i._links.self as { href: string }).href })),
      curies: this.curies(),
    };
    if (paging.page < totalPages) l.next = { href: pageUrl(paging.page + 1) };
    if (paging.page > 1) l.previous = { href: pageUrl(Math.min(paging.page - 1, totalPages)) };
    return { total_pages: totalPages, per_page: paging.per_page, page: paging.page, total_records: total, _links: l, _embedded: { [rel]: items } };
  }
}

/** `modified_date gt '...'` → a comparison with updated_at; anything else is refused. */
export function modifiedFilter(filter: string | undefined): { op: '>' | '>=' | '<' | '<='; at: Date } | undefined {
  if (!filter) return undefined;
  const m = /^\s*modified_date\s+(gt|ge|lt|le)\s+'([^']{1,40})'\s*$/.exec(filter);
  const at = m ? new Date(m[2]!) : null;
  if (!m || !at || Number.isNaN(at.getTime())) {
    throw new AppError(422, 'unsupported_filter', "filter supports modified_date gt|ge|lt|le '<ISO date-time>' only");
  }
  const ops = { gt: '>', ge: '>=', lt: '<', le: '<=' } as const;
  return { op: ops[m[1] as keyof typeof ops], at };
}

// --- petitions and advocacy campaigns (from the in-memory cache) ---------------------------

function splitName(name: string) {
  const parts = name.trim().split(/\s+/);
  return { given_name: parts.length > 1 ? parts.slice(0, -1).join(' ') : '', family_name: parts[parts.length - 1] ?? '' };
}

function actionDates(a: ActionRow) {
  const d = iso(a.publishedAt);
  return { created_date: d, modified_date: d };
}

export function toPetition(hal: Hal, cache: ActionCache, a: ActionRow, publicBaseUrl: string) {
  const t = textFor(a, a.defaultLocale);
  const self = `/petitions/${a.id}`;
  return {
    identifiers: [`chorus:${a.id}`, `chorus_slug:${a.slug}`],
    origin_system: ORIGIN_SYSTEM,
    ...actionDates(a),
    name: a.slug,
    title: t?.title ?? a.slug,
    description: t?.body ?? '',
    summary: t?.summary ?? '',
    petition_text: t?.body ?? '',
    browser_url: `${publicBaseUrl}/actions/${a.slug}`,
    total_signatures: cache.count(a.id),
    target: a.targets.map((g) => ({ name: [g.name, g.title, g.organisation].filter(Boolean).join(', ') })),
    _links: {
      self: hal.href(self),
      'osdi:signatures': hal.href(`${self}/signatures`),
      'osdi:record_signature_helper': hal.href(`${self}/record_signature_helper`),
    },
  };
}

function osdiTargets(targets: ActionRow['targets']) {
  return targets.map((g) => ({ title: g.title, organization: g.organisation, ...splitName(g.name) }));
}

export function toAdvocacyCampaign(hal: Hal, cache: ActionCache, a: ActionRow, publicBaseUrl: string) {
  const t = textFor(a, a.defaultLocale);
  const self = `/advocacy_campaigns/${a.id}`;
  return {
    identifiers: [`chorus:${a.id}`, `chorus_slug:${a.slug}`],
    origin_system: ORIGIN_SYSTEM,
    ...actionDates(a),
    name: a.slug,
    title: t?.title ?? a.slug,
    description: t?.body ?? '',
    summary: t?.summary ?? '',
    browser_url: `${publicBaseUrl}/actions/${a.slug}`,
    type: 'email' as const,
    targets: osdiTargets(a.targets),
    total_outreaches: cache.count(a.id),
    _links: {
      self: hal.href(self),
      'osdi:outreaches': hal.href(`${self}/outreaches`),
      'osdi:record_outreach_helper': hal.href(`${self}/record_outreach_helper`),
    },
  };
}

export function actionsOfKind(cache: ActionCache, kind: ActionKind): ActionRow[] {
  return cache
    .list()
    .filter((a) => a.kind === kind)
    .sort((x, y) => x.slug.localeCompare(y.slug));
}

export function actionById(cache: ActionCache, id: string, kind: ActionKind): ActionRow | undefined {
  return cache.list().find((a) => a.id === id && a.kind === kind);
}

// --- signatures, outreaches and people (from the database) --------------------------------

const p = expressionBuilder<DB & { p: DB['supporters'] }, 'p'>();

/**
 * Whether a supporter (`p`) may be shown to integrators: they agreed to be contacted (with a confirmed
 * signature or on their data page: supporter/consent.ts), still do, and exist.
 */
const contactable = p.and([
  p('p.erased_at', 'is', null),
  p('p.unsubscribed_at', 'is', null),
  p('p.email', 'is not', null),
  p.fn.coalesce(latestContactConsent(p.ref('p.id')), sql.lit(false)),
]);

/** The confirmed signatures of an action, with whether their signer may be linked. */
const confirmedSignatures = (pool: pg.Pool, actionId: string) =>
  qb(pool)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select(['s.id', 's.created_at', 's.confirmed_at', 's.updated_at', 's.source', 's.supporter_id', contactable.as('contactable')])
    .where('s.action_id', '=', actionId)
    .where('s.status', '=', SignatureStatus.CONFIRMED);

type SignatureRow = InferResult<ReturnType<typeof confirmedSignatures>>[number];

/** A page of an action's confirmed signatures, oldest change first, and how many there are in all. */
export async function actionSignatures(pool: pg.Pool, actionId: string, paging: Paging): Promise<{ rows: SignatureRow[]; total: number }> {
  const f = modifiedFilter(paging.filter);
  const rows = await confirmedSignatures(pool, actionId)
    .select((eb) => eb.fn.countAll<string>().over().as('total'))
    .$if(f !== undefined, (q) => q.where('s.updated_at', f!.op, f!.at))
    .orderBy('s.updated_at')
    .orderBy('s.id')
    .limit(paging.per_page)
    .offset((paging.page - 1) * paging.per_page)
    .execute();
  let total = Number(rows[0]?.total ?? 0);
  if (rows.length === 0 && paging.page > 1) {
    // past the last page: still say how many there are
    const c = await qb(pool)
      .selectFrom('signatures as s')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('s.action_id', '=', actionId)
      .where('s.status', '=', SignatureStatus.CONFIRMED)
      .$if(f !== undefined, (q) => q.where('s.updated_at', f!.op, f!.at))
      .executeTakeFirst();
    total = Number(c?.n ?? 0);
  }
  return { rows, total };
}

export function toSignature(hal: Hal, petitionId: string, r: SignatureRow) {
  const self = `/petitions/${petitionId}/signatures/${r.id}`;
  return {
    identifiers: [`chorus:${r.id}`],
    origin_system: ORIGIN_SYSTEM,
    created_date: iso(r.created_at),
    modified_date: iso(r.updated_at),
    action_date: iso(r.confirmed_at),
    ...(r.source ? { referrer_data: { source: r.source } } : {}),
    _links: {
      self: hal.href(self),
      'osdi:petition': hal.href(`/petitions/${petitionId}`),
      ...(r.contactable ? { 'osdi:person': hal.href(`/people/${r.supporter_id}`) } : {}),
    },
  };
}

export function toOutreach(hal: Hal, a: ActionRow, r: SignatureRow) {
  const self = `/advocacy_campaigns/${a.id}/outreaches/${r.id}`;
  return {
    identifiers: [`chorus:${r.id}`],
    origin_system: ORIGIN_SYSTEM,
    created_date: iso(r.created_at),
    modified_date: iso(r.updated_at),
    action_date: iso(r.confirmed_at),
    type: 'email' as const,
    targets: osdiTargets(a.targets),
    ...(r.source ? { referrer_data: { source: r.source } } : {}),
    _links: {
      self: hal.href(self),
      'osdi:advocacy_campaign': hal.href(`/advocacy_campaigns/${a.id}`),
      ...(r.contactable ? { 'osdi:person': hal.href(`/people/${r.supporter_id}`) } : {}),
    },
  };
}

export async function oneSignature(pool: pg.Pool, actionId: string, signatureId: string): Promise<SignatureRow | undefined> {
  return confirmedSignatures(pool, actionId).where('s.id', '=', signatureId).executeTakeFirst();
}

/** People with a confirmed signature who may be shown; `modified` is their latest signature's change. */
const contactablePeople = (pool: pg.Pool) =>
  qb(pool)
    .selectFrom('supporters as p')
    .select((eb) => [
      'p.id',
      'p.email',
      'p.name',
      'p.data_key',
      'p.country',
      'p.locale',
      'p.created_at',
      eb
        .selectFrom('signatures as s')
        .select((eb) => eb.fn.max('s.updated_at').as('m'))
        .whereRef('s.supporter_id', '=', 'p.id')
        .as('modified'),
    ])
    .where(contactable)
    .where((eb) =>
      eb.exists(eb.selectFrom('signatures as s').select('s.id').whereRef('s.supporter_id', '=', 'p.id').where('s.status', '=', SignatureStatus.CONFIRMED)),
    )
    // contactable: the email is there
    .$narrowType<{ email: Buffer }>();

type PersonRow = InferResult<ReturnType<typeof contactablePeople>>[number];

/** A page of people, least recently changed first, and how many there are in all. */
export async function people(pool: pg.Pool, paging: Paging): Promise<{ rows: PersonRow[]; total: number }> {
  const f = modifiedFilter(paging.filter);
  const rows = await qb(pool)
    .selectFrom(contactablePeople(pool).as('x'))
    .selectAll('x')
    .select((eb) => eb.fn.countAll<string>().over().as('total'))
    .$if(f !== undefined, (q) => q.where('x.modified', f!.op, f!.at))
    .orderBy('x.modified')
    .orderBy('x.id')
    .limit(paging.per_page)
    .offset((paging.page - 1) * paging.per_page)
    .execute();
  return { rows, total: Number(rows[0]?.total ?? 0) };
}

export async function onePerson(pool: pg.Pool, id: string): Promise<PersonRow | undefined> {
  return contactablePeople(pool).where('p.id', '=', id).executeTakeFirst();
}

export function toPerson(hal: Hal, r: PersonRow) {
  // the address and the name, opened with the person's data key
  const key = supporterKey(r.id, r.data_key);
  const name = openName(key, r.id, r.name);
  return {
    identifiers: [`chorus:${r.id}`],
    origin_system: ORIGIN_SYSTEM,
    created_date: iso(r.created_at),
    modified_date: iso(r.modified ?? r.created_at),
    given_name: name.first,
    family_name: name.last,
    email_addresses: [{ address: open(key!, r.id, 'email', r.email), primary: true, status: 'subscribed' as const }],
    postal_addresses: r.country ? [{ country: r.country, primary: true }] : [],
    languages_spoken: [r.locale],
    _links: { self: hal.href(`/people/${r.id}`) },
  };
}

// --- tags: campaigns ------------------------------------------------------------------------

export function campaignsAsTags(hal: Hal, cache: ActionCache) {
  const seen = new Map<string, { slug: string; name: string; created: Date | null }>();
  for (const a of cache.list()) {
    const prev = seen.get(a.campaign.slug);
    const created = a.publishedAt ? new Date(a.publishedAt) : null;
    if (!prev) seen.set(a.campaign.slug, { slug: a.campaign.slug, name: a.campaign.names.en ?? Object.values(a.campaign.names)[0] ?? a.campaign.slug, created });
    else if (created && (!prev.created || created < prev.created)) prev.created = created;
  }
  return [...seen.values()]
    .sort((x, y) => x.slug.localeCompare(y.slug))
    .map((c) => ({
      identifiers: [`chorus_campaign:${c.slug}`],
      origin_system: ORIGIN_SYSTEM,
      created_date: iso(c.created),
      modified_date: iso(c.created),
      name: c.name,
      _links: { self: hal.href(`/tags/${c.slug}`) },
    }));
}

// --- the record helpers: OSDI bodies mapped onto our signing form ---------------------------

const personInput = z.object({
  given_name: z.string().max(400).optional(),
  family_name: z.string().max(400).optional(),
  email_addresses: z.array(z.object({ address: z.string().max(1000), primary: z.boolean().optional() }).loose()).min(1, 'person.email_addresses needs an address').max(10),
  postal_addresses: z.array(z.object({ country: z.string().max(10).optional(), primary: z.boolean().optional() }).loose()).max(10).optional(),
  languages_spoken: z.array(z.string().max(10)).max(10).optional(),
}).loose();

export const recordHelperInput = z
  .object({
    person: personInput,
    referrer_data: z.object({ source: z.string().max(100).optional() }).loose().optional(),
    /** outreach only: the member's own letter, where the action allows it */
    subject: z.string().max(800).optional(),
    message: z.string().max(80_000).optional(),
    /**
     * Chorus extension: the consents the person gave on your form, with the same meaning as
     * ours (count is required; nothing else may be assumed). Without it the helper refuses.
     */
    consents: z.object({
      count: z.literal(true, { error: 'consents.count must be true: the person agreed to be counted' }),
      named: z.boolean().optional(),
      named_to_own_country: z.boolean().optional(),
      public_wall: z.boolean().optional(),
      contact: z.boolean().optional(),
    }),
    /** Chorus extension: the address the person used on your site, for the per-address limit (api-key.service.ts) */
    signer_ip: signerIpSchema.optional(),
  })
  .loose()
  .meta({
    examples: [
      {
        person: {
          given_name: 'Ana',
          family_name: 'López',
          email_addresses: [{ address: 'ana@example.org', primary: true }],
          postal_addresses: [{ country: 'MX', primary: true }],
          languages_spoken: ['es'],
        },
        referrer_data: { source: 'crm-june' },
        consents: { count: true, named: false, contact: true },
      },
    ],
  });

/** The OSDI helper body as our signing form (then validated by the form's own schema). */
export function toSignForm(body: z.output<typeof recordHelperInput>): Record<string, unknown> {
  const email = body.person.email_addresses.find((e) => e.primary) ?? body.person.email_addresses[0];
  const postal = body.person.postal_addresses?.find((p) => p.primary) ?? body.person.postal_addresses?.[0];
  const lang = body.person.languages_spoken?.[0];
  return {
    firstName: body.person.given_name ?? '',
    lastName: body.person.family_name ?? '',
    email: email?.address ?? '',
    country: postal?.country ?? '',
    consentCount: true,
    consentNamed: body.consents.named ?? false,
    consentNamedToOwnCountry: body.consents.named_to_own_country ?? false,
    consentWall: body.consents.public_wall ?? false,
    consentContact: body.consents.contact ?? false,
    ...(lang && isLocale(lang) ? { locale: lang } : {}),
    ...(body.referrer_data?.source ? { source: body.referrer_data.source } : {}),
    ...(body.subject ? { letterSubject: body.subject } : {}),
    ...(body.message ? { letterBody: body.message } : {}),
  };
}
