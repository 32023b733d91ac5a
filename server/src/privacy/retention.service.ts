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

  const ip = await deps.pool.query(
    `UPDATE signatures SET ip_hash = NULL, net_hash = NULL
     WHERE id IN (SELECT id FROM signatures
                  WHERE (ip_hash IS NOT NULL OR net_hash IS NOT NULL) AND created_at < $1 LIMIT $2)`,
    [ipCutoff, chunk],
  );
  const sigs = await deps.pool.query<{ supporter_id: string }>(
    `DELETE FROM signatures
     WHERE id IN (SELECT id FROM signatures
                  WHERE created_at < $1 AND batch_id IS NULL
                    AND (status = 'PENDING' OR status = 'INVALIDATED')
                  LIMIT $2)
     RETURNING supporter_id`,
    [sigCutoff, chunk],
  );
  // supporters with nothing left: those just orphaned, and any older orphan
  const sups = await deps.pool.query(
    `DELETE FROM supporters su
     WHERE su.id IN (SELECT s.id FROM supporters s
                     WHERE (s.id = ANY($1::uuid[]) OR s.created_at < $2)
                       AND NOT EXISTS (SELECT 1 FROM signatures g WHERE g.supporter_id = s.id)
                     LIMIT $3)`,
    [[...new Set(sigs.rows.map((r) => r.supporter_id))], sigCutoff, chunk],
  );
  return { ipHashesCleared: ip.rowCount ?? 0, signaturesDeleted: sigs.rowCount ?? 0, supportersDeleted: sups.rowCount ?? 0 };
}
