-- Staff console insight: network hash for fraud searches, wall moderation, export jobs.
-- The ip_hash and net_hash indexes cost the signing path one index entry each per row. They
-- turn the fraud console's searches by address or network into index lookups.
-- CreateEnum
CREATE TYPE "ExportKind" AS ENUM ('SIGNATURES', 'LETTERS');

-- CreateEnum
CREATE TYPE "ExportStatus" AS ENUM ('RUNNING', 'DONE', 'FAILED', 'EXPIRED');

-- AlterTable
ALTER TABLE "signatures" ADD COLUMN     "net_hash" VARCHAR(64),
ADD COLUMN     "wall_hidden_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "export_jobs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "staff_id" UUID NOT NULL,
    "kind" "ExportKind" NOT NULL,
    "status" "ExportStatus" NOT NULL DEFAULT 'RUNNING',
    "filter" JSONB NOT NULL,
    "total" INTEGER NOT NULL,
    "rows_done" INTEGER NOT NULL DEFAULT 0,
    "error" VARCHAR(500),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "export_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "export_jobs_created_at_idx" ON "export_jobs"("created_at");

-- CreateIndex
CREATE INDEX "signatures_ip_hash_idx" ON "signatures"("ip_hash");

-- CreateIndex
CREATE INDEX "signatures_net_hash_idx" ON "signatures"("net_hash");

-- AddForeignKey
ALTER TABLE "export_jobs" ADD CONSTRAINT "export_jobs_staff_id_fkey" FOREIGN KEY ("staff_id") REFERENCES "staff_users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

