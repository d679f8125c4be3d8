-- Reminders (openapi/tasks-api.yaml: Task.reminders): at most 5 a task,
-- kept with the task as a JSON array of
--   {"id", "before": seconds before the due date | null, "at": a time | null,
--    "fired_at": when it fired | null, "fired_for": the time it fired for | null,
--    "missed": true when it fired more than REMINDER_MAX_LATENESS late}
-- A reminder's time (fires_at) is derived: at, or the due date less before;
-- it has fired when fired_for is that time, so moving the due date makes a
-- relative reminder due again. River's jobs fire them (internal/reminders).
ALTER TABLE tasks ADD COLUMN reminders jsonb NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD CONSTRAINT tasks_reminders_at_most_5 CHECK (jsonb_array_length(reminders) <= 5);
ALTER TABLE tasks ADD CONSTRAINT tasks_reminder_needs_due_date
    CHECK (due_date IS NOT NULL OR NOT jsonb_path_exists(reminders, '$[*] ? (@.before != null)'));

CREATE SEQUENCE reminder_ids;

-- reminder_fires_at(r, due): when reminder r fires for a task due at due.
CREATE FUNCTION reminder_fires_at(r jsonb, due timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN r->>'before' IS NULL THEN (r->>'at')::timestamptz
                ELSE due - make_interval(secs => (r->>'before')::double precision) END
$$;

-- with_reminder_ids(new, old): the reminders new (each {"before"} or
-- {"at"}) as stored: one equal to a reminder of old (the task's before the
-- write) is that one, id and firing kept; the others get new ids.
CREATE FUNCTION with_reminder_ids(new jsonb, old jsonb) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(jsonb_agg(coalesce(
               (SELECT o FROM jsonb_array_elements(old) AS o
                WHERE o->'before' = coalesce(n->'before', 'null') AND o->'at' = coalesce(n->'at', 'null') LIMIT 1),
               jsonb_build_object('id', nextval('reminder_ids'), 'before', coalesce(n->'before', 'null'),
                                  'at', coalesce(n->'at', 'null'), 'fired_at', null, 'fired_for', null))
             ORDER BY i), '[]')
    FROM jsonb_array_elements(new) WITH ORDINALITY AS e(n, i)
$$;

-- next_reminders(old): the reminders of a recurring task's next occurrence:
-- the relative ones, new.
CREATE FUNCTION next_reminders(old jsonb) RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT with_reminder_ids(coalesce(jsonb_agg(jsonb_build_object('before', o->'before') ORDER BY i), '[]'), '[]')
    FROM jsonb_array_elements(old) WITH ORDINALITY AS e(o, i)
    WHERE o->>'before' IS NOT NULL
$$;

-- events_wanted(user): whether the user's events go anywhere (NATS, or a
-- webhook of theirs): record_event's rule (000013_events), for the events
-- written outside its trigger (reminder.due).
CREATE FUNCTION events_wanted(user_id uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (SELECT s.nats FROM event_settings AS s)
        OR EXISTS (SELECT 1 FROM webhooks AS w WHERE w.user_id = events_wanted.user_id AND NOT w.disabled)
$$;
