DROP FUNCTION events_wanted(uuid);
DROP FUNCTION next_reminders(jsonb);
DROP FUNCTION with_reminder_ids(jsonb, jsonb);
DROP FUNCTION reminder_fires_at(jsonb, timestamptz);
DROP SEQUENCE reminder_ids;
ALTER TABLE tasks
    DROP CONSTRAINT tasks_reminder_needs_due_date,
    DROP CONSTRAINT tasks_reminders_at_most_5,
    DROP COLUMN reminders;
