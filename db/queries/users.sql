-- name: CreateUser :one
-- The unique constraint users_email_key reports a duplicate email.
INSERT INTO users (email, password_hash, name)
VALUES (@email, @password_hash, @name)
RETURNING id, email, name, created_at;

-- name: GetUserCredentials :one
SELECT id, email, password_hash
FROM users
WHERE email = @email;

-- name: GetUserByID :one
SELECT id, email, name, created_at
FROM users
WHERE id = @id;

-- name: UserExists :one
-- Tells a deleted user's token (INVALID_TOKEN) from a missing task or tag.
SELECT EXISTS (SELECT 1 FROM users WHERE id = @id);

-- name: UpdateUserName :one
UPDATE users SET name = @name WHERE id = @id
RETURNING id, email, name, created_at;

-- name: GetPasswordHash :one
SELECT password_hash FROM users WHERE id = @id;

-- name: ChangePassword :execrows
-- Sets the new hash and ends every other live session of the user, in one
-- statement (one transaction). 0 rows: no such user.
WITH changed AS (
    UPDATE users SET password_hash = @password_hash WHERE users.id = @id RETURNING users.id
), ended AS (
    UPDATE refresh_sessions AS s
    SET revoked_at = @now::timestamptz
    FROM changed
    WHERE s.user_id = changed.id AND s.revoked_at IS NULL AND s.expires_at > @now
      AND s.id IS DISTINCT FROM sqlc.narg(keep)::uuid
)
SELECT id FROM changed;

-- name: DeleteUser :execrows
-- Deletes the user and, by cascade in the same transaction, every row it
-- owns: tasks, tags, their links, counters and sessions.
DELETE FROM users WHERE id = @id;
