-- What officials receive, per language: the petition's demand or the organisation's letter,
-- addressed to the official. Until now a letter carried the action's letter text, or, where it
-- had none, a petition's public summary and body. Only the text written for officials (the
-- letter text, of letter actions and of the petitions that had one) is carried over: a
-- petition without one gets a neutral sentence built from its title, and the console says so.
ALTER TABLE "action_texts" ADD COLUMN "official_request" TEXT NOT NULL DEFAULT '';

UPDATE "action_texts" SET "official_request" = "letter_body" WHERE "letter_body" <> '';
