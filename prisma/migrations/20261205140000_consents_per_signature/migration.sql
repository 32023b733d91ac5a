-- Consents: one row per confirmed signature, the purposes as columns, instead of five rows (and
-- ten foreign-key checks) per confirmation. The append-only history of later changes keeps its
-- shape under the name consent_events. The choices recorded at a confirmation (the rows written
-- together with a COUNT row, at its time and for its signature) move into the new table.

ALTER TABLE "consents" RENAME TO "consent_events";
ALTER TABLE "consent_events" RENAME CONSTRAINT "consents_pkey" TO "consent_events_pkey";
ALTER TABLE "consent_events" RENAME CONSTRAINT "consents_supporter_id_fkey" TO "consent_events_supporter_id_fkey";
ALTER TABLE "consent_events" RENAME CONSTRAINT "consents_signature_id_fkey" TO "consent_events_signature_id_fkey";
ALTER INDEX "consents_supporter_id_purpose_created_at_idx" RENAME TO "consent_events_supporter_id_purpose_created_at_idx";

CREATE TABLE "consents" (
    "signature_id" UUID NOT NULL,
    "supporter_id" UUID NOT NULL,
    "named_disclosure" BOOLEAN NOT NULL,
    "named_to_own_country" BOOLEAN NOT NULL,
    "public_wall" BOOLEAN NOT NULL,
    "contact" BOOLEAN NOT NULL,
    "wording_version" VARCHAR(40) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "consents_pkey" PRIMARY KEY ("signature_id")
);
CREATE INDEX "consents_supporter_id_created_at_idx" ON "consents"("supporter_id", "created_at");
ALTER TABLE "consents" ADD CONSTRAINT "consents_supporter_id_fkey" FOREIGN KEY ("supporter_id") REFERENCES "supporters"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "consents" ADD CONSTRAINT "consents_signature_id_fkey" FOREIGN KEY ("signature_id") REFERENCES "signatures"("id") ON DELETE CASCADE ON UPDATE CASCADE;

INSERT INTO "consents" (signature_id, supporter_id, named_disclosure, named_to_own_country, public_wall, contact, wording_version, created_at)
SELECT DISTINCT ON (c.signature_id) c.signature_id, c.supporter_id,
       COALESCE(bool_or(o.granted) FILTER (WHERE o.purpose = 'NAMED_DISCLOSURE'), false),
       COALESCE(bool_or(o.granted) FILTER (WHERE o.purpose = 'NAMED_TO_OWN_COUNTRY'), false),
       COALESCE(bool_or(o.granted) FILTER (WHERE o.purpose = 'PUBLIC_WALL'), false),
       COALESCE(bool_or(o.granted) FILTER (WHERE o.purpose = 'CONTACT'), false),
       c.wording_version, c.created_at
FROM "consent_events" c
LEFT JOIN "consent_events" o ON o.signature_id = c.signature_id AND o.created_at = c.created_at AND o.purpose <> 'COUNT'
WHERE c.purpose = 'COUNT' AND c.signature_id IS NOT NULL
GROUP BY c.id, c.signature_id, c.supporter_id, c.wording_version, c.created_at
ORDER BY c.signature_id, c.created_at;

DELETE FROM "consent_events" e USING "consents" c
WHERE e.signature_id = c.signature_id AND e.created_at = c.created_at;
