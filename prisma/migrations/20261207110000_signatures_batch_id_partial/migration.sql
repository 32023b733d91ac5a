-- The index of signatures by delivery batch holds only signatures that are in one. Every sign-up
-- is written with no batch, and most never get one (a pending sign-up, one set aside), yet each
-- took an entry in this index: one index insert per sign-up that no query reads. The queries by
-- batch ask for one batch (batch_id = $1), which this index serves as before, and those for
-- signatures not yet delivered go by signatures_to_batch
DROP INDEX "signatures_batch_id_idx";
CREATE INDEX "signatures_batch_id_idx" ON "signatures"("batch_id") WHERE "batch_id" IS NOT NULL;
