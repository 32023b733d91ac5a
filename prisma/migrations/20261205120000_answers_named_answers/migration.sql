-- An official's reply is an answer everywhere: in the code, the URLs, the pages and now the
-- schema. Renamed in place, so every row, default and reference is kept.

-- the status enum (the column default follows the type)
ALTER TYPE "ResponseStatus" RENAME TO "AnswerStatus";

-- answers
ALTER TABLE "responses" RENAME TO "answers";
ALTER TABLE "answers" RENAME CONSTRAINT "responses_pkey" TO "answers_pkey";
ALTER TABLE "answers" RENAME CONSTRAINT "responses_action_id_fkey" TO "answers_action_id_fkey";
ALTER TABLE "answers" RENAME CONSTRAINT "responses_target_id_fkey" TO "answers_target_id_fkey";
ALTER TABLE "answers" RENAME CONSTRAINT "responses_letter_id_fkey" TO "answers_letter_id_fkey";
ALTER INDEX "responses_status_received_at_idx" RENAME TO "answers_status_received_at_idx";

-- their attachments
ALTER TABLE "response_attachments" RENAME TO "answer_attachments";
ALTER TABLE "answer_attachments" RENAME COLUMN "response_id" TO "answer_id";
ALTER TABLE "answer_attachments" RENAME CONSTRAINT "response_attachments_pkey" TO "answer_attachments_pkey";
ALTER TABLE "answer_attachments" RENAME CONSTRAINT "response_attachments_response_id_fkey" TO "answer_attachments_answer_id_fkey";
ALTER TABLE "answer_attachments" RENAME CONSTRAINT "response_attachments_size_check" TO "answer_attachments_size_check";
ALTER INDEX "response_attachments_response_id_idx" RENAME TO "answer_attachments_answer_id_idx";

-- the outbox of "an official answered" emails
ALTER TABLE "answer_notifications" RENAME COLUMN "response_id" TO "answer_id";
ALTER TABLE "answer_notifications" RENAME CONSTRAINT "answer_notifications_response_id_fkey" TO "answer_notifications_answer_id_fkey";
ALTER INDEX "answer_notifications_response_id_supporter_id_key" RENAME TO "answer_notifications_answer_id_supporter_id_key";

-- the audit log names the kind of record as its table does
UPDATE "audit_log" SET "entity" = 'answer' WHERE "entity" = 'response';
