-- Recurring tasks (openapi/tasks-api.yaml: Task.recurrence, series_id,
-- POST /tasks/{task_id}/complete, GET /tasks/{task_id}/occurrences).
-- tasks.recurrence_rule (000001_init) was never written before this; any
-- value it holds is no rule the API gave.
UPDATE tasks SET recurrence_rule = NULL WHERE recurrence_rule IS NOT NULL;

ALTER TABLE tasks
    -- the rule's IANA time zone and what the next due date follows: the
    -- series' due dates ('due') or the completion date ('completion')
    ADD COLUMN recurrence_timezone text NULL,
    ADD COLUMN recurrence_from text NULL CHECK (recurrence_from IN ('due', 'completion')),
    -- the id of the series' first task; kept when the recurrence is cleared
    ADD COLUMN series_id integer NULL,
    -- the task's place in its series, 1 for the first (occurrences passed
    -- over by a late completion count): what COUNT is held to
    ADD COLUMN series_position integer NULL,
    -- the wall-clock date-time the rule gave this task's due date, when the
    -- series made it (due_date read in the zone differs from it only for a
    -- time the clocks skip); NULL once the due date or the zone is set by
    -- hand: the due date read in the zone is then the series' start
    ADD COLUMN due_local timestamp NULL,
    -- the task created when this one was completed: completing it again
    -- (a retry, a second tab) answers that one and creates none. No foreign
    -- key: a deleted next task is simply not found (ids are never reused).
    ADD COLUMN next_task_id integer NULL,
    ADD CONSTRAINT tasks_recurrence_whole CHECK (
        (recurrence_rule IS NULL) = (recurrence_timezone IS NULL)
        AND (recurrence_rule IS NULL) = (recurrence_from IS NULL)),
    -- RECURRENCE_NEEDS_DUE_DATE, also for a PATCH that clears the due date
    ADD CONSTRAINT tasks_recurrence_needs_due_date CHECK (recurrence_rule IS NULL OR due_date IS NOT NULL);

-- One task per place in a series: two completions of one task, however
-- they race, cannot both create its next. Partial: a task outside a series
-- costs no index entry.
CREATE UNIQUE INDEX tasks_series_position_key ON tasks (series_id, series_position) WHERE series_id IS NOT NULL;
