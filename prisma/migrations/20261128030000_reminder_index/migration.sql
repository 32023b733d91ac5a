-- The reminder loop looks for pending signatures whose one reminder is still unsent.
CREATE INDEX "signatures_reminder_owed" ON "signatures" ("confirmation_sent_at")
  WHERE "status" = 'PENDING' AND "reminder_sent_at" IS NULL;
