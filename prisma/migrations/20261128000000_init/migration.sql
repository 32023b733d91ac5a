-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "ActionKind" AS ENUM ('PETITION', 'LETTER');

-- CreateEnum
CREATE TYPE "ActionStatus" AS ENUM ('DRAFT', 'PUBLISHED', 'CLOSED', 'ARCHIVED');

-- CreateEnum
CREATE TYPE "DeliveryPolicy" AS ENUM ('IMMEDIATE', 'EVERY_N', 'DAILY_DIGEST', 'MILESTONES', 'ON_CLOSE');

-- CreateEnum
CREATE TYPE "TargetMode" AS ENUM ('FIXED', 'BY_SIGNER_COUNTRY');

-- CreateEnum
CREATE TYPE "TargetKind" AS ENUM ('GOVERNMENT', 'MINISTRY', 'PROSECUTOR', 'EMBASSY', 'IGO', 'UN_MECHANISM');

-- CreateEnum
CREATE TYPE "ContactStatus" AS ENUM ('OK', 'STALE');

-- CreateEnum
CREATE TYPE "SignatureStatus" AS ENUM ('PENDING', 'CONFIRMED', 'INVALIDATED');

-- CreateEnum
CREATE TYPE "ConsentPurpose" AS ENUM ('COUNT', 'NAMED_DISCLOSURE', 'PUBLIC_WALL', 'CONTACT');

-- CreateEnum
CREATE TYPE "LetterStatus" AS ENUM ('PENDING', 'SUBMITTING', 'SENT', 'FAILED', 'BOUNCED');

-- CreateEnum
CREATE TYPE "ResponseStatus" AS ENUM ('RECEIVED', 'PUBLISHED', 'REJECTED');

-- CreateEnum
CREATE TYPE "StaffRole" AS ENUM ('ADMIN', 'CAMPAIGNER', 'VIEWER');

-- CreateTable
CREATE TABLE "campaigns" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "slug" VARCHAR(80) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "campaigns_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "campaign_texts" (
    "campaign_id" UUID NOT NULL,
    "locale" VARCHAR(8) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "summary" VARCHAR(2000) NOT NULL DEFAULT '',

    CONSTRAINT "campaign_texts_pkey" PRIMARY KEY ("campaign_id","locale")
);

-- CreateTable
CREATE TABLE "actions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "campaign_id" UUID NOT NULL,
    "slug" VARCHAR(80) NOT NULL,
    "kind" "ActionKind" NOT NULL,
    "status" "ActionStatus" NOT NULL DEFAULT 'DRAFT',
    "default_locale" VARCHAR(8) NOT NULL DEFAULT 'en',
    "goal" INTEGER NOT NULL DEFAULT 1000,
    "milestones" INTEGER[] DEFAULT ARRAY[]::INTEGER[],
    "signing_enabled" BOOLEAN NOT NULL DEFAULT true,
    "target_mode" "TargetMode" NOT NULL DEFAULT 'FIXED',
    "allow_personalisation" BOOLEAN NOT NULL DEFAULT false,
    "max_letter_length" INTEGER NOT NULL DEFAULT 5000,
    "delivery_policy" "DeliveryPolicy" NOT NULL DEFAULT 'EVERY_N',
    "delivery_every_n" INTEGER NOT NULL DEFAULT 1,
    "delivery_paused" BOOLEAN NOT NULL DEFAULT false,
    "reply_to" VARCHAR(254),
    "published_at" TIMESTAMPTZ(3),
    "closes_at" TIMESTAMPTZ(3),
    "closed_at" TIMESTAMPTZ(3),
    "archived_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "actions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "action_texts" (
    "action_id" UUID NOT NULL,
    "locale" VARCHAR(8) NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "summary" VARCHAR(1000) NOT NULL DEFAULT '',
    "body" TEXT NOT NULL DEFAULT '',
    "letter_subject" VARCHAR(200) NOT NULL DEFAULT '',
    "letter_body" TEXT NOT NULL DEFAULT '',
    "share_text" VARCHAR(280) NOT NULL DEFAULT '',

    CONSTRAINT "action_texts_pkey" PRIMARY KEY ("action_id","locale")
);

-- CreateTable
CREATE TABLE "action_stats" (
    "action_id" UUID NOT NULL,
    "confirmed_count" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "action_stats_pkey" PRIMARY KEY ("action_id")
);

-- CreateTable
CREATE TABLE "action_country_stats" (
    "action_id" UUID NOT NULL,
    "country" CHAR(2) NOT NULL,
    "confirmed_count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "action_country_stats_pkey" PRIMARY KEY ("action_id","country")
);

-- CreateTable
CREATE TABLE "targets" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "slug" VARCHAR(80) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "title" VARCHAR(200) NOT NULL DEFAULT '',
    "organisation" VARCHAR(200) NOT NULL DEFAULT '',
    "kind" "TargetKind" NOT NULL,
    "country" CHAR(2),
    "email" VARCHAR(254) NOT NULL,
    "language" VARCHAR(8) NOT NULL DEFAULT 'en',
    "timezone" VARCHAR(64) NOT NULL DEFAULT 'UTC',
    "office_opens_at" INTEGER NOT NULL DEFAULT 540,
    "office_closes_at" INTEGER NOT NULL DEFAULT 1020,
    "salutation" VARCHAR(200) NOT NULL DEFAULT '',
    "last_verified_at" TIMESTAMPTZ(3),
    "contact_status" "ContactStatus" NOT NULL DEFAULT 'OK',
    "bounce_count" INTEGER NOT NULL DEFAULT 0,
    "notes" TEXT NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "targets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "action_targets" (
    "action_id" UUID NOT NULL,
    "target_id" UUID NOT NULL,
    "position" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "action_targets_pkey" PRIMARY KEY ("action_id","target_id")
);

-- CreateTable
CREATE TABLE "supporters" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "canonical_email" VARCHAR(254) NOT NULL,
    "email" VARCHAR(254),
    "first_name" VARCHAR(100),
    "last_name" VARCHAR(100),
    "country" CHAR(2),
    "locale" VARCHAR(8) NOT NULL DEFAULT 'en',
    "unsubscribed_at" TIMESTAMPTZ(3),
    "erased_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "supporters_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "signatures" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "action_id" UUID NOT NULL,
    "supporter_id" UUID NOT NULL,
    "status" "SignatureStatus" NOT NULL DEFAULT 'PENDING',
    "country" CHAR(2) NOT NULL,
    "locale" VARCHAR(8) NOT NULL DEFAULT 'en',
    "named_disclosure" BOOLEAN NOT NULL DEFAULT false,
    "public_wall" BOOLEAN NOT NULL DEFAULT false,
    "letter_subject" VARCHAR(200),
    "letter_body" TEXT,
    "ip_hash" VARCHAR(64),
    "source" VARCHAR(100),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "confirmation_requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "confirmation_sent_at" TIMESTAMPTZ(3),
    "reminder_sent_at" TIMESTAMPTZ(3),
    "confirmed_at" TIMESTAMPTZ(3),
    "counted_at" TIMESTAMPTZ(3),
    "invalidated_at" TIMESTAMPTZ(3),
    "invalid_reason" VARCHAR(200),
    "batch_id" UUID,

    CONSTRAINT "signatures_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "consents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "supporter_id" UUID NOT NULL,
    "signature_id" UUID,
    "purpose" "ConsentPurpose" NOT NULL,
    "granted" BOOLEAN NOT NULL,
    "wording_version" VARCHAR(40) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "delivery_batches" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "action_id" UUID NOT NULL,
    "reason" VARCHAR(40) NOT NULL,
    "signature_count" INTEGER NOT NULL,
    "total_count" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "delivery_batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "letters" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "batch_id" UUID NOT NULL,
    "target_id" UUID NOT NULL,
    "status" "LetterStatus" NOT NULL DEFAULT 'PENDING',
    "signature_count" INTEGER NOT NULL,
    "locale" VARCHAR(8) NOT NULL,
    "message_id" VARCHAR(200) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "submitting_at" TIMESTAMPTZ(3),
    "last_error" VARCHAR(1000),
    "smtp_response" VARCHAR(1000),
    "sent_at" TIMESTAMPTZ(3),
    "bounced_at" TIMESTAMPTZ(3),
    "opened_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "letters_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "responses" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "action_id" UUID NOT NULL,
    "target_id" UUID NOT NULL,
    "letter_id" UUID,
    "status" "ResponseStatus" NOT NULL DEFAULT 'RECEIVED',
    "body" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "responses_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "staff_users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" VARCHAR(254) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "role" "StaffRole" NOT NULL,
    "password_hash" VARCHAR(255) NOT NULL,
    "totp_secret" VARCHAR(100),
    "disabled_at" TIMESTAMPTZ(3),
    "last_login_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "staff_users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "staff_sessions" (
    "id" VARCHAR(64) NOT NULL,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "staff_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "staff_id" UUID,
    "verb" VARCHAR(60) NOT NULL,
    "entity" VARCHAR(60) NOT NULL,
    "entity_id" VARCHAR(100),
    "before" JSONB,
    "after" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "campaigns_slug_key" ON "campaigns"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "actions_slug_key" ON "actions"("slug");

-- CreateIndex
CREATE INDEX "actions_status_idx" ON "actions"("status");

-- CreateIndex
CREATE UNIQUE INDEX "targets_slug_key" ON "targets"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "supporters_canonical_email_key" ON "supporters"("canonical_email");

-- CreateIndex
CREATE INDEX "signatures_action_id_status_created_at_idx" ON "signatures"("action_id", "status", "created_at");

-- CreateIndex
CREATE INDEX "signatures_batch_id_idx" ON "signatures"("batch_id");

-- CreateIndex
CREATE UNIQUE INDEX "signatures_action_id_supporter_id_key" ON "signatures"("action_id", "supporter_id");

-- CreateIndex
CREATE INDEX "consents_supporter_id_purpose_created_at_idx" ON "consents"("supporter_id", "purpose", "created_at");

-- CreateIndex
CREATE INDEX "delivery_batches_action_id_created_at_idx" ON "delivery_batches"("action_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "letters_message_id_key" ON "letters"("message_id");

-- CreateIndex
CREATE INDEX "letters_status_next_attempt_at_idx" ON "letters"("status", "next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "letters_batch_id_target_id_key" ON "letters"("batch_id", "target_id");

-- CreateIndex
CREATE UNIQUE INDEX "staff_users_email_key" ON "staff_users"("email");

-- CreateIndex
CREATE INDEX "staff_sessions_user_id_idx" ON "staff_sessions"("user_id");

-- CreateIndex
CREATE INDEX "audit_log_entity_entity_id_idx" ON "audit_log"("entity", "entity_id");

-- CreateIndex
CREATE INDEX "audit_log_created_at_idx" ON "audit_log"("created_at");

-- AddForeignKey
ALTER TABLE "campaign_texts" ADD CONSTRAINT "campaign_texts_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "actions" ADD CONSTRAINT "actions_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaigns"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "action_texts" ADD CONSTRAINT "action_texts_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "action_stats" ADD CONSTRAINT "action_stats_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "action_country_stats" ADD CONSTRAINT "action_country_stats_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "action_targets" ADD CONSTRAINT "action_targets_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "action_targets" ADD CONSTRAINT "action_targets_target_id_fkey" FOREIGN KEY ("target_id") REFERENCES "targets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "signatures" ADD CONSTRAINT "signatures_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "signatures" ADD CONSTRAINT "signatures_supporter_id_fkey" FOREIGN KEY ("supporter_id") REFERENCES "supporters"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "signatures" ADD CONSTRAINT "signatures_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "delivery_batches"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consents" ADD CONSTRAINT "consents_supporter_id_fkey" FOREIGN KEY ("supporter_id") REFERENCES "supporters"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consents" ADD CONSTRAINT "consents_signature_id_fkey" FOREIGN KEY ("signature_id") REFERENCES "signatures"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "delivery_batches" ADD CONSTRAINT "delivery_batches_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "letters" ADD CONSTRAINT "letters_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "delivery_batches"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "letters" ADD CONSTRAINT "letters_target_id_fkey" FOREIGN KEY ("target_id") REFERENCES "targets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "responses" ADD CONSTRAINT "responses_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "responses" ADD CONSTRAINT "responses_target_id_fkey" FOREIGN KEY ("target_id") REFERENCES "targets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "responses" ADD CONSTRAINT "responses_letter_id_fkey" FOREIGN KEY ("letter_id") REFERENCES "letters"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "staff_sessions" ADD CONSTRAINT "staff_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "staff_users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_staff_id_fkey" FOREIGN KEY ("staff_id") REFERENCES "staff_users"("id") ON DELETE SET NULL ON UPDATE CASCADE;


-- Invariants Prisma's schema language cannot state.
ALTER TABLE "actions" ADD CONSTRAINT "actions_goal_positive" CHECK ("goal" > 0);
ALTER TABLE "actions" ADD CONSTRAINT "actions_every_n_positive" CHECK ("delivery_every_n" >= 1);
ALTER TABLE "actions" ADD CONSTRAINT "actions_max_letter_length" CHECK ("max_letter_length" BETWEEN 100 AND 20000);
ALTER TABLE "actions" ADD CONSTRAINT "actions_slug_format" CHECK ("slug" ~ '^[a-z0-9][a-z0-9-]*$');
ALTER TABLE "targets" ADD CONSTRAINT "targets_country_format" CHECK ("country" IS NULL OR "country" ~ '^[A-Z]{2}$');
ALTER TABLE "targets" ADD CONSTRAINT "targets_office_hours" CHECK ("office_opens_at" >= 0 AND "office_closes_at" <= 1440 AND "office_opens_at" < "office_closes_at");
ALTER TABLE "supporters" ADD CONSTRAINT "supporters_country_format" CHECK ("country" IS NULL OR "country" ~ '^[A-Z]{2}$');
ALTER TABLE "supporters" ADD CONSTRAINT "supporters_erased_has_no_email" CHECK ("erased_at" IS NULL OR "email" IS NULL);
ALTER TABLE "signatures" ADD CONSTRAINT "signatures_country_format" CHECK ("country" ~ '^[A-Z]{2}$');
ALTER TABLE "signatures" ADD CONSTRAINT "signatures_confirmed_has_time" CHECK ("status" <> 'CONFIRMED' OR "confirmed_at" IS NOT NULL);
ALTER TABLE "signatures" ADD CONSTRAINT "signatures_invalidated_has_time" CHECK ("status" <> 'INVALIDATED' OR "invalidated_at" IS NOT NULL);
ALTER TABLE "signatures" ADD CONSTRAINT "signatures_counted_only_confirmed" CHECK ("counted_at" IS NULL OR "confirmed_at" IS NOT NULL);
ALTER TABLE "action_stats" ADD CONSTRAINT "action_stats_nonnegative" CHECK ("confirmed_count" >= 0);
ALTER TABLE "action_country_stats" ADD CONSTRAINT "action_country_stats_nonnegative" CHECK ("confirmed_count" >= 0);
ALTER TABLE "delivery_batches" ADD CONSTRAINT "delivery_batches_counts" CHECK ("signature_count" >= 0 AND "total_count" >= "signature_count");
ALTER TABLE "letters" ADD CONSTRAINT "letters_sent_has_time" CHECK ("status" NOT IN ('SENT', 'BOUNCED') OR "sent_at" IS NOT NULL);
ALTER TABLE "letters" ADD CONSTRAINT "letters_attempts_nonnegative" CHECK ("attempts" >= 0);

-- Partial indexes for the workers' scans: each finds only the rows that still owe work.
CREATE INDEX "signatures_to_count" ON "signatures" ("action_id") WHERE "status" = 'CONFIRMED' AND "counted_at" IS NULL;
CREATE INDEX "signatures_to_batch" ON "signatures" ("action_id", "confirmed_at") WHERE "status" = 'CONFIRMED' AND "batch_id" IS NULL;
CREATE INDEX "signatures_confirmation_owed" ON "signatures" ("confirmation_requested_at")
  WHERE "confirmation_sent_at" IS NULL OR "confirmation_requested_at" > "confirmation_sent_at";
CREATE INDEX "letters_owed" ON "letters" ("next_attempt_at") WHERE "status" IN ('PENDING', 'SUBMITTING');
