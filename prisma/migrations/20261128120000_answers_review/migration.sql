-- AlterTable
ALTER TABLE "responses" ADD COLUMN     "public_summary" TEXT,
ADD COLUMN     "reviewed_at" TIMESTAMPTZ(3),
ADD COLUMN     "reviewed_by" UUID;

-- CreateTable
CREATE TABLE "response_attachments" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "response_id" UUID NOT NULL,
    "filename" VARCHAR(200) NOT NULL,
    "content_type" VARCHAR(100) NOT NULL,
    "size" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "response_attachments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "answer_notifications" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "response_id" UUID NOT NULL,
    "supporter_id" UUID NOT NULL,
    "locale" VARCHAR(8) NOT NULL,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),

    CONSTRAINT "answer_notifications_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "response_attachments_response_id_idx" ON "response_attachments"("response_id");

-- CreateIndex
CREATE INDEX "answer_notifications_sent_at_requested_at_idx" ON "answer_notifications"("sent_at", "requested_at");

-- CreateIndex
CREATE UNIQUE INDEX "answer_notifications_response_id_supporter_id_key" ON "answer_notifications"("response_id", "supporter_id");

-- CreateIndex
CREATE INDEX "responses_status_received_at_idx" ON "responses"("status", "received_at");

-- AddForeignKey
ALTER TABLE "response_attachments" ADD CONSTRAINT "response_attachments_response_id_fkey" FOREIGN KEY ("response_id") REFERENCES "responses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "answer_notifications" ADD CONSTRAINT "answer_notifications_response_id_fkey" FOREIGN KEY ("response_id") REFERENCES "responses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "answer_notifications" ADD CONSTRAINT "answer_notifications_supporter_id_fkey" FOREIGN KEY ("supporter_id") REFERENCES "supporters"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- the limits delivery/attachment.ts enforces, kept by the database too
ALTER TABLE "response_attachments" ADD CONSTRAINT "response_attachments_size_check" CHECK ("size" > 0 AND "size" <= 5242880 AND octet_length("data") = "size");
