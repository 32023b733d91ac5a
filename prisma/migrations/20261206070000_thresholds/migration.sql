-- Answers owed by a date. Staff set thresholds per action, and when the confirmed count reaches
-- one, each target is sent a formal request to answer within the action's number of days (a
-- letter of its own, in a delivery batch whose reason is "threshold"), and the clock starts.
ALTER TABLE "actions" ADD COLUMN "respond_within_days" INTEGER NOT NULL DEFAULT 30;
ALTER TABLE "actions" ADD CONSTRAINT "actions_respond_within_days_range" CHECK ("respond_within_days" BETWEEN 1 AND 365);

CREATE TABLE "action_thresholds" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "action_id" UUID NOT NULL,
    "count" INTEGER NOT NULL,
    "reached_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "action_thresholds_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "action_thresholds_count_positive" CHECK ("count" > 0)
);
CREATE UNIQUE INDEX "action_thresholds_action_id_count_key" ON "action_thresholds"("action_id", "count");
ALTER TABLE "action_thresholds" ADD CONSTRAINT "action_thresholds_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- one per target of a reached threshold: the letter that asked, and when the date passed
-- unanswered (the signers who opted in are then told, once)
CREATE TABLE "threshold_requests" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "threshold_id" UUID NOT NULL,
    "target_id" UUID NOT NULL,
    "letter_id" UUID NOT NULL,
    "overdue_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "threshold_requests_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "threshold_requests_threshold_id_target_id_key" ON "threshold_requests"("threshold_id", "target_id");
CREATE UNIQUE INDEX "threshold_requests_letter_id_key" ON "threshold_requests"("letter_id");
ALTER TABLE "threshold_requests" ADD CONSTRAINT "threshold_requests_threshold_id_fkey" FOREIGN KEY ("threshold_id") REFERENCES "action_thresholds"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "threshold_requests" ADD CONSTRAINT "threshold_requests_target_id_fkey" FOREIGN KEY ("target_id") REFERENCES "targets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "threshold_requests" ADD CONSTRAINT "threshold_requests_letter_id_fkey" FOREIGN KEY ("letter_id") REFERENCES "letters"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The outbox of emails to signers about what happened after they acted (a threshold reached,
-- an answer overdue): one row per (what, event, supporter), sent once by the mail worker
CREATE TABLE "member_notices" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "kind" VARCHAR(20) NOT NULL,
    "subject_id" UUID NOT NULL,
    "event" VARCHAR(80) NOT NULL,
    "supporter_id" UUID NOT NULL,
    "locale" VARCHAR(8) NOT NULL,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    CONSTRAINT "member_notices_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "member_notices_kind_subject_id_event_supporter_id_key" ON "member_notices"("kind", "subject_id", "event", "supporter_id");
CREATE INDEX "member_notices_sent_at_requested_at_idx" ON "member_notices"("sent_at", "requested_at");
ALTER TABLE "member_notices" ADD CONSTRAINT "member_notices_supporter_id_fkey" FOREIGN KEY ("supporter_id") REFERENCES "supporters"("id") ON DELETE CASCADE ON UPDATE CASCADE;
