-- name: CountRequest :one
-- Counts one request of key in its window, opening a new window when the
-- last one started at or before @ended_before (now minus the window), and
-- returns the window. Times are the limiter's clock: one clock for this table.
INSERT INTO rate_limits AS r (key, window_start, count)
VALUES (@key, @now::timestamptz, 1)
ON CONFLICT (key) DO UPDATE SET
    count        = CASE WHEN r.window_start <= @ended_before::timestamptz THEN 1 ELSE r.count + 1 END,
    window_start = CASE WHEN r.window_start <= @ended_before::timestamptz THEN excluded.window_start ELSE r.window_start END
RETURNING count, window_start;

-- name: DeleteEndedRateWindows :execrows
DELETE FROM rate_limits WHERE window_start <= @ended_before::timestamptz;
