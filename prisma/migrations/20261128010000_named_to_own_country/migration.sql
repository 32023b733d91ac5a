-- AlterEnum
ALTER TYPE "ConsentPurpose" ADD VALUE 'NAMED_TO_OWN_COUNTRY';

-- AlterTable
ALTER TABLE "signatures" ADD COLUMN     "named_to_own_country" BOOLEAN NOT NULL DEFAULT false;

