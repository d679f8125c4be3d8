-- A revocation is kept until the last access token of its session has
-- expired, whatever the access token lifetime of the replica that issued
-- it (openapi/auth-api.yaml: the access tokens of an ended session answer
-- 401 on every replica). A replica with a shorter ACCESS_TOKEN_TTL neither
-- forgets nor prunes what the others still need.

-- The latest expiry of an access token issued for the session (at login,
-- on each refresh). NULL for sessions started before this migration: their
-- refresh expiry stands in (a refresh moves it past every access token it
-- issues, for any ACCESS_TOKEN_TTL up to REFRESH_TOKEN_TTL).
ALTER TABLE refresh_sessions ADD COLUMN access_expires_at timestamptz NULL;

-- Until when each revocation matters. The rows before this migration keep
-- the day after their revocation.
ALTER TABLE session_revocations ADD COLUMN keep_until timestamptz NULL;
UPDATE session_revocations SET keep_until = revoked_at + interval '1 day';
ALTER TABLE session_revocations ALTER COLUMN keep_until SET NOT NULL;
DROP INDEX idx_session_revocations_revoked_at;
CREATE INDEX idx_session_revocations_keep_until ON session_revocations (keep_until);

-- As before (000004_sessions), and the channel session_ended carries the
-- session and its keep_until (unix seconds): "<uuid> <seconds>". The old
-- channel, payload the session alone, stays for servers of the previous
-- version during a rolling upgrade.
CREATE OR REPLACE FUNCTION note_session_end() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    keep timestamptz;
BEGIN
    IF OLD.revoked_at IS NOT NULL OR OLD.expires_at <= now() THEN
        RETURN NULL; -- already ended
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.revoked_at IS NULL THEN
        RETURN NULL; -- still live (a rotation)
    END IF;
    keep := coalesce(OLD.access_expires_at, OLD.expires_at);
    INSERT INTO session_revocations (session_id, keep_until) VALUES (OLD.id, keep)
    ON CONFLICT (session_id) DO UPDATE SET keep_until = greatest(session_revocations.keep_until, EXCLUDED.keep_until);
    PERFORM pg_notify('session_ended', OLD.id::text || ' ' || ceil(extract(epoch FROM keep))::bigint::text);
    PERFORM pg_notify('session_revoked', OLD.id::text);
    RETURN NULL;
END
$$;
