-- A letter action had two texts for one letter: the letter text the signer's form started
-- from, and the request officials receive. A signer who kept the draft as it was had a
-- different text sent in their name. There is now one: the request to officials is the letter,
-- shown on the page and offered as the draft. Where only the old letter text was written, it
-- becomes the request. Where both were, the request (what was sent) stays.
UPDATE "action_texts" SET "official_request" = "letter_body" WHERE "official_request" = '' AND "letter_body" <> '';

ALTER TABLE "action_texts" DROP COLUMN "letter_body";
