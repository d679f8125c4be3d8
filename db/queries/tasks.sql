-- Tasks. Every statement is scoped by user_id in the SQL itself, and every
-- one that returns tasks returns whole rows (the Task model).
--
-- The list comes in one statement per order (sort key and direction), each
-- with an ORDER BY that an index of 000001_init yields directly, so a page is
-- an index walk that stops after OFFSET + LIMIT rows. The page (a CTE) is
-- then joined with its tasks' tags: one row per task and tag (one row with
-- NULL tag columns for a task without tags), in the page's order and then by
-- tag name, so a page with its tags is one statement (faster than the page
-- and its tags as two statements, or the tags as a JSON array per row:
-- docs/performance.md).
--
-- The filters are "(param IS NULL OR ...)": when a filter is used, these
-- statements are planned for their actual parameters at every execution
-- (internal/api/list.go runs them through store.DB.PlannedEachRun), so the
-- planner folds the unused filters away and can choose the trigram index
-- for `q` (on the narrow table task_search,
-- db/migrations/000008_task_search_table) or the tag index for `tag`.
-- task_search is LEFT JOINed on its primary key: without `q` nothing refers
-- to it and the planner drops the join; with `q` the pattern makes it an
-- inner join, which the planner may start from either side (the trigram index
-- for a rare word, the order's index for a common one). An EXISTS under the
-- "IS NULL OR" would not be turned into a join (sub-queries are pulled up
-- before parameters are folded): it ran as a hashed sub-plan of every match.
-- A list filtered by nothing needs no such plan (every filter holds) and
-- goes prepared, its plan kept; a list filtered by status alone in due-date
-- order has statements of its own (ListByStatusDue*), whose status is an
-- equality that a kept plan can still look up in its index.

-- The list statements (ListTasks* for each order, ListByStatusDue*) and
-- CountTasks share their filter, so they are generated from one template:
-- db/queries/tasks_list.sql, by db/queries/listgen.

-- name: CountSearch :one
-- CountTasks for a search with no other filter and a pattern without a
-- newline: the matching rows of the narrow search table alone, no task row
-- read (db/migrations/000008_task_search_table).
SELECT data_version(u.id, u.changes_floor)::bigint AS list_version,
       feed_horizon() AS horizon, (
    SELECT count(*)
    FROM task_search AS s
    WHERE s.user_id = @user_id AND s.body LIKE lower(@pattern)
)::bigint AS total
FROM users AS u
WHERE u.id = @user_id;

-- name: CountTasksFromCounters :one
-- The exact total of a list filtered by nothing, status and/or priority, and
-- the list's version as in CountTasks.
SELECT data_version(u.id, u.changes_floor)::bigint AS list_version,
       feed_horizon() AS horizon, (
    SELECT coalesce(sum(tc.n), 0)
    FROM task_counts AS tc
    WHERE tc.user_id = @user_id
      AND (sqlc.narg(completed)::boolean IS NULL OR tc.completed = sqlc.narg(completed))
      AND (sqlc.narg(priority)::task_priority IS NULL OR tc.priority = sqlc.narg(priority))
)::bigint AS total
FROM users AS u
WHERE u.id = @user_id;

-- name: TagsOfAnyTasks :many
-- The tags of the given tasks, by name: tasks of several users, whose ids
-- come from statements scoped to them (the change feed's readers).
SELECT l.task_id, g.id, g.name, g.color, g.version
FROM task_tag_link AS l
JOIN tags AS g ON g.user_id = l.user_id AND g.id = l.tag_id
WHERE l.task_id = ANY (@task_ids::integer[])
ORDER BY l.task_id, g.name, g.id;

-- name: CreateTask :one
-- Task times come from the service's clock (@now), never from the
-- database's, so that one clock orders them. A recurring task starts its
-- series: its own id is the series' (taken from the sequence first).
INSERT INTO tasks (id, title, description, completed, priority, due_date, user_id, created_at, updated_at,
                   recurrence_rule, recurrence_timezone, recurrence_from, series_id, series_position, reminders)
SELECT n.id, @title, @description, @completed, @priority, @due_date, @user_id, @now, @now,
       sqlc.narg(recurrence_rule), sqlc.narg(recurrence_timezone), sqlc.narg(recurrence_from),
       CASE WHEN sqlc.narg(recurrence_rule)::text IS NOT NULL THEN n.id END,
       CASE WHEN sqlc.narg(recurrence_rule)::text IS NOT NULL THEN 1 END,
       CASE WHEN @reminders::jsonb = '[]' THEN '[]' ELSE with_reminder_ids(@reminders, '[]') END
FROM (SELECT nextval('tasks_id_seq')::integer AS id) AS n
RETURNING *;

-- A single task comes with its tags, as the JSON array the API shows (by
-- name), in the same statement.

-- name: GetTask :one
SELECT sqlc.embed(t), (
    SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'version', g.version)
                             ORDER BY g.name, g.id), '[]')
    FROM task_tag_link AS l JOIN tags AS g ON g.id = l.tag_id
    WHERE l.task_id = t.id)::text AS tags
FROM tasks AS t WHERE t.id = @id AND t.user_id = @user_id;

-- name: TaskVersion :one
-- The version of one of the user's tasks: what a failed If-Match is told.
SELECT version FROM tasks WHERE id = @id AND user_id = @user_id;

-- A write with If-Match names the versions it expects (sqlc.narg(if_match));
-- NULL: no condition. A version that does not match changes nothing.
-- Each write sets `version = version + 1` itself, beside that check, rather
-- than a trigger: the change feed's trigger (000007_sync) fires on UPDATE OF
-- version, which follows the statement's SET list, so an implicit bump would
-- make it fire on every update of a task; and a BEFORE trigger would cost a
-- PL/pgSQL call on every written row of the hottest path.
-- TestVersionsCountEveryChange (internal/httpx) holds every write to it.
--
-- Every write of a user's tasks, tags and links takes its locks in one
-- order: the user's row first (FOR KEY SHARE, in the CTE `owner`, evaluated
-- once before any row of the statement is touched), then its tasks, then its
-- tags. Deleting the account locks the user's row first too (FOR UPDATE,
-- which KEY SHARE waits for), so a write and the deletion never hold each
-- other's rows: one waits for the other, and a write after the deletion
-- finds no user (INVALID_TOKEN). A create needs no `owner`: its foreign key
-- to users takes that lock before anything else of the user's.

-- Completing a recurring task creates its next occurrence in the same
-- transaction (internal/api/complete.go). PUT and PATCH take the row's
-- lock first (`prior`, which also tells whether the task was completed) and
-- set `completed` like any field. With @may_change_series false they change
-- nothing when they would complete a recurring task that has not made its
-- next yet, or (PATCH) give a recurring task a new rule or due date without
-- the other (the handler then checks the rule still has a date after the
-- due date): so the handler runs them alone (one statement, no
-- transaction) and only those writes again inside one.
-- A recurring task keeps its series (series_id, series_position) when it is
-- given a new rule, and starts one when it has none; due_local (000012) is
-- kept only while the due date and the zone stay as they were.

-- name: ReplaceTask :one
WITH owner AS (SELECT users.id FROM users WHERE users.id = @user_id FOR KEY SHARE),
     prior AS (
        SELECT tasks.id, tasks.completed, tasks.next_task_id FROM tasks
        WHERE tasks.id = @id AND tasks.user_id = @user_id AND EXISTS (SELECT 1 FROM owner)
        FOR NO KEY UPDATE)
UPDATE tasks
SET title = @title, description = @description, completed = @completed,
    priority = @priority, due_date = @due_date, updated_at = @now, version = version + 1,
    recurrence_rule = sqlc.narg(recurrence_rule), recurrence_timezone = sqlc.narg(recurrence_timezone),
    recurrence_from = sqlc.narg(recurrence_from),
    series_id = CASE WHEN sqlc.narg(recurrence_rule)::text IS NULL THEN tasks.series_id ELSE coalesce(tasks.series_id, tasks.id) END,
    series_position = CASE WHEN sqlc.narg(recurrence_rule)::text IS NULL THEN tasks.series_position ELSE coalesce(tasks.series_position, 1) END,
    due_local = CASE WHEN tasks.due_date IS NOT DISTINCT FROM @due_date
                      AND tasks.recurrence_timezone IS NOT DISTINCT FROM sqlc.narg(recurrence_timezone)
                     THEN tasks.due_local END,
    reminders = CASE WHEN @reminders::jsonb = '[]' THEN '[]' ELSE with_reminder_ids(@reminders, tasks.reminders) END
FROM prior
WHERE tasks.id = prior.id
  AND (sqlc.narg(if_match)::integer[] IS NULL OR tasks.version = ANY (sqlc.narg(if_match)::integer[]))
  AND (@may_change_series::boolean OR NOT (@completed AND NOT prior.completed AND prior.next_task_id IS NULL
                                           AND sqlc.narg(recurrence_rule)::text IS NOT NULL))
RETURNING sqlc.embed(tasks), prior.completed AS was_completed, (
    SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'version', g.version)
                             ORDER BY g.name, g.id), '[]')
    FROM task_tag_link AS l JOIN tags AS g ON g.id = l.tag_id
    WHERE l.task_id = tasks.id)::text AS tags;

-- name: UpdateTask :one
-- PATCH: a NULL title, completed or priority means "not sent"; description,
-- due_date, the recurrence and the reminders change only when their set_
-- flag is true (NULL then clears). With @may_change_series false it also
-- declines to move the due date of a task with relative reminders, or to
-- reopen a task with reminders (their jobs are inserted in the transaction
-- it then runs in).
WITH owner AS (SELECT users.id FROM users WHERE users.id = @user_id FOR KEY SHARE),
     prior AS (
        SELECT tasks.id, tasks.completed, tasks.next_task_id, tasks.recurrence_rule,
               jsonb_path_exists(tasks.reminders, '$[*] ? (@.before != null)') AS relative_reminders,
               tasks.reminders <> '[]' AS has_reminders FROM tasks
        WHERE tasks.id = @id AND tasks.user_id = @user_id AND EXISTS (SELECT 1 FROM owner)
        FOR NO KEY UPDATE)
UPDATE tasks
SET title       = coalesce(sqlc.narg(title), title),
    description = CASE WHEN @set_description::boolean THEN sqlc.narg(description) ELSE description END,
    completed   = coalesce(sqlc.narg(completed), tasks.completed),
    priority    = coalesce(sqlc.narg(priority), priority),
    due_date    = CASE WHEN @set_due_date::boolean THEN sqlc.narg(due_date) ELSE due_date END,
    updated_at  = @now,
    version     = version + 1,
    recurrence_rule     = CASE WHEN @set_recurrence::boolean THEN sqlc.narg(recurrence_rule) ELSE tasks.recurrence_rule END,
    recurrence_timezone = CASE WHEN @set_recurrence THEN sqlc.narg(recurrence_timezone) ELSE recurrence_timezone END,
    recurrence_from     = CASE WHEN @set_recurrence THEN sqlc.narg(recurrence_from) ELSE recurrence_from END,
    series_id = CASE WHEN @set_recurrence AND sqlc.narg(recurrence_rule)::text IS NOT NULL
                     THEN coalesce(tasks.series_id, tasks.id) ELSE tasks.series_id END,
    series_position = CASE WHEN @set_recurrence AND sqlc.narg(recurrence_rule)::text IS NOT NULL
                           THEN coalesce(tasks.series_position, 1) ELSE tasks.series_position END,
    due_local = CASE WHEN NOT @set_due_date AND NOT @set_recurrence THEN tasks.due_local END,
    reminders = CASE WHEN NOT @set_reminders::boolean THEN tasks.reminders
                     WHEN @reminders::jsonb = '[]' THEN '[]' ELSE with_reminder_ids(@reminders, tasks.reminders) END
FROM prior
WHERE tasks.id = prior.id
  AND (sqlc.narg(if_match)::integer[] IS NULL OR tasks.version = ANY (sqlc.narg(if_match)::integer[]))
  AND (@may_change_series::boolean
       OR (CASE WHEN @set_recurrence THEN sqlc.narg(recurrence_rule)::text ELSE prior.recurrence_rule END IS NULL
           OR NOT (coalesce(sqlc.narg(completed)::boolean, false) AND NOT prior.completed AND prior.next_task_id IS NULL
                   OR @set_recurrence <> @set_due_date))
          AND NOT (@set_due_date AND NOT @set_reminders AND prior.relative_reminders)
          AND NOT (sqlc.narg(completed)::boolean IS FALSE AND prior.completed AND prior.has_reminders))
RETURNING sqlc.embed(tasks), prior.completed AS was_completed, (
    SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'version', g.version)
                             ORDER BY g.name, g.id), '[]')
    FROM task_tag_link AS l JOIN tags AS g ON g.id = l.tag_id
    WHERE l.task_id = tasks.id)::text AS tags;

-- name: CompleteTask :one
-- POST /tasks/{task_id}/complete: marks a pending task completed. A task
-- completed already, or at a version If-Match does not name, is no row
-- (TaskWithNext then tells which).
WITH owner AS (SELECT users.id FROM users WHERE users.id = @user_id FOR KEY SHARE)
UPDATE tasks
SET completed = true, updated_at = @now, version = version + 1
WHERE tasks.id = @id AND tasks.user_id = @user_id AND EXISTS (SELECT 1 FROM owner) AND NOT tasks.completed
  AND (sqlc.narg(if_match)::integer[] IS NULL OR tasks.version = ANY (sqlc.narg(if_match)::integer[]))
RETURNING sqlc.embed(tasks), (
    SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'version', g.version)
                             ORDER BY g.name, g.id), '[]')
    FROM task_tag_link AS l JOIN tags AS g ON g.id = l.tag_id
    WHERE l.task_id = tasks.id)::text AS tags;

-- name: TaskWithNext :many
-- One of the user's tasks and the task created when it was completed (when
-- there is one, and it still exists), each with its tags.
SELECT sqlc.embed(t), (
    SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'version', g.version)
                             ORDER BY g.name, g.id), '[]')
    FROM task_tag_link AS l JOIN tags AS g ON g.id = l.tag_id
    WHERE l.task_id = t.id)::text AS tags
FROM tasks AS t
WHERE t.user_id = @user_id
  AND t.id IN (@id, (SELECT c.next_task_id FROM tasks AS c WHERE c.id = @id AND c.user_id = @user_id));

-- name: CreateNextTask :one
-- The next task of a series, made from the one just completed (locked by
-- this transaction): its fields, recurrence, series and tags, the due date
-- the rule gave, not completed; and the completed task remembers it. No
-- row when the completed task has made its next already.
WITH prior AS (
        SELECT * FROM tasks
        WHERE tasks.id = @id AND tasks.user_id = @user_id AND tasks.next_task_id IS NULL),
     next AS (
        INSERT INTO tasks (title, description, completed, priority, due_date, user_id, created_at, updated_at,
                           recurrence_rule, recurrence_timezone, recurrence_from, series_id, series_position, due_local,
                           reminders)
        SELECT p.title, p.description, false, p.priority, @due_date, p.user_id, @now, @now,
               p.recurrence_rule, p.recurrence_timezone, p.recurrence_from, p.series_id, @series_position::integer, @due_local::timestamp,
               next_reminders(p.reminders)
        FROM prior AS p
        ON CONFLICT (series_id, series_position) WHERE series_id IS NOT NULL DO NOTHING
        RETURNING *),
     links AS (
        INSERT INTO task_tag_link (user_id, task_id, tag_id)
        SELECT l.user_id, next.id, l.tag_id FROM task_tag_link AS l, next
        WHERE l.user_id = @user_id AND l.task_id = @id),
     remembered AS (
        UPDATE tasks SET next_task_id = next.id FROM next
        WHERE tasks.id = @id AND tasks.user_id = @user_id)
SELECT next.id, next.title, next.description, next.completed, next.priority, next.due_date,
       next.recurrence_rule, next.user_id, next.created_at, next.updated_at, next.version,
       next.recurrence_timezone, next.recurrence_from, next.series_id, next.series_position,
       next.due_local, next.next_task_id, next.reminders, (
    SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name, 'color', g.color, 'version', g.version)
                             ORDER BY g.name, g.id), '[]')
    FROM task_tag_link AS l JOIN tags AS g ON g.id = l.tag_id
    WHERE l.user_id = @user_id AND l.task_id = @id)::text AS tags
FROM next;

-- name: DeleteTask :execrows
WITH owner AS (SELECT users.id FROM users WHERE users.id = @user_id FOR KEY SHARE)
DELETE FROM tasks
WHERE tasks.id = @id AND tasks.user_id = @user_id AND EXISTS (SELECT 1 FROM owner)
  AND (sqlc.narg(if_match)::integer[] IS NULL OR tasks.version = ANY (sqlc.narg(if_match)::integer[]));

-- name: AddTagToTask :one
-- Links the user's task and tag when the task is at an expected version,
-- touching the task (a new version) when the link is new; the flags tell a
-- missing task or tag, and a version that did not match, from an existing
-- link. The task row is locked first, so its version cannot change between
-- the check and the link.
WITH owner AS (SELECT users.id FROM users WHERE users.id = @user_id FOR KEY SHARE),
     task AS (
        SELECT id, version FROM tasks
        WHERE tasks.id = @task_id AND tasks.user_id = @user_id AND EXISTS (SELECT 1 FROM owner)
        FOR NO KEY UPDATE),
     tag AS (SELECT id FROM tags WHERE tags.id = @tag_id AND tags.user_id = @user_id),
     matched AS (
        SELECT task.id FROM task
        WHERE sqlc.narg(if_match)::integer[] IS NULL OR task.version = ANY (sqlc.narg(if_match)::integer[])),
     linked AS (
        INSERT INTO task_tag_link (user_id, task_id, tag_id)
        SELECT @user_id, matched.id, tag.id FROM matched, tag
        ON CONFLICT DO NOTHING
        RETURNING task_id),
     touched AS (
        UPDATE tasks SET updated_at = @now, version = tasks.version + 1
        WHERE tasks.id IN (SELECT task_id FROM linked) RETURNING tasks.id)
SELECT EXISTS (SELECT 1 FROM task) AS task_found,
       EXISTS (SELECT 1 FROM tag) AS tag_found,
       EXISTS (SELECT 1 FROM matched) AS version_matched,
       EXISTS (SELECT 1 FROM touched) AS changed;

-- name: RemoveTagFromTask :one
-- Unlinks the user's task and tag when the task is at an expected version,
-- touching the task when a link went; the flags are AddTagToTask's.
WITH owner AS (SELECT users.id FROM users WHERE users.id = @user_id FOR KEY SHARE),
     task AS (
        SELECT id, version FROM tasks
        WHERE tasks.id = @task_id AND tasks.user_id = @user_id AND EXISTS (SELECT 1 FROM owner)
        FOR NO KEY UPDATE),
     tag AS (SELECT id FROM tags WHERE tags.id = @tag_id AND tags.user_id = @user_id),
     matched AS (
        SELECT task.id FROM task
        WHERE sqlc.narg(if_match)::integer[] IS NULL OR task.version = ANY (sqlc.narg(if_match)::integer[])),
     unlinked AS (
        DELETE FROM task_tag_link AS l USING matched, tag
        WHERE l.user_id = @user_id AND l.task_id = matched.id AND l.tag_id = tag.id
        RETURNING l.task_id),
     touched AS (
        UPDATE tasks SET updated_at = @now, version = tasks.version + 1
        WHERE tasks.id IN (SELECT task_id FROM unlinked) RETURNING tasks.id)
SELECT EXISTS (SELECT 1 FROM task) AS task_found,
       EXISTS (SELECT 1 FROM tag) AS tag_found,
       EXISTS (SELECT 1 FROM matched) AS version_matched,
       EXISTS (SELECT 1 FROM touched) AS changed;

-- name: FireReminder :one
-- A reminder's job at its time (internal/reminders): when the task exists,
-- is not completed, and the reminder still fires at @fires_at and has not
-- fired for it, it is marked fired (missed when @deliver is false: too
-- late) and the task gets a new version; with @deliver, the reminder.due
-- event goes to the outbox when the user's events go anywhere, and the
-- servers' streams are told (NOTIFY reminders and changes: in the firing's
-- own transaction, unlike the writes' batched notifications, so a firing
-- is never committed unannounced). No row: nothing to fire.
WITH task AS (SELECT t.user_id FROM tasks AS t WHERE t.id = @task_id),
     owner AS (SELECT u.id FROM users AS u JOIN task ON u.id = task.user_id FOR KEY SHARE OF u),
     prior AS (
        SELECT t.id, t.user_id, t.title, t.due_date, t.reminders FROM tasks AS t
        WHERE t.id = @task_id AND t.user_id IN (SELECT id FROM owner) AND NOT t.completed
        FOR NO KEY UPDATE),
     due AS (
        SELECT p.id FROM prior AS p, jsonb_array_elements(p.reminders) AS r
        WHERE (r->>'id')::bigint = @reminder_id::bigint
          AND reminder_fires_at(r, p.due_date) = @fires_at::timestamptz
          AND (r->>'fired_for')::timestamptz IS DISTINCT FROM @fires_at::timestamptz),
     fired AS (
        UPDATE tasks
        SET reminders = (SELECT jsonb_agg(CASE WHEN (e->>'id')::bigint = @reminder_id
                                               THEN e || jsonb_build_object(
                                                   'fired_at', to_char(timezone('UTC', @now::timestamptz), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                                   'fired_for', to_char(timezone('UTC', @fires_at::timestamptz), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                                   'missed', NOT @deliver::boolean)
                                               ELSE e END ORDER BY i)
                         FROM jsonb_array_elements(tasks.reminders) WITH ORDINALITY AS x(e, i)),
            version = tasks.version + 1, updated_at = @now
        FROM due WHERE tasks.id = due.id
        RETURNING tasks.id, tasks.user_id, tasks.title, tasks.due_date),
     due_event AS (
        SELECT f.id, f.user_id,
               jsonb_build_object('user_id', f.user_id, 'task_id', f.id, 'reminder_id', @reminder_id, 'title', f.title,
                                  'due_date', to_char(timezone('UTC', f.due_date), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                  'fires_at', to_char(timezone('UTC', @fires_at::timestamptz), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) AS data
        FROM fired AS f),
     logged AS (
        INSERT INTO outbox (user_id, type, entity_id, row)
        SELECT e.user_id, 'reminder.due', e.id, e.data FROM due_event AS e
        WHERE @deliver AND events_wanted(e.user_id)),
     -- the user's streams on every server hear of it when this commits,
     -- whoever commits it (a replica killed while its statement waited for
     -- the row still commits it: the notification goes with it)
     announced AS (
        SELECT CASE WHEN @deliver THEN pg_notify('reminders', e.data::text) END AS r,
               pg_notify('changes', e.user_id::text) AS c
        FROM due_event AS e)
SELECT f.id, f.user_id, f.title, f.due_date, (SELECT count(*) FROM announced) AS announced FROM fired AS f;
