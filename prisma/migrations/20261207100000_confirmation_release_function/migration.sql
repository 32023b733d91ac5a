-- The confirmation emails' budget (server/src/signature/confirmation.service.ts) in one call: the
-- supporter of the signature locked, the room left in the address's window read, its owed emails
-- let go up to that room (one per action, oldest request first), and the window's count raised.
-- The mail worker made four round trips of it (two of them statements planned afresh at every
-- call) for each confirmation email. Each statement of the body reads afresh (PL/pgSQL, VOLATILE),
-- as the statements of a transaction do. Answers the signatures let go. The body is an E-string
-- with \073 for each semicolon: the migration runner splits statements at every semicolon.
CREATE OR REPLACE FUNCTION chorus_release_confirmations(p_signature uuid, p_window timestamptz, p_per_window int)
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE
AS E'
DECLARE
  v_supporter uuid\073
  v_window_at timestamptz\073
  v_sent int\073
  v_used int\073
  v_released int\073
BEGIN
  SELECT s.supporter_id INTO v_supporter FROM signatures s WHERE s.id = p_signature\073
  IF v_supporter IS NULL THEN RETURN\073 END IF\073
  SELECT p.confirmation_window_at, p.confirmation_window_sent INTO v_window_at, v_sent
    FROM supporters p WHERE p.id = v_supporter FOR NO KEY UPDATE\073
  IF NOT FOUND THEN RETURN\073 END IF\073
  v_used := CASE WHEN v_window_at = p_window THEN v_sent ELSE 0 END\073
  IF p_per_window - v_used <= 0 THEN RETURN\073 END IF\073
  RETURN QUERY
  WITH owed AS (
    SELECT first_of_each.id FROM (
      SELECT DISTINCT ON (e.action_id) e.signature_id AS id, e.requested_at
      FROM confirmation_emails e JOIN signatures s ON s.id = e.signature_id
      WHERE e.supporter_id = v_supporter AND (e.sent_at IS NULL OR e.requested_at > e.sent_at)
        AND (e.released_at IS NULL OR e.released_at < e.requested_at)
        AND s.status <> ''INVALIDATED''
        AND NOT EXISTS (SELECT 1 FROM confirmation_emails w JOIN signatures ws ON ws.id = w.signature_id
                        WHERE w.supporter_id = v_supporter AND w.action_id = e.action_id
                          AND (w.sent_at IS NULL OR w.requested_at > w.sent_at)
                          AND w.released_at >= w.requested_at AND ws.status <> ''INVALIDATED'')
      ORDER BY e.action_id, e.requested_at, e.signature_id
    ) first_of_each
    ORDER BY first_of_each.requested_at, first_of_each.id
    LIMIT p_per_window - v_used
  ), let_go AS (
    UPDATE confirmation_emails e SET released_at = e.requested_at
    FROM owed WHERE e.signature_id = owed.id
    RETURNING e.signature_id
  )
  SELECT let_go.signature_id FROM let_go\073
  GET DIAGNOSTICS v_released = ROW_COUNT\073
  IF v_released > 0 THEN
    UPDATE supporters SET confirmation_window_at = p_window, confirmation_window_sent = v_used + v_released
    WHERE id = v_supporter\073
  END IF\073
END';
