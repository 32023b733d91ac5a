-- 1. A +tag is folded into the address only where the provider delivers it to the same mailbox
--    (server/src/supporter/email.ts). Supporters keyed by a folded address whose stored address
--    carries a tag at another domain get that address as their key again. (Whose signatures are
--    under it cannot be told apart afterwards, new sign-ups without the tag get a supporter of
--    their own.)
UPDATE "supporters" s SET "canonical_email" = lower(s."email")
WHERE s."email" IS NOT NULL AND s."erased_at" IS NULL
  AND s."email" ~ '^[!-~]+$'
  AND position('+' in split_part(s."email", '@', 1)) > 1
  AND lower(split_part(s."email", '@', 2)) NOT IN ('gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com', 'msn.com',
      'icloud.com', 'me.com', 'mac.com', 'proton.me', 'protonmail.com', 'pm.me', 'fastmail.com', 'yandex.ru', 'yandex.com')
  AND s."canonical_email" <> lower(s."email")
  AND NOT EXISTS (SELECT 1 FROM "supporters" o WHERE o."canonical_email" = lower(s."email"));

-- 2. What a new sign-up meets among the person's signatures of the action, read afresh: the
--    writer's statement (signature.repository.ts) has locked the supporter row first, so this
--    sees every sign-up and confirmation of the person that committed before it, even those
--    that committed while the statement waited for the lock (a VOLATILE function takes a new
--    snapshot for each query, the statement's own would not see them).
CREATE FUNCTION chorus_signup_context(p_action uuid, p_supporter uuid, p_version varchar)
RETURNS TABLE (signed_id uuid, same_id uuid, any_id uuid, known_requested_at timestamptz)
LANGUAGE sql VOLATILE AS $$
  WITH c AS (
    SELECT
      (SELECT s.id FROM signatures s WHERE s.action_id = p_action AND s.supporter_id = p_supporter AND s.confirmed_at IS NOT NULL) AS signed_id,
      (SELECT s.id FROM signatures s WHERE s.action_id = p_action AND s.supporter_id = p_supporter AND s.status = 'PENDING'
                                       AND s.signup_version = p_version) AS same_id,
      (SELECT s.id FROM signatures s WHERE s.action_id = p_action AND s.supporter_id = p_supporter
        ORDER BY s.created_at DESC, s.id LIMIT 1) AS any_id
  )
  SELECT c.signed_id, c.same_id, c.any_id,
         (SELECT s.confirmation_requested_at FROM signatures s WHERE s.id = COALESCE(c.signed_id, c.same_id, c.any_id))
  FROM c
$$;
