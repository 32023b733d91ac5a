-- A person's latest choice on being contacted is read beside each of their confirmed signatures
-- (the incremental sync's `contact`), so a new choice must move those signatures' updated_at, as
-- unsubscribing does: a choice confirmed with another signature (a consents row), or changed on
-- the data page (a CONTACT consent event). Without it an integrator past the old updated_at
-- never sees the change.
-- The supporter's signatures are found by a new index on supporter_id, which the data page,
-- erasure and the unsubscribe trigger also read by (they scanned the table before).
-- (function bodies are E-strings with \073 for each semicolon: the migration runner splits
-- statements at every semicolon)

CREATE INDEX "signatures_supporter_id_idx" ON "signatures" ("supporter_id");

CREATE FUNCTION chorus_touch_on_contact_choice() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  UPDATE signatures SET updated_at = clock_timestamp()
  WHERE supporter_id = NEW.supporter_id AND confirmed_at IS NOT NULL AND id IS DISTINCT FROM NEW.signature_id\073
  RETURN NULL\073
END';

CREATE TRIGGER consents_touch_signatures AFTER INSERT
  ON "consents" FOR EACH ROW EXECUTE FUNCTION chorus_touch_on_contact_choice();

CREATE TRIGGER consent_events_touch_signatures AFTER INSERT
  ON "consent_events" FOR EACH ROW WHEN (NEW.purpose = 'CONTACT') EXECUTE FUNCTION chorus_touch_on_contact_choice();
