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

-- name: SetPasswordHash :execrows
-- The first of a password change's two statements (one transaction); 0
-- rows: no such user. Its row lock makes a login that verified the old hash
-- wait, then find the hash changed (CreateSession); a login that wrote its
-- session first has committed by now, so RevokeUserSessions, a statement of
-- its own with a snapshot taken after this lock, sees that session and ends
-- it.
UPDATE users SET password_hash = @password_hash WHERE id = @id;

-- name: DeleteUser :execrows
-- Deletes the user and, by cascade in the same transaction, every row it
-- owns: tasks, tags, their links, counters and sessions.
DELETE FROM users WHERE id = @id;
