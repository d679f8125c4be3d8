-- Creates sent with an Idempotency-Key (openapi/tasks-api.yaml). Each runs
-- in the create's transaction.

-- name: LockIdempotencyKey :one
-- Takes the key for this transaction, or reports that another request holds
-- it. Read the stored response after this, in a statement of its own: its
-- snapshot then includes whatever the last holder committed.
SELECT pg_try_advisory_xact_lock(hashtextextended(CAST(sqlc.arg(user_id)::uuid AS text) || ' ' || sqlc.arg(key)::text, 0));

-- name: GetIdempotencyKey :one
SELECT request_hash, status, etag, body FROM idempotency_keys WHERE user_id = @user_id AND key = @key;

-- name: SaveIdempotencyKey :exec
INSERT INTO idempotency_keys (user_id, key, request_hash, status, etag, body)
VALUES (@user_id, @key, @request_hash, @status, @etag, @body);

-- name: PruneIdempotencyKeys :execrows
DELETE FROM idempotency_keys
WHERE ctid IN (
    SELECT ctid FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => @retention_seconds::float8)
    LIMIT @batch);
