// Incremental sync of confirmed signatures for integrators: keyset pagination over
// (updated_at, id), where updated_at moves when a signature is confirmed or invalidated, its
// consents change, or its supporter is erased or unsubscribes (triggers in the migration).
// A person's email and names are included only where the signer agreed to be contacted and
// has not unsubscribed or been erased. IP hashes and personal letters are never included.
import type pg from 'pg';
import { z } from 'zod';
import { ActionStatus, qb, SignatureStatus } from '../db/db.ts';
import { AppError, notFound } from '../shared/errors.ts';
import { latestContactConsent } from '../supporter/consent.ts';
import { open, openName, supporterKey } from '../privacy/personal-data.ts';

export const syncedSignatureSchema = z.object({
  id: z.string(),
  action: z.string().describe('slug of the action'),
  status: z.enum(['confirmed', 'invalidated']).describe('an invalidated signature was confirmed once: remove it from your records'),
  country: z.string(),
  locale: z.string(),
  source: z.string().nullable(),
  createdAt: z.date(),
  confirmedAt: z.date(),
  updatedAt: z.date().describe('the last change to sync; use the largest one you saw as your next `since`'),
  consents: z.object({
    count: z.literal(true),
    namedDisclosure: z.boolean(),
    namedToOwnCountry: z.boolean(),
    publicWall: z.boolean(),
    contact: z.boolean(),
  }),
  person: z
    .object({ email: z.string(), firstName: z.string().nullable(), lastName: z.string().nullable() })
    .nullable()
    .describe('only where the signer agreed to be contacted (and has not unsubscribed or been erased); otherwise null'),
});
export type SyncedSignature = z.infer<typeof syncedSignatureSchema>;

export const syncQuerySchema = z.object({
  since: z.coerce
    .date({ error: 'since must be a date-time such as 2026-11-28T12:00:00Z' })
    .optional()
    .describe('only signatures changed at or after this time'),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
  limit: z.coerce.number({ error: 'limit must be a number' }).int().min(1).max(500).default(100),
});

const badCursor = () => new AppError(422, 'invalid_cursor', 'cursor must be the nextCursor of a previous page');

export function encodeCursor(updatedAt: Date, id: string): string {
  return Buffer.from(`${updatedAt.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { updatedAt: Date; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(text);
  const at = m ? new Date(m[1]!) : null;
  if (!m || !at || Number.isNaN(at.getTime())) throw badCursor();
  return { updatedAt: at, id: m[2]! };
}

export async function actionIdBySlug(pool: pg.Pool, slug: string): Promise<string> {
  const row = await qb(pool).selectFrom('actions').select('id').where('slug', '=', slug).where('status', '<>', ActionStatus.DRAFT).executeTakeFirst();
  if (!row) throw notFound('action_not_found', `No action at "${slug}"`);
  return row.id;
}

export interface SyncFilter {
  actionId?: string;
  since?: Date;
  cursor?: string;
  limit: number;
}

/** A signer's contact details, opened with their data key: only for a signer who agreed to be contacted. */
function personOf(id: string, dataKey: Buffer | null, email: Buffer, name: Buffer | null): { email: string; firstName: string | null; lastName: string | null } | null {
  const key = supporterKey(id, dataKey);
  if (!key) return null;
  const n = openName(key, id, name);
  return { email: open(key, id, 'email', email), firstName: n.first, lastName: n.last };
}

/** One page of confirmed (or once confirmed, now invalidated) signatures, oldest change first. */
export async function listSignatures(pool: pg.Pool, f: SyncFilter): Promise<{ signatures: SyncedSignature[]; nextCursor: string | null }> {
  const after = f.cursor ? decodeCursor(f.cursor) : undefined;
  const rows = await qb(pool)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .innerJoin('actions as a', 'a.id', 's.action_id')
    .select((eb) => [
      's.id',
      's.supporter_id',
      'a.slug',
      's.status',
      's.country',
      's.locale',
      's.source',
      's.created_at',
      's.confirmed_at',
      's.updated_at',
      's.named_disclosure',
      's.named_to_own_country',
      's.public_wall',
      // the latest contact consent of the person
      latestContactConsent(eb.ref('s.supporter_id')).as('contact'),
      'p.email',
      'p.name',
      'p.data_key',
      'p.unsubscribed_at',
      'p.erased_at',
    ])
    .where('s.confirmed_at', 'is not', null)
    .$narrowType<{ confirmed_at: Date }>()
    .where('s.status', 'in', [SignatureStatus.CONFIRMED, SignatureStatus.INVALIDATED])
    .$if(Boolean(f.actionId), (q) => q.where('s.action_id', '=', f.actionId!))
    .$if(Boolean(f.since), (q) => q.where('s.updated_at', '>=', f.since!))
    // keyset: strictly after the last row of the previous page, in the order below
    .$if(after !== undefined, (q) => q.where((eb) => eb(eb.refTuple('s.updated_at', 's.id'), '>', eb.tuple(after!.updatedAt, after!.id))))
    .orderBy('s.updated_at')
    .orderBy('s.id')
    .limit(f.limit + 1)
    .execute();
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    signatures: page.map((r) => {
      const contact = Boolean(r.contact) && !r.unsubscribed_at && !r.erased_at;
      return {
        id: r.id,
        action: r.slug,
        status: r.status === SignatureStatus.CONFIRMED ? ('confirmed' as const) : ('invalidated' as const),
        country: r.country,
        locale: r.locale,
        source: r.source,
        createdAt: r.created_at,
        confirmedAt: r.confirmed_at,
        updatedAt: r.updated_at,
        consents: {
          count: true as const,
          namedDisclosure: r.named_disclosure,
          namedToOwnCountry: r.named_to_own_country,
          publicWall: r.public_wall,
          contact,
        },
        person: contact && r.email ? personOf(r.supporter_id, r.data_key, r.email, r.name) : null,
      };
    }),
    nextCursor: rows.length > f.limit && last ? encodeCursor(last.updated_at, last.id) : null,
  };
}
