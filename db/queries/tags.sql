-- Tags. Every statement is scoped by user_id in the SQL itself. A write with
-- If-Match names the versions it expects (sqlc.narg(if_match)); NULL: no
-- condition.

-- name: CreateTag :one
-- The unique constraint tags_name_user_id_key reports a duplicate name.
INSERT INTO tags (name, color, user_id)
VALUES (@name, @color, @user_id)
RETURNING id, name, color, version;

-- name: ListTags :many
SELECT id, name, color, version
FROM tags
WHERE user_id = @user_id
ORDER BY name, id;

-- name: TagVersion :one
-- The version of one of the user's tags: what a failed If-Match is told.
SELECT version FROM tags WHERE id = @id AND user_id = @user_id;

-- A task shows its tags, so renaming, recolouring or deleting a tag makes
-- a new version of each task carrying it (which appears in the change feed).
-- Both writes run in one transaction, the tasks first, locked in id order:
-- putting a tag on a task locks the task, then the tag, so a tag write that
-- locked the tag first could deadlock with it. (Every PUT counts as a
-- change: telling an unchanged name and colour apart would need the row's
-- old values, which RETURNING gives only from PostgreSQL 18.)

-- name: LockOwner :exec
-- A change of a tag that its tasks show (a rename, a recolouring, the
-- deletion) starts with this: it waits for the user's writes in flight and
-- holds new ones off until it commits (every write of the user's tasks,
-- tags and links takes this row FOR KEY SHARE first: db/queries/tasks.sql),
-- so TouchTasksOfTag, the next statement, sees every task that carries the
-- tag. Without it, a link committed while TouchTasksOfTag waited for a
-- task's lock (completing a recurring task copies its tags to the next
-- one) escaped the new version its task owed.
SELECT 1 FROM users WHERE id = @user_id FOR UPDATE;

-- name: TouchTasksOfTag :exec
-- The new version of each task carrying the tag, when the tag is at a
-- version If-Match names.
-- It runs after LockOwner in its transaction, which took the user's row
-- first (db/queries/tasks.sql says why).
WITH owner AS (SELECT users.id FROM users WHERE users.id = @user_id FOR KEY SHARE),
carrying AS (
    SELECT t.id FROM tasks AS t
    WHERE t.user_id = @user_id AND EXISTS (SELECT 1 FROM owner)
      AND t.id IN (SELECT l.task_id FROM task_tag_link AS l WHERE l.user_id = @user_id AND l.tag_id = @tag_id)
      AND EXISTS (SELECT 1 FROM tags AS g WHERE g.id = @tag_id AND g.user_id = @user_id
                  AND (sqlc.narg(if_match)::integer[] IS NULL OR g.version = ANY (sqlc.narg(if_match)::integer[])))
    ORDER BY t.id
    FOR NO KEY UPDATE
)
UPDATE tasks SET updated_at = @now, version = tasks.version + 1
FROM carrying WHERE tasks.id = carrying.id;

-- name: UpdateTag :one
UPDATE tags SET name = @name, color = @color, version = version + 1
WHERE id = @id AND user_id = @user_id
  AND (sqlc.narg(if_match)::integer[] IS NULL OR version = ANY (sqlc.narg(if_match)::integer[]))
RETURNING id, name, color, version;

-- name: DeleteTag :execrows
-- Its links go by cascade.
DELETE FROM tags
WHERE id = @id AND user_id = @user_id
  AND (sqlc.narg(if_match)::integer[] IS NULL OR version = ANY (sqlc.narg(if_match)::integer[]));

-- name: ResolveTag :one
-- The list's `tag` filter: by id when it is a number naming one of the
-- user's tags, else by name. task_count is the exact number of its tasks;
-- list_version and horizon are the list's version (see ListVersion), read
-- before the page. No row: the user is gone; a NULL id: no such tag.
SELECT data_version(u.id, u.changes_floor)::bigint AS list_version,
       feed_horizon() AS horizon, g.id, g.task_count
FROM users AS u
LEFT JOIN tags AS g ON g.user_id = u.id AND (g.id = sqlc.narg(id) OR g.name = @name)
WHERE u.id = @user_id
ORDER BY g.id = sqlc.narg(id) DESC NULLS LAST
LIMIT 1;
