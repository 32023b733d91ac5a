-- Setting signatures aside as fraud acts on one action's signatures and carries the action's id,
-- as a fraud search does: its audit entries name the action as their record too.
UPDATE "audit_log" SET "entity" = 'action' WHERE "verb" = 'bulk_invalidated' AND "entity" = 'signature';
