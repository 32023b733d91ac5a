/**
 * PostgreSQL's answers to a transaction that lost a race with another and was rolled back whole:
 * deadlock_detected (40P01), serialization_failure (40001), lock_not_available (55P03). Running
 * the same transaction again is safe and usually succeeds (inTransaction's `retries`, the
 * signature writer); the HTTP error handler answers any that remains with 503 and Retry-After,
 * never 500. A module of its own so that the HTTP layer need not load the Prisma client.
 */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || code === '55P03';
}
