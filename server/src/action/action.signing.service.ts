// Pausing and resuming signing on an action from the integrator API (/api/v1, scope
// manage_actions). Only a published or closed action can be switched; the change is audited
// with the key's prefix, under the same verbs as the console's own switch
// (action.admin.service.ts setSigning).
import type pg from 'pg';
import { sql } from 'kysely';
import { ActionStatus, inTransaction, qb } from '../db/db.ts';
import { recordAudit } from '../staff/audit.ts';

/**
 * Opens (`open` true) or pauses signing on the published or closed action at `slug`. Answers
 * false when there is no such action. Nothing is written or audited when signing is already so.
 */
export function setSigningByApiKey(pool: pg.Pool, slug: string, open: boolean, apiKeyPrefix: string | undefined): Promise<boolean> {
  return inTransaction(pool, async (tx) => {
    const k = qb(tx);
    const row = await k
      .selectFrom('actions')
      .select(['id', 'signing_enabled'])
      .where('slug', '=', slug)
      .where('status', 'in', [ActionStatus.PUBLISHED, ActionStatus.CLOSED])
      .forUpdate()
      .executeTakeFirst();
    if (!row) return false;
    if (row.signing_enabled !== open) {
      await k
        .updateTable('actions')
        .set({ signing_enabled: open, updated_at: sql<Date>`now()` })
        .where('id', '=', row.id)
        .execute();
      await recordAudit(tx, {
        staffId: null,
        verb: open ? 'resume_signing' : 'pause_signing',
        entity: 'action',
        entityId: row.id,
        before: { signingEnabled: row.signing_enabled },
        after: { signingEnabled: open, apiKey: apiKeyPrefix },
      });
    }
    return true;
  });
}
