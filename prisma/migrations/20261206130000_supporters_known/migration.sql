-- The writer's read of the supporters a batch's addresses already have (hot-statements.ts
-- supportersKnown), by the unique index of the blind index, whatever the statistics say: with
-- statistics taken while the table was small, PostgreSQL read the whole table instead (see
-- "Person first" in server/src/db/hot-statements.ts, and person-first.test.ts)
CREATE FUNCTION chorus_supporters_known(p_indexes varchar[])
RETURNS TABLE (id uuid, email_index varchar, data_key bytea)
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
  SELECT s.id, s.email_index, s.data_key FROM supporters s
  WHERE s.email_index = ANY(p_indexes) AND s.data_key IS NOT NULL
$$;
