-- Sessions as an account page lists them, and the revocations every server
-- process must learn of at once (openapi/auth-api.yaml: access tokens of an
-- ended session answer 401 within a second).
ALTER TABLE refresh_sessions
    ADD COLUMN user_agent   varchar(255) NULL,
    ADD COLUMN last_used_at timestamptz  NULL;

-- Sessions ended recently: what a server process reloads when its listening
-- connection comes back, so a notification it missed cannot leave a revoked
-- session's access token working. Rows older than the access token lifetime
-- are pruned.
CREATE TABLE session_revocations (
    session_id uuid        PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_session_revocations_revoked_at ON session_revocations (revoked_at);

-- A live session that ends, by revocation or by deletion (its user's, too),
-- is recorded and announced on the channel session_revoked, in the ending
-- transaction: listeners hear of it when (and only if) it commits.
CREATE FUNCTION note_session_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NOT NULL OR OLD.expires_at <= now() THEN
        RETURN NULL; -- already ended
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.revoked_at IS NULL THEN
        RETURN NULL; -- still live (a rotation)
    END IF;
    INSERT INTO session_revocations (session_id) VALUES (OLD.id) ON CONFLICT DO NOTHING;
    PERFORM pg_notify('session_revoked', OLD.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER refresh_sessions_end
AFTER UPDATE OF revoked_at OR DELETE ON refresh_sessions
FOR EACH ROW EXECUTE FUNCTION note_session_end();
