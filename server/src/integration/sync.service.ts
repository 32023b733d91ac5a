// Incremental sync of confirmed signatures for integrators: keyset pagination over
// (updated_at, id), where updated_at moves when a signature is confirmed or invalidated, its
// consents change, or its supporter is erased or unsubscribes (triggers in the migration).
// A person's email and names are included only where the signer agreed to be contacted and
// has not unsubscribed or been erased. IP hashes and personal letters are never included.
import type pg from 'pg';
import { z } from 'zod';
import { AppError, notFound } from '../shared/errors.ts';

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
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM actions WHERE slug = $1 AND status <> 'DRAFT'`, [slug]);
  if (!rows[0]) throw notFound('action_not_found', `No action at "${slug}"`);
  return rows[0].id;
}

interface Row {
  id: string;
  slug: string;
  status: 'CONFIRMED' | 'INVALIDATED';
  country: string;
  locale: string;
  source: string | null;
  created_at: Date;
  confirmed_at: Date;
  updated_at: Date;
  named_disclosure: boolean;
  named_to_own_country: boolean;
  public_wall: boolean;
  contact: boolean | null;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  unsubscribed_at: Date | null;
  erased_at: Date | null;
}

export interface SyncFilter {
  actionId?: string;
  since?: Date;
  cursor?: string;
  limit: number;
}

/** One page of confirmed (or once confirmed, now invalidated) signatures, oldest change first. */
export async function listSignatures(pool: pg.Pool, f: SyncFilter): Promise<{ signatures: SyncedSignature[]; nextCursor: string | null }> {
  const where = [`s.confirmed_at IS NOT NULL`, `s.status IN ('CONFIRMED', 'INVALIDATED')`];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    let out = sql;
    for (const v of values) {
      params.push(v);
      out = out.replace('?', `$${params.length}`);
    }
    where.push(out);
  };
  if (f.actionId) add('s.action_id = ?', f.actionId);
  if (f.since) add('s.updated_at >= ?', f.since);
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    add('(s.updated_at, s.id) > (?, ?::uuid)', c.updatedAt, c.id);
  }
  params.push(f.limit + 1);
  const { rows } = await pool.query<Row>(
    `SELECT s.id, a.slug, s.status, s.country, s.locale, s.source, s.created_at, s.confirmed_at, s.updated_at,
            s.named_disclosure, s.named_to_own_country, s.public_wall,
            (SELECT c.granted FROM consents c WHERE c.supporter_id = s.supporter_id AND c.purpose = 'CONTACT'
              ORDER BY c.created_at DESC LIMIT 1) AS contact,
            p.email, p.first_name, p.last_name, p.unsubscribed_at, p.erased_at
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     WHERE ${where.join(' AND ')}
     ORDER BY s.updated_at, s.id
     LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    signatures: page.map((r) => {
      const contact = Boolean(r.contact) && !r.unsubscribed_at && !r.erased_at;
      return {
        id: r.id,
        action: r.slug,
        status: r.status === 'CONFIRMED' ? ('confirmed' as const) : ('invalidated' as const),
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
        person: contact && r.email ? { email: r.email, firstName: r.first_name, lastName: r.last_name } : null,
      };
    }),
    nextCursor: rows.length > f.limit && last ? encodeCursor(last.updated_at, last.id) : null,
  };
}
