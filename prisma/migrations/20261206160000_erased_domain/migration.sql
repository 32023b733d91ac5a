-- Erasure now forgets the blind index of the address's domain too (a search by a rare domain
-- found the erased person again): the same for those erased before.
UPDATE "supporters" SET "email_domain_index" = NULL WHERE "erased_at" IS NOT NULL AND "email_domain_index" IS NOT NULL;
