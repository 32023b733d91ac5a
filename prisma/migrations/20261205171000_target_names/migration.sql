-- A target's name, title and office in each language members read, and whether its own
-- (official) name is used in every language instead.
ALTER TABLE "targets" ADD COLUMN "names" JSONB NOT NULL DEFAULT '{}';
ALTER TABLE "targets" ADD COLUMN "name_is_official" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "targets" ADD CONSTRAINT "targets_names_object" CHECK (jsonb_typeof("names") = 'object');
