-- Tags. Every statement is scoped by user_id in the SQL itself. A write with
-- If-Match names the versions it expects (sqlc.narg(if_match)); NULL: no
-- condition.

-- Every write first locks its user's row, as in tasks.sql.

-- name: CreateTag :one
-- The unique constraint tags_name_user_id_key reports a duplicate name.
WITH me AS (SELECT id FROM users WHERE users.id = @user_id FOR NO KEY UPDATE)
INSERT INTO tags (name, color, user_id)
SELECT @name, @color, me.id FROM me
RETURNING id, name, color, version;

-- name: ListTags :many
SELECT id, name, color, version
FROM tags
WHERE user_id = @user_id
ORDER BY name, id;

-- name: TagVersion :one
-- The version of one of the user's tags: what a failed If-Match is told.
SELECT version FROM tags WHERE id = @id AND user_id = @user_id;

-- name: UpdateTag :one
-- A task shows its tags, so each task carrying the tag gets a new version
-- (and appears in the change feed) in the same statement. (Every PUT counts
-- as a change: telling an unchanged name and colour apart would need the
-- row's old values, which RETURNING gives only from PostgreSQL 18.)
WITH me AS (SELECT id FROM users WHERE users.id = @user_id FOR NO KEY UPDATE),
     tag AS (
        UPDATE tags SET name = @name, color = @color, version = tags.version + 1
        FROM me
        WHERE tags.id = @id AND tags.user_id = me.id
          AND (sqlc.narg(if_match)::integer[] IS NULL OR tags.version = ANY (sqlc.narg(if_match)::integer[]))
        RETURNING tags.id, tags.name, tags.color, tags.version),
     touched AS (
        UPDATE tasks SET updated_at = @now, version = tasks.version + 1
        WHERE tasks.user_id = @user_id
          AND tasks.id IN (SELECT l.task_id FROM task_tag_link AS l WHERE l.user_id = @user_id AND l.tag_id IN (SELECT id FROM tag)))
SELECT tag.id, tag.name, tag.color, tag.version FROM tag;

-- name: DeleteTag :execrows
-- Each task that carried the tag gets a new version in the same statement;
-- the links go by cascade.
WITH me AS (SELECT id FROM users WHERE users.id = @user_id FOR NO KEY UPDATE),
     tag AS (
        DELETE FROM tags USING me
        WHERE tags.id = @id AND tags.user_id = me.id
          AND (sqlc.narg(if_match)::integer[] IS NULL OR tags.version = ANY (sqlc.narg(if_match)::integer[]))
        RETURNING tags.id),
     touched AS (
        UPDATE tasks SET updated_at = @now, version = tasks.version + 1
        WHERE tasks.user_id = @user_id
          AND tasks.id IN (SELECT l.task_id FROM task_tag_link AS l WHERE l.user_id = @user_id AND l.tag_id IN (SELECT id FROM tag)))
SELECT tag.id FROM tag;

-- name: ResolveTag :one
-- The list's `tag` filter: by id when it is a number naming one of the
-- user's tags, else by name. task_count is the exact number of its tasks;
-- list_version is the user's change number (the list's version, read
-- before the page). No row: the user is gone; a NULL id: no such tag.
SELECT u.change_seq AS list_version, g.id, g.task_count
FROM users AS u
LEFT JOIN tags AS g ON g.user_id = u.id AND (g.id = sqlc.narg(id) OR g.name = @name)
WHERE u.id = @user_id
ORDER BY g.id = sqlc.narg(id) DESC NULLS LAST
LIMIT 1;
