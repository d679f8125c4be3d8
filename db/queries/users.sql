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
