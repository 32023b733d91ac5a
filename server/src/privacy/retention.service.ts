// The retention job: personal data is kept only as long as the schedule in docs/security-and-privacy.md says.
//   - IP hashes (signatures.ip_hash, and net_hash, the hash of the address's network) are
//     cleared IP_HASH_RETENTION_DAYS after signing (7);
//   - signatures never confirmed are deleted UNCONFIRMED_RETENTION_DAYS after signing (30), and
//     so are invalidated ones (honeypot, rate limits, staff) that never went out in a delivery;
//     their consent records go with them;
//   - a supporter left with no signature at all is then deleted (email, names, consents).
// Confirmed signatures stay: they are the count and what was delivered. A member erases
// their own data at any time through the "my data" page.
// Each run works in bounded chunks, so a backlog never holds long locks; it is idempotent, so
// several worker processes may run it at once.
import type pg from 'pg';
import { qb, SignatureStatus } from '../db/db.ts';

export interface RetentionDeps {
  pool: pg.Pool;
  clock: () => Date;
  ipHashDays: number;
  unconfirmedDays: number;
  /** rows per statement per run */
  chunk?: number;
}

export interface RetentionResult {
  ipHashesCleared: number;
  signaturesDeleted: number;
  supportersDeleted: number;
}

const DAY = 86_400_000;

export async function runRetention(deps: RetentionDeps): Promise<RetentionResult> {
  const now = deps.clock().getTime();
  const chunk = deps.chunk ?? 5000;
  const ipCutoff = new Date(now - deps.ipHashDays * DAY);
  const sigCutoff = new Date(now - deps.unconfirmedDays * DAY);

  const k = qb(deps.pool);

  const ip = await k
    .updateTable('signatures')
    .set({ ip_hash: null, net_hash: null })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('signatures')
        .select('id')
        .where((w) => w.or([w('ip_hash', 'is not', null), w('net_hash', 'is not', null)]))
        .where('created_at', '<', ipCutoff)
        .limit(chunk),
    )
    .executeTakeFirst();
  const sigs = await k
    .deleteFrom('signatures')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('signatures')
        .select('id')
        .where('created_at', '<', sigCutoff)
        .where('batch_id', 'is', null)
        .where('status', 'in', [SignatureStatus.PENDING, SignatureStatus.INVALIDATED])
        .limit(chunk),
    )
    .returning('supporter_id')
    .execute();
  // supporters with nothing left: those just orphaned, and any older orphan
  const orphaned = [...new Set(sigs.map((r) => r.supporter_id))];
  const sups = await k
    .deleteFrom('supporters')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('supporters as s')
        .select('s.id')
        .where((w) =>
          w.and([
            w.or([w('s.id', '=', w.fn.any(w.val(orphaned))), w('s.created_at', '<', sigCutoff)]),
            w.not(w.exists(w.selectFrom('signatures as g').select(w.lit(1).as('one')).whereRef('g.supporter_id', '=', 's.id'))),
          ]),
        )
        .limit(chunk),
    )
    .executeTakeFirst();
  return { ipHashesCleared: Number(ip.numUpdatedRows), signaturesDeleted: sigs.length, supportersDeleted: Number(sups.numDeletedRows) };
}
