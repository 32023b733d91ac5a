-- Counts anyone can verify: each delivery of online signatures commits to them with the root of
-- a Merkle tree over their receipt leaves (server/src/shared/merkle.ts), chained to the
-- action's delivery before it. Written by the batcher in the transaction that assigns the
-- signatures. A delivery of paper signatures or a threshold's formal request carries no
-- receipts: its four columns stay null and it takes no place in the chain
ALTER TABLE "delivery_batches" ADD COLUMN "tree_root" BYTEA;
ALTER TABLE "delivery_batches" ADD COLUMN "leaf_count" INTEGER;
ALTER TABLE "delivery_batches" ADD COLUMN "chain_root" BYTEA;
ALTER TABLE "delivery_batches" ADD COLUMN "chain_index" INTEGER;
-- all four or none, roots of 32 bytes, a count and a place that make sense
ALTER TABLE "delivery_batches" ADD CONSTRAINT "delivery_batches_roots_check" CHECK (
  ("tree_root" IS NULL AND "leaf_count" IS NULL AND "chain_root" IS NULL AND "chain_index" IS NULL)
  OR ("tree_root" IS NOT NULL AND "leaf_count" IS NOT NULL AND "chain_root" IS NOT NULL AND "chain_index" IS NOT NULL
      AND octet_length("tree_root") = 32 AND octet_length("chain_root") = 32 AND "leaf_count" >= 0 AND "chain_index" >= 1)
);
-- one delivery per place in an action's chain: two deliveries can never claim the same predecessor
CREATE UNIQUE INDEX "delivery_batches_action_id_chain_index_key" ON "delivery_batches"("action_id", "chain_index");
