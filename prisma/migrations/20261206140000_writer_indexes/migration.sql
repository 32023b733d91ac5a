-- The unique index of canonical_email_clear took a NULL for every new supporter, and nothing
-- needs it: the column only holds what was there before sealing, until `npm run keys -- seal`
-- empties it, and nothing looks it up.
DROP INDEX "supporters_canonical_email_clear_key";
