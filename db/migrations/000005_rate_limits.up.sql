-- Rate-limit windows shared by every server process, so N replicas enforce
-- one limit (internal/httpx/ratelimit.go keeps a first line in memory).
-- UNLOGGED: no WAL for a counter that is worthless after a crash (it is
-- emptied then, which only forgives the windows in progress).
CREATE UNLOGGED TABLE rate_limits (
    key          text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    count        integer     NOT NULL
);
CREATE INDEX idx_rate_limits_window_start ON rate_limits (window_start);
