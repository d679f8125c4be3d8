-- Webhooks (openapi/tasks-api.yaml: /webhooks) and their deliveries
-- (internal/events). Every statement of the API is scoped by user_id.

-- name: CreateWebhook :one
-- At most 10 a user: it runs after LockOwner (db/queries/tags.sql) in its
-- transaction, so creates of one user take turns and each counts the
-- others. No row: the limit, or the user is gone.
INSERT INTO webhooks (user_id, url, events, description, secret, created_at)
SELECT u.id, @url, @events::text[], sqlc.narg(description), @secret, @now
FROM users AS u
WHERE u.id = @user_id AND (SELECT count(*) FROM webhooks AS w WHERE w.user_id = @user_id) < 10
RETURNING *;

-- name: ListWebhooks :many
SELECT * FROM webhooks WHERE user_id = @user_id ORDER BY id;

-- name: GetWebhook :one
SELECT * FROM webhooks WHERE id = @id AND user_id = @user_id;

-- name: UpdateWebhook :one
-- PATCH: a NULL url, events or disabled means "not sent"; the description
-- changes when set_description. Enabling forgets the failures.
UPDATE webhooks
SET url = coalesce(sqlc.narg(url), url),
    events = coalesce(sqlc.narg(events)::text[], events),
    description = CASE WHEN @set_description::boolean THEN sqlc.narg(description) ELSE description END,
    disabled = coalesce(sqlc.narg(disabled), disabled),
    failing_since = CASE WHEN sqlc.narg(disabled)::boolean = false THEN NULL ELSE failing_since END
WHERE id = @id AND user_id = @user_id
RETURNING *;

-- name: DeleteWebhook :execrows
DELETE FROM webhooks WHERE id = @id AND user_id = @user_id;

-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_deliveries WHERE webhook_id = @webhook_id ORDER BY id DESC LIMIT 100;

-- name: SubscribedWebhooks :many
-- The enabled webhooks of these users: the relay's fan-out.
SELECT id, user_id, events FROM webhooks WHERE user_id = ANY (@user_ids::uuid[]) AND NOT disabled;

-- name: WebhookForDelivery :one
SELECT id, url, secret, disabled, failing_since FROM webhooks WHERE id = @id;

-- name: RecordDelivery :exec
-- One attempt, and the webhook's state after it: a success forgets the
-- failures, a failure starts counting them if it is the first.
WITH attempt AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, attempt, status_code, error, duration_ms, created_at)
    VALUES (@webhook_id, @event_id, @event_type, @attempt, sqlc.narg(status_code), sqlc.narg(error), @duration_ms, @now))
UPDATE webhooks AS w
SET failing_since = CASE WHEN @ok::boolean THEN NULL ELSE coalesce(w.failing_since, @now::timestamptz) END
WHERE w.id = @webhook_id;

-- name: PruneDeliveries :exec
-- Keeps a webhook's latest 100 attempts.
DELETE FROM webhook_deliveries AS d
WHERE d.webhook_id = @webhook_id
  AND d.id < (SELECT k.id FROM webhook_deliveries AS k WHERE k.webhook_id = @webhook_id
              ORDER BY k.id DESC OFFSET 99 LIMIT 1);

-- name: DisableWebhook :exec
UPDATE webhooks SET disabled = true WHERE id = @id;
