// The readiness probe's question to PostgreSQL (/readyz): does it answer at all?
import { sql } from 'kysely';
import { qb, type Queryable } from './db.ts';

export async function pingDatabase(db: Queryable): Promise<void> {
  await sql`SELECT 1`.execute(qb(db));
}
