-- The change feed (openapi/tasks-api.yaml: GET /changes, GET /events).

-- name: ChangeSeq :one
-- The user's latest change number; no row when the user is gone.
SELECT change_seq FROM users WHERE id = @user_id;

-- name: ChangesSince :many
-- The user's changes after the number @since, in order, at most @page_limit,
-- each with the current row of an upsert, all from one snapshot. The first
-- columns are the user's: its latest number and the pruned floor; a user
-- without changes after @since gives one row with a NULL seq, and a user
-- that is gone gives none. (One users row: the walk of idx_changes_user_seq
-- from @since yields the order, and stops at the limit.)
SELECT u.change_seq, u.changes_floor,
       c.seq, c.entity, c.entity_id, c.op, c.version,
       t.id AS task_id, t.title, t.description, t.completed, t.priority, t.due_date,
       t.created_at, t.updated_at, t.version AS task_version,
       g.id AS tag_id, g.name AS tag_name, g.color AS tag_color, g.version AS tag_version
FROM users AS u
LEFT JOIN changes AS c ON c.user_id = u.id AND c.seq > @since
LEFT JOIN tasks AS t ON c.entity = 'task' AND c.op = 'upsert' AND t.user_id = u.id AND t.id = c.entity_id
LEFT JOIN tags AS g ON c.entity = 'tag' AND c.op = 'upsert' AND g.user_id = u.id AND g.id = c.entity_id
WHERE u.id = @user_id
ORDER BY c.seq
LIMIT @page_limit;

-- name: PruneTombstones :one
-- Deletes up to @batch deletion records older than the retention and raises
-- each user's floor to the highest number it pruned.
WITH gone AS (
    DELETE FROM changes
    WHERE ctid IN (
        SELECT ctid FROM changes
        WHERE op = 'delete' AND changed_at < now() - make_interval(secs => @retention_seconds::float8)
        LIMIT @batch)
    RETURNING user_id, seq
), floors AS (
    UPDATE users AS u SET changes_floor = f.seq
    FROM (SELECT user_id, max(seq) AS seq FROM gone GROUP BY user_id) AS f
    WHERE u.id = f.user_id AND u.changes_floor < f.seq
)
SELECT count(*) FROM gone;
