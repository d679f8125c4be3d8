-- Tags. Every statement is scoped by user_id in the SQL itself.

-- name: CreateTag :one
-- The unique constraint tags_name_user_id_key reports a duplicate name.
INSERT INTO tags (name, color, user_id)
VALUES (@name, @color, @user_id)
RETURNING id, name, color;

-- name: ListTags :many
SELECT id, name, color
FROM tags
WHERE user_id = @user_id
ORDER BY name, id;

-- name: UpdateTag :one
UPDATE tags
SET name = @name, color = @color
WHERE id = @id AND user_id = @user_id
RETURNING id, name, color;

-- name: DeleteTag :execrows
DELETE FROM tags WHERE id = @id AND user_id = @user_id;

-- name: ResolveTag :one
-- The list's `tag` filter: by id when it is a number naming one of the
-- user's tags, else by name. task_count is the exact number of its tasks.
SELECT id, task_count
FROM tags
WHERE user_id = @user_id AND (id = sqlc.narg(id) OR name = @name)
ORDER BY id = sqlc.narg(id) DESC NULLS LAST
LIMIT 1;
