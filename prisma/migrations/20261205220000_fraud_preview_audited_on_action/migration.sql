-- A fraud search looks at one action's signatures and carries the action's id: its audit
-- entries name the action as their record, as the service now writes them.
UPDATE "audit_log" SET "entity" = 'action' WHERE "verb" = 'fraud_previewed' AND "entity" = 'signature';
