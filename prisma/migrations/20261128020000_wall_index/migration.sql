-- The public wall reads the latest confirmed signers who chose to be shown, per action.
CREATE INDEX "signatures_public_wall" ON "signatures" ("action_id", "confirmed_at" DESC)
  WHERE "status" = 'CONFIRMED' AND "public_wall";
