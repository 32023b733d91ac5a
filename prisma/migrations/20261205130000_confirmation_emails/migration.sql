-- The email each sign-up owes moves off the wide signatures row into confirmation_emails, a
-- narrow row per signature: marking an email sent or a reminder claimed no longer rewrites a
-- signatures row and its twelve indexes. An address's owed emails are found by the partial index
-- confirmation_emails_owed_by_person (before, letting one go scanned every signature, since no
-- index of signatures starts with supporter_id).

CREATE TABLE "confirmation_emails" (
    "signature_id" UUID NOT NULL,
    "supporter_id" UUID NOT NULL,
    "action_id" UUID NOT NULL,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "released_at" TIMESTAMPTZ(3),
    "sent_at" TIMESTAMPTZ(3),
    "reminder_sent_at" TIMESTAMPTZ(3),
    CONSTRAINT "confirmation_emails_pkey" PRIMARY KEY ("signature_id")
);

ALTER TABLE "confirmation_emails" ADD CONSTRAINT "confirmation_emails_signature_id_fkey"
    FOREIGN KEY ("signature_id") REFERENCES "signatures"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- every signature that could still owe or be answered with an email keeps its state
INSERT INTO "confirmation_emails" (signature_id, supporter_id, action_id, requested_at, released_at, sent_at, reminder_sent_at)
SELECT id, supporter_id, action_id, confirmation_requested_at, confirmation_released_at, confirmation_sent_at, reminder_sent_at
FROM "signatures" WHERE status <> 'INVALIDATED';

-- the sweeper: owed emails, oldest request first
CREATE INDEX "confirmation_emails_owed" ON "confirmation_emails" ("requested_at")
    WHERE sent_at IS NULL OR requested_at > sent_at;
-- letting an address's owed emails go, one per action
CREATE INDEX "confirmation_emails_owed_by_person" ON "confirmation_emails" ("supporter_id", "action_id")
    WHERE sent_at IS NULL OR requested_at > sent_at;
-- reminders: sent emails not yet followed by one
CREATE INDEX "confirmation_emails_reminder_owed" ON "confirmation_emails" ("sent_at")
    WHERE reminder_sent_at IS NULL;

DROP INDEX IF EXISTS "signatures_confirmation_owed";
DROP INDEX IF EXISTS "signatures_reminder_owed";
ALTER TABLE "signatures" DROP COLUMN "confirmation_requested_at",
    DROP COLUMN "confirmation_released_at",
    DROP COLUMN "confirmation_sent_at",
    DROP COLUMN "reminder_sent_at";

-- what a sign-up meets: the request it would repeat is now the email's
CREATE OR REPLACE FUNCTION chorus_signup_context(p_action uuid, p_supporter uuid, p_version varchar)
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
         (SELECT e.requested_at FROM confirmation_emails e WHERE e.signature_id = COALESCE(c.signed_id, c.same_id, c.any_id))
  FROM c
$$;
