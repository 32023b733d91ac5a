-- A sign-up's name and contact choice wait on its signature until the owner of the address
-- confirms it, and only then do they become the supporter's (name, country) and consent records.
-- AlterTable
ALTER TABLE "signatures" ADD COLUMN     "pending_contact" BOOLEAN,
ADD COLUMN     "pending_first_name" VARCHAR(100),
ADD COLUMN     "pending_last_name" VARCHAR(100);

-- Signatures never confirmed take what they were signed with: the contact choice of their own
-- consent record, and the name on file (the only one there was). Their consent records go:
-- consents are now recorded when the owner confirms, so an unconfirmed sign-up never speaks
-- for the person (the latest CONTACT record decides who may be emailed or exported).
UPDATE "signatures" s
SET "pending_contact" = (SELECT c."granted" FROM "consents" c
                         WHERE c."signature_id" = s."id" AND c."purpose" = 'CONTACT'
                         ORDER BY c."created_at" DESC, c."id" DESC LIMIT 1),
    "pending_first_name" = p."first_name",
    "pending_last_name" = p."last_name"
FROM "supporters" p
WHERE p."id" = s."supporter_id" AND s."confirmed_at" IS NULL;

DELETE FROM "consents" c USING "signatures" s
WHERE c."signature_id" = s."id" AND s."confirmed_at" IS NULL;

-- The signing writer names these columns in its ON CONFLICT update (a clean sign-up replaces one
-- never confirmed), so a repeat that changes nothing must not make the signature look changed
-- to integrators: touch only when a watched column really changed.
CREATE OR REPLACE FUNCTION chorus_touch_signature() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status OR NEW.named_disclosure IS DISTINCT FROM OLD.named_disclosure
     OR NEW.public_wall IS DISTINCT FROM OLD.public_wall OR NEW.named_to_own_country IS DISTINCT FROM OLD.named_to_own_country
     OR NEW.invalidated_at IS DISTINCT FROM OLD.invalidated_at THEN
    NEW.updated_at := clock_timestamp()\073
  END IF\073
  RETURN NEW\073
END';
