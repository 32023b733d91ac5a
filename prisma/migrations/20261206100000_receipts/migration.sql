-- Receipts: each sign-up gets a random code, emailed to its signer with the confirmation link
-- and shown once confirmed. Stored are the code sealed under the supporter's data key (for the
-- emails and the pages that show it again) and its leaf, a hash keyed by the code itself: the
-- leaf goes into the Merkle tree of the delivery that counts the signature, and answers
-- GET /api/receipts/:code without the code being kept in clear
ALTER TABLE "signatures" ADD COLUMN "receipt_leaf" BYTEA;
ALTER TABLE "signatures" ADD COLUMN "receipt_sealed" BYTEA;
CREATE UNIQUE INDEX "signatures_receipt_leaf_key" ON "signatures"("receipt_leaf") WHERE "receipt_leaf" IS NOT NULL;
