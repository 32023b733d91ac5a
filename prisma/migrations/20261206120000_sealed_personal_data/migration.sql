-- Personal data sealed at rest (server/src/privacy/personal-data.ts). Each supporter, paper import
-- and export file gets a data key of its own, stored only wrapped under a key that is not in the
-- database. The email address, names, personalised letters and receipt codes are stored sealed
-- (bytea) under it, and the canonical email is replaced by a keyed blind index.
--
-- What was stored in clear moves to the *_clear columns, which nothing reads: `npm run keys -- seal`
-- (run by `npm start` and by the deploy after the migrations) seals each such row under a new
-- data key and empties them. A later migration drops them.

-- supporters
ALTER TABLE "supporters" RENAME COLUMN "canonical_email" TO "canonical_email_clear";
ALTER TABLE "supporters" ALTER COLUMN "canonical_email_clear" DROP NOT NULL;
ALTER INDEX "supporters_canonical_email_key" RENAME TO "supporters_canonical_email_clear_key";
ALTER TABLE "supporters" RENAME COLUMN "email" TO "email_clear";
ALTER TABLE "supporters" RENAME COLUMN "first_name" TO "first_name_clear";
ALTER TABLE "supporters" RENAME COLUMN "last_name" TO "last_name_clear";
-- HMAC-SHA-256 of the canonical email, 64 hex digits, under a key derived from SECRET_KEY
ALTER TABLE "supporters" ADD COLUMN "email_index" VARCHAR(64);
CREATE UNIQUE INDEX "supporters_email_index_key" ON "supporters"("email_index");
-- the same keyed hash of the address's domain, for the fraud search by domain
ALTER TABLE "supporters" ADD COLUMN "email_domain_index" VARCHAR(64);
CREATE INDEX "supporters_email_domain_index_idx" ON "supporters"("email_domain_index");
-- the supporter's data key, wrapped, null once erased (the data key is destroyed)
ALTER TABLE "supporters" ADD COLUMN "data_key" BYTEA;
ALTER TABLE "supporters" ADD COLUMN "email" BYTEA;
-- first and last name, sealed as one value
ALTER TABLE "supporters" ADD COLUMN "name" BYTEA;

-- signatures
ALTER TABLE "signatures" RENAME COLUMN "pending_first_name" TO "pending_first_name_clear";
ALTER TABLE "signatures" RENAME COLUMN "pending_last_name" TO "pending_last_name_clear";
ALTER TABLE "signatures" RENAME COLUMN "letter_subject" TO "letter_subject_clear";
ALTER TABLE "signatures" RENAME COLUMN "letter_body" TO "letter_body_clear";
-- sealed under the supporter's data key: the name the sign-up gave, and the member's letter (subject and body)
ALTER TABLE "signatures" ADD COLUMN "pending_name" BYTEA;
ALTER TABLE "signatures" ADD COLUMN "letter" BYTEA;

-- paper signatures: names sealed under the import's data key, the name key now keyed
ALTER TABLE "paper_imports" ADD COLUMN "data_key" BYTEA;
ALTER TABLE "paper_signatures" RENAME COLUMN "first_name" TO "first_name_clear";
ALTER TABLE "paper_signatures" RENAME COLUMN "last_name" TO "last_name_clear";
ALTER TABLE "paper_signatures" ADD COLUMN "name" BYTEA;
-- whether the paper signer gave a name (what the SQL that picks named signers needs)
ALTER TABLE "paper_signatures" ADD COLUMN "has_name" BOOLEAN NOT NULL DEFAULT false;

-- export files are encrypted on disk under a key of their own, wrapped here
ALTER TABLE "export_jobs" ADD COLUMN "file_key" BYTEA;
