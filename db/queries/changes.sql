-- The change feed (openapi/tasks-api.yaml: GET /changes, GET /events;
-- db/migrations/000007_sync.up.sql). A position in the feed is a key
-- (xid, entity, entity_id); the horizon is the oldest transaction still
-- running, below which every change is final. A reader's cursor moves only
-- over its own user's changes: never to the horizon, which counts every
-- user's transactions.

-- name: FeedStart :one
-- Where a reader that starts from now begins: after the user's last change
-- below the horizon (every change at or above it may still commit) and its
-- pruned floor, so the cursor tells nothing of other users' writes. No row
-- when the user is gone.
SELECT greatest((SELECT max(c.xid) FROM changes AS c
                 WHERE c.user_id = u.id AND c.xid < feed_horizon()),
                u.changes_floor)::bigint AS last_xid
FROM users AS u WHERE u.id = @user_id;

-- name: ListVersion :one
-- The version of the user's lists (data_version, db/migrations/
-- 000011_data_version), with the horizon. A later change makes a greater
-- xid once the version is below the horizon (every transaction that could
-- still commit a change has an xid at or above it); until then the version
-- may not be relied on. No row when the user is gone.
SELECT data_version(u.id, u.changes_floor)::bigint AS list_version,
       feed_horizon() AS horizon
FROM users AS u WHERE u.id = @user_id;

-- name: PruneTombstones :one
-- Deletes up to @batch deletion records older than the retention and raises
-- each user's floor to the highest xid it pruned.
WITH gone AS (
    DELETE FROM changes
    WHERE ctid IN (
        SELECT ctid FROM changes
        WHERE op = 'delete' AND changed_at < now() - make_interval(secs => @retention_seconds::float8)
        LIMIT @batch)
    RETURNING user_id, xid
), floors AS (
    UPDATE users AS u SET changes_floor = f.xid
    FROM (SELECT user_id, max(xid) AS xid FROM gone GROUP BY user_id) AS f
    WHERE u.id = f.user_id AND u.changes_floor < f.xid
)
SELECT count(*) FROM gone;

-- name: NotifyChanges :exec
-- Tells every server listening on @channel (internal/live: ChangesChannel)
-- which users' data changed: each payload is comma-separated user ids
-- (db/migrations/000007_sync.up.sql).
SELECT pg_notify(@channel::text, p) FROM unnest(@payloads::text[]) AS p;

-- name: ChangesSince :many
-- For each reader i (a user, and the key after which it reads), its user's
-- changes after that key and below the horizon, in key order, at most
-- @page_limit of them and about @page_bytes of JSON (the change that
-- starts below that is the last; page_bytes is the estimate up to each
-- change, by the bytes of its text and its task's tags), each with the
-- current row of an upsert: many readers in one statement and one snapshot
-- (the streams one notification woke read together). Each reader's rows
-- start with its user's and the snapshot's: the pruned floor, the next xid
-- to be given, and whether changes wait above the horizon. A reader without
-- changes gets one row whose change columns are zero (xid -1); a user that
-- is gone, none.
SELECT r.i::integer AS request, u.changes_floor, h.next_xid,
       coalesce((SELECT max(w.xid) FROM changes AS w WHERE w.user_id = r.user_id) >= h.horizon, false)::boolean AS waiting,
       coalesce(c.xid, -1)::bigint AS xid, coalesce(c.entity, '')::text AS entity,
       coalesce(c.entity_id, 0)::integer AS entity_id, coalesce(c.op, '')::text AS op,
       coalesce(c.version, 0)::integer AS version, coalesce(c.page_bytes, 0)::bigint AS page_bytes,
       t.id AS task_id, t.title, t.description, t.completed, t.priority, t.due_date,
       t.created_at, t.updated_at, t.version AS task_version,
       t.recurrence_rule, t.recurrence_timezone, t.recurrence_from, t.series_id, t.reminders,
       g.id AS tag_id, g.name AS tag_name, g.color AS tag_color, g.version AS tag_version
FROM unnest(@user_ids::uuid[]) WITH ORDINALITY AS r(user_id, i)
CROSS JOIN (
    SELECT pg_snapshot_xmin(s)::text::bigint AS horizon, pg_snapshot_xmax(s)::text::bigint AS next_xid
    FROM pg_current_snapshot() AS s
) AS h
JOIN users AS u ON u.id = r.user_id
LEFT JOIN LATERAL (
    SELECT p.xid, p.entity, p.entity_id, p.op, p.version, p.page_bytes
    FROM (
        SELECT ch.xid, ch.entity, ch.entity_id, ch.op, ch.version,
               sum(z.bytes) OVER (ORDER BY ch.xid, ch.entity, ch.entity_id) AS page_bytes, z.bytes
        FROM changes AS ch
        CROSS JOIN LATERAL (SELECT CASE
            WHEN ch.op = 'delete' THEN 80
            WHEN ch.entity = 'tag' THEN 120 + coalesce((
                SELECT octet_length(tg.name) + coalesce(octet_length(tg.color), 0)
                FROM tags AS tg WHERE tg.user_id = ch.user_id AND tg.id = ch.entity_id), 0)
            ELSE 320 + coalesce((
                SELECT octet_length(tk.title) + coalesce(octet_length(tk.description), 0)
                       + coalesce(80 + octet_length(tk.recurrence_rule) + octet_length(tk.recurrence_timezone), 0)
                       + 120 * (SELECT count(*) FROM task_tag_link AS l WHERE l.user_id = tk.user_id AND l.task_id = tk.id)
                FROM tasks AS tk WHERE tk.user_id = ch.user_id AND tk.id = ch.entity_id), 0)
            END AS bytes) AS z
        WHERE ch.user_id = r.user_id AND ch.xid < h.horizon
          AND (ch.xid, ch.entity, ch.entity_id)
            > ((@after_xids::bigint[])[r.i], (@after_entities::text[])[r.i], (@after_ids::integer[])[r.i])
        ORDER BY ch.xid, ch.entity, ch.entity_id
        LIMIT @page_limit
    ) AS p
    WHERE p.page_bytes - p.bytes < @page_bytes::bigint
) AS c ON true
LEFT JOIN tasks AS t ON c.entity = 'task' AND c.op = 'upsert' AND t.user_id = r.user_id AND t.id = c.entity_id
LEFT JOIN tags AS g ON c.entity = 'tag' AND c.op = 'upsert' AND g.user_id = r.user_id AND g.id = c.entity_id
ORDER BY r.i, c.xid, c.entity, c.entity_id;
