-- The country minimum of BY_SIGNER_COUNTRY actions (server/src/delivery/country-minimum.ts):
-- whether a country has at least PUBLIC_COUNTRY_MIN signers owed a letter is counted up to
-- that minimum through this index. New sign-ups (pending, in no batch) are not in it, so the
-- signing path writes nothing more.
CREATE INDEX "signatures_by_country" ON "signatures" ("action_id", "country")
  WHERE "status" = 'CONFIRMED' OR "batch_id" IS NOT NULL;
