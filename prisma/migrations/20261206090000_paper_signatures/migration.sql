-- Paper signatures: street teams and events collect them on paper, staff import them from a CSV,
-- preview what would count, then count them. They are in the public count, apart
-- (action_stats.paper_count), travel in the packets of a delivery of their own, are
-- deduplicated by their place on paper (sheet and line) and by name and country, and can be
-- withdrawn by import.
CREATE TYPE "PaperImportStatus" AS ENUM ('PREVIEW', 'COUNTED', 'WITHDRAWN');

CREATE TABLE "paper_imports" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "action_id" UUID NOT NULL,
    "status" "PaperImportStatus" NOT NULL DEFAULT 'PREVIEW',
    "filename" VARCHAR(200) NOT NULL DEFAULT '',
    "event" VARCHAR(200) NOT NULL,
    "collected_on" DATE NOT NULL,
    "consent_version" VARCHAR(100) NOT NULL,
    "names_to_officials" BOOLEAN NOT NULL DEFAULT false,
    "row_count" INTEGER NOT NULL,
    "counted_count" INTEGER NOT NULL DEFAULT 0,
    "batch_id" UUID,
    "created_by" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "counted_at" TIMESTAMPTZ(3),
    "withdrawn_at" TIMESTAMPTZ(3),
    CONSTRAINT "paper_imports_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "paper_imports_action_id_created_at_idx" ON "paper_imports"("action_id", "created_at");
ALTER TABLE "paper_imports" ADD CONSTRAINT "paper_imports_action_id_fkey" FOREIGN KEY ("action_id") REFERENCES "actions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "paper_imports" ADD CONSTRAINT "paper_imports_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "delivery_batches"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "paper_imports" ADD CONSTRAINT "paper_imports_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "staff_users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

CREATE TABLE "paper_signatures" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "import_id" UUID NOT NULL,
    "action_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "sheet" VARCHAR(40) NOT NULL,
    "line" INTEGER NOT NULL,
    "first_name" VARCHAR(100),
    "last_name" VARCHAR(100),
    "country" CHAR(2),
    "name_key" VARCHAR(300),
    "duplicate" BOOLEAN NOT NULL DEFAULT false,
    "counted" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "paper_signatures_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "paper_signatures_import_id_idx" ON "paper_signatures"("import_id");
-- one counted signature per place on paper, and per name and country, in an action
CREATE UNIQUE INDEX "paper_signatures_counted_place_key" ON "paper_signatures"("action_id", "sheet", "line") WHERE "counted";
CREATE UNIQUE INDEX "paper_signatures_counted_name_key" ON "paper_signatures"("action_id", "name_key") WHERE "counted" AND "name_key" IS NOT NULL;
ALTER TABLE "paper_signatures" ADD CONSTRAINT "paper_signatures_import_id_fkey" FOREIGN KEY ("import_id") REFERENCES "paper_imports"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "action_stats" ADD COLUMN "paper_count" INTEGER NOT NULL DEFAULT 0;
