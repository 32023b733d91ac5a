// For tests: every consent record as one row per purpose, whichever table holds it (each
// confirmed signature's choices in consents, later changes in consent_events), with the columns
// supporter_id, signature_id, purpose, granted, wording_version, created_at and id (NULL for a
// confirmation's). Use as a table: `FROM ${CONSENT_RECORDS} c`. The platform's own readers are in
// server/src/supporter/consent.ts.
export const CONSENT_RECORDS = `(
  SELECT c.supporter_id, c.signature_id, p.purpose, p.granted, c.wording_version, c.created_at, NULL::uuid AS id
  FROM consents c CROSS JOIN LATERAL (VALUES ('COUNT'::"ConsentPurpose", true), ('NAMED_DISCLOSURE', c.named_disclosure),
                                             ('NAMED_TO_OWN_COUNTRY', c.named_to_own_country), ('PUBLIC_WALL', c.public_wall),
                                             ('CONTACT', c.contact)) AS p(purpose, granted)
  UNION ALL
  SELECT e.supporter_id, e.signature_id, e.purpose, e.granted, e.wording_version, e.created_at, e.id FROM consent_events e
)`;
