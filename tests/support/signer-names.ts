// The names of a world's signers, for the privacy scan (tests/privacy/zz-privacy-scan.test.ts) to
// look for in everything it reads: opened from where they are stored, sealed under each
// supporter's data key (server/src/privacy/personal-data.ts). Without side effects, so that both
// tests/support/world-setup.ts (before it wipes a world) and the scan can use it.
import type pg from 'pg';
import { openName, SealedDataError, supporterKey } from '../../server/src/privacy/personal-data.ts';

/**
 * The names of the world's signers who gave a last name, "first last", each once: opened from
 * supporters.name with each supporter's data key (an erased supporter's is gone, and so is their name).
 */
export async function signerNames(db: pg.Client | pg.Pool): Promise<string[]> {
  const { rows } = await db.query<{ id: string; data_key: Buffer; name: Buffer }>(
    `SELECT id, data_key, name FROM supporters WHERE name IS NOT NULL AND data_key IS NOT NULL`,
  );
  const names = new Set<string>();
  for (const r of rows) {
    let name;
    try {
      name = openName(supporterKey(r.id, r.data_key), r.id, r.name);
    } catch (err) {
      // wrapped under a key-encryption key this process does not have (a test of key rotation
      // may seal under its own): that name cannot be opened here to be looked for
      if (err instanceof SealedDataError) continue;
      throw err;
    }
    if (name.last !== null) names.add(`${name.first ?? ''} ${name.last}`.trim());
  }
  return [...names];
}
