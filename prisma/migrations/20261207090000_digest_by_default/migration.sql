-- A new action sends one digest a day in office hours until staff choose otherwise: a letter
-- that goes out within seconds of one confirmation can point, by its time, at a signer who
-- lives under the government it is written to
ALTER TABLE "actions" ALTER COLUMN "delivery_policy" SET DEFAULT 'DAILY_DIGEST';
