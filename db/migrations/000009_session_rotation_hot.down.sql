ALTER TABLE refresh_sessions RESET (fillfactor);
CREATE INDEX idx_refresh_sessions_expires_at ON refresh_sessions (expires_at);
