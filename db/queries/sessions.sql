-- name: CreateSession :exec
INSERT INTO refresh_sessions (id, user_id, current_jti, expires_at, created_at)
VALUES (@id, @user_id, @current_jti, @expires_at, @now);

-- name: RotateSession :one
-- Moves the session to new_jti if jti is its current, live token. No row
-- means the token was rotated already, revoked, expired or never existed.
UPDATE refresh_sessions AS s
SET previous_jti = s.current_jti,
    current_jti  = @new_jti,
    rotated_at   = @now::timestamptz,
    expires_at   = @expires_at
FROM users AS u
WHERE s.id = @id
  AND s.current_jti = @jti
  AND s.revoked_at IS NULL
  AND s.expires_at > @now
  AND u.id = s.user_id
RETURNING s.user_id, u.email;

-- name: GetSession :one
SELECT s.id, s.user_id, s.current_jti, s.previous_jti, s.rotated_at,
       s.expires_at, s.revoked_at, u.email
FROM refresh_sessions AS s
JOIN users AS u ON u.id = s.user_id
WHERE s.id = @id;

-- name: RevokeSession :exec
UPDATE refresh_sessions
SET revoked_at = @now::timestamptz
WHERE id = @id AND revoked_at IS NULL;

-- name: DeleteStaleSessions :execrows
-- Removes sessions that can no longer be used: expired, or revoked before cutoff.
DELETE FROM refresh_sessions
WHERE expires_at < @now OR revoked_at < @cutoff::timestamptz;
