-- The writer's read of known supporters, as PL/pgSQL: a SQL function that cannot be inlined
-- (its SET clause) has its statement planned again at every call, about 0.3 ms per batch of
-- sign-ups (measured with log_min_duration_statement under the benchmark), while PL/pgSQL keeps
-- the plan for the session, made under the same setting (by the unique index, whatever the
-- statistics say). The body is an E-string with \073 for each semicolon: the migration runner
-- splits statements at every semicolon, even inside quotes.
CREATE OR REPLACE FUNCTION chorus_supporters_known(p_indexes varchar[])
RETURNS TABLE (id uuid, email_index varchar, data_key bytea)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS E'
BEGIN
  RETURN QUERY SELECT s.id, s.email_index, s.data_key FROM supporters s
  WHERE s.email_index = ANY(p_indexes) AND s.data_key IS NOT NULL\073
END';
