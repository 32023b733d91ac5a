-- What a new sign-up meets, read with one index scan of the person's signatures of the action
-- (signatures_action_id_supporter_id_idx: a few rows at most) instead of three lookups. The
-- lookup of a waiting sign-up with the same details could be planned on the index of the
-- action's signatures by status, which reads every waiting sign-up of the action: with 20,000
-- waiting on a new action each sign-up cost PostgreSQL about 11 ms (the benchmark's durable
-- signing fell from 2,429 to 408 per second). See "Person first" in server/src/db/hot-statements.ts.
CREATE OR REPLACE FUNCTION chorus_signup_context(p_action uuid, p_supporter uuid, p_version varchar)
RETURNS TABLE (signed_id uuid, same_id uuid, any_id uuid, known_requested_at timestamptz)
LANGUAGE sql VOLATILE AS $$
  WITH mine AS MATERIALIZED (
    SELECT s.id, s.status, s.confirmed_at, s.signup_version, s.created_at
    FROM signatures s WHERE s.action_id = p_action AND s.supporter_id = p_supporter
  ),
  c AS (
    SELECT
      (SELECT m.id FROM mine m WHERE m.confirmed_at IS NOT NULL LIMIT 1) AS signed_id,
      (SELECT m.id FROM mine m WHERE m.status = 'PENDING' AND m.signup_version = p_version LIMIT 1) AS same_id,
      (SELECT m.id FROM mine m ORDER BY m.created_at DESC, m.id LIMIT 1) AS any_id
  )
  SELECT c.signed_id, c.same_id, c.any_id,
         (SELECT e.requested_at FROM confirmation_emails e WHERE e.signature_id = COALESCE(c.signed_id, c.same_id, c.any_id))
  FROM c
$$;

-- The unique index of waiting sign-ups applies to rows with a signup_version only (NULLs never
-- collide in a unique index, so what it keeps unique is unchanged). A query that says no more
-- than status = 'PENDING' cannot use it: planned on statistics taken before anything waited, it
-- looked free to PostgreSQL, and confirming one signature by its id read every waiting sign-up.
CREATE UNIQUE INDEX "signatures_pending_once_v" ON "signatures" ("action_id", "supporter_id", "signup_version")
  WHERE "status" = 'PENDING' AND "signup_version" IS NOT NULL;
DROP INDEX "signatures_pending_once";
ALTER INDEX "signatures_pending_once_v" RENAME TO "signatures_pending_once";
