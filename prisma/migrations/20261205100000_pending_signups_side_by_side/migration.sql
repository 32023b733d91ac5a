-- Sign-ups of one person for one action wait side by side until the owner of the address
-- confirms one of them (signature.repository.ts writeSignatures): a newer sign-up with her
-- address, someone else's, no longer takes the place of hers. What stays unique:
-- - the signature that counts: at most one confirmed signature per person and action;
-- - a waiting sign-up per set of details (signup_version, the fingerprint its confirmation link
--   carries): the same sign-up twice, even in two statements at the same moment, is one row.
DROP INDEX "signatures_action_id_supporter_id_key";
CREATE INDEX "signatures_action_id_supporter_id_idx" ON "signatures" ("action_id", "supporter_id");
CREATE UNIQUE INDEX "signatures_one_confirmed_per_person" ON "signatures" ("action_id", "supporter_id")
  WHERE "confirmed_at" IS NOT NULL;
ALTER TABLE "signatures" ADD COLUMN "signup_version" VARCHAR(22);
CREATE UNIQUE INDEX "signatures_pending_once" ON "signatures" ("action_id", "supporter_id", "signup_version")
  WHERE "status" = 'PENDING';
