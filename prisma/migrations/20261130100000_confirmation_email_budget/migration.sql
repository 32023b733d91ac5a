-- The per-address limit on confirmation emails (SIGN_LIMIT_PER_EMAIL per 10 minutes) moves from
-- the sign-up to the sending: a sign-up past it is no longer stored invalidated (which let anyone
-- who used up an address's budget swallow its owner's own sign-up) but kept pending, and its email
-- waits until the address's budget allows, oldest request first (signature/confirmation.service.ts).

-- AlterTable: the address's budget, a fixed window and the emails let go in it
ALTER TABLE "supporters" ADD COLUMN     "confirmation_window_at" TIMESTAMPTZ(3),
ADD COLUMN     "confirmation_window_sent" INTEGER NOT NULL DEFAULT 0;

-- AlterTable: the request (confirmation_requested_at) whose email the budget let go
ALTER TABLE "signatures" ADD COLUMN     "confirmation_released_at" TIMESTAMPTZ(3);

-- No backfill: an email already sent is not owed, and the budget only looks at owed ones. Those
-- owed at the upgrade are let go by the workers under the budget, like any new one.
