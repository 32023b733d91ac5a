-- Case updates: what happened next (released, moved, tried, still held), written by staff per
-- language on an action, shown on its page and emailed once to the signers who opted in (through
-- member_notices, kind "update")
CREATE TABLE "action_updates" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "action_id" UUID NOT NULL,
    "published_at" TIMESTAMPTZ(3) NOT NULL,
    "created_by" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "action_updates_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "action_updates_action_id_published_at_idx" ON "action_updates"("action_id", "published_at");
ALTER TABLE "action_updates" ADD CONSTRAINT "action_updates_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "action_updates" ADD CONSTRAINT "action_updates_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "staff_users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

CREATE TABLE "action_update_texts" (
    "update_id" UUID NOT NULL,
    "locale" VARCHAR(8) NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "body" TEXT NOT NULL,
    CONSTRAINT "action_update_texts_pkey" PRIMARY KEY ("update_id", "locale")
);
ALTER TABLE "action_update_texts" ADD CONSTRAINT "action_update_texts_update_id_fkey" FOREIGN KEY ("update_id") REFERENCES "action_updates"("id") ON DELETE CASCADE ON UPDATE CASCADE;
