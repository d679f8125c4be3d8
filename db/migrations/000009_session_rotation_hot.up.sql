-- Every refresh rotates its session: one UPDATE of current_jti,
-- previous_jti, rotated_at, last_used_at and expires_at. An update that
-- changes no indexed column and finds room on its page is HOT: no index is
-- written. expires_at was indexed (000001_init) and made every rotation
-- write all three indexes; nothing used that index (the pruning,
-- db/queries/sessions.sql: DeleteStaleSessions, also tests revoked_at and
-- scans the table once an hour).
--
-- fillfactor 90 leaves a tenth of each new page free, so that a rotation
-- finds room beside its row.
DROP INDEX idx_refresh_sessions_expires_at;
ALTER TABLE refresh_sessions SET (fillfactor = 90);
