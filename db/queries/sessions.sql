-- name: CreateSession :execrows
-- Starts a session of a user whose password hash is still the one the login
-- verified. 0 rows: the password changed or the account went since. FOR
-- SHARE waits for a change or deletion of the user in progress, then reads
-- its outcome; a change that comes later waits for this session to be
-- written, and then ends it (ChangePassword).
INSERT INTO refresh_sessions (id, user_id, current_jti, expires_at, access_expires_at, user_agent, created_at, last_used_at)
SELECT @id, u.id, @current_jti, @expires_at, @access_expires_at, @user_agent, @now, @now
FROM users AS u
WHERE u.id = @user_id AND u.password_hash = @password_hash
FOR SHARE OF u;

-- name: RotateSession :one
-- Moves the session to new_jti if jti is its current, live token. No row
-- means the token was rotated already, revoked, expired or never existed.
UPDATE refresh_sessions AS s
SET previous_jti = s.current_jti,
    current_jti  = @new_jti,
    rotated_at   = @now::timestamptz,
    last_used_at = @now::timestamptz,
    expires_at   = @expires_at,
    access_expires_at = greatest(s.access_expires_at, @access_expires_at::timestamptz)
FROM users AS u
WHERE s.id = @id
  AND s.current_jti = @jti
  AND s.revoked_at IS NULL
  AND s.expires_at > @now
  AND u.id = s.user_id
RETURNING s.user_id, u.email;

-- name: NoteAccessIssued :exec
-- An access token of the session expires at @access_expires_at: its
-- revocation is kept until then (db/migrations/000010_revocations_kept).
UPDATE refresh_sessions
SET access_expires_at = greatest(access_expires_at, @access_expires_at::timestamptz)
WHERE id = @id;

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

-- name: ListSessions :many
-- The user's live sessions, most recently used first.
SELECT id, created_at, coalesce(last_used_at, rotated_at, created_at)::timestamptz AS last_used_at,
       expires_at, user_agent
FROM refresh_sessions
WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now
ORDER BY 3 DESC, id;

-- name: RevokeUserSession :execrows
-- Ends one live session of the user; 0 rows: no such live session of theirs.
UPDATE refresh_sessions
SET revoked_at = @now::timestamptz
WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL AND expires_at > @now;

-- name: RevokeUserSessions :execrows
-- Ends every live session of the user but @keep (NULL: all of them).
UPDATE refresh_sessions
SET revoked_at = @now::timestamptz
WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now
  AND id IS DISTINCT FROM sqlc.narg(keep)::uuid;

-- name: ListRevocations :many
-- The ended sessions an access token may still name, for a process that
-- may have missed their notifications; @since is the service's clock (the
-- one keep_until is written with) less a margin.
SELECT session_id, keep_until FROM session_revocations
WHERE keep_until > @since::timestamptz;

-- name: SessionRevoked :one
-- Whether the session has ended: what a process asks per request while it
-- cannot hear the notifications.
SELECT EXISTS (SELECT 1 FROM session_revocations WHERE session_id = @id);

-- name: DeleteOldRevocations :execrows
-- Forgets revocations once no access token of their session can be valid
-- (@before: the service's clock less a margin).
DELETE FROM session_revocations
WHERE keep_until < @before::timestamptz;
