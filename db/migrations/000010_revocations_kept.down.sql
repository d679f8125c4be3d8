CREATE OR REPLACE FUNCTION note_session_end() RETURNS trigger
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

DROP INDEX idx_session_revocations_keep_until;
CREATE INDEX idx_session_revocations_revoked_at ON session_revocations (revoked_at);
ALTER TABLE session_revocations DROP COLUMN keep_until;
ALTER TABLE refresh_sessions DROP COLUMN access_expires_at;
