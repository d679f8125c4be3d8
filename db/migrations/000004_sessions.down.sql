DROP TRIGGER refresh_sessions_end ON refresh_sessions;
DROP FUNCTION note_session_end();
DROP TABLE session_revocations;
ALTER TABLE refresh_sessions DROP COLUMN last_used_at, DROP COLUMN user_agent;
