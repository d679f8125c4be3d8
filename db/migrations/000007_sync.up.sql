-- Versions, the change feed and retry-safe creates (openapi/tasks-api.yaml:
-- ETag and If-Match, GET /changes and GET /events, Idempotency-Key).

-- A task's and a tag's version: 1 at creation, +1 on every change of what
-- the API shows of it (the statements in db/queries set it).
ALTER TABLE tasks ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN version integer NOT NULL DEFAULT 1;

-- The user's change sequence: change_seq is the number of the user's latest
-- change, taken by each change under the user row's lock, so a user's
-- changes commit in the order of their numbers and a reader that sees
-- number n sees every change numbered below it (a global sequence would
-- not: a lower number can commit after a higher one was read).
-- changes_floor is the highest number whose record was pruned: a cursor
-- below it may have missed a deletion.
ALTER TABLE users
    ADD COLUMN change_seq    bigint NOT NULL DEFAULT 0,
    ADD COLUMN changes_floor bigint NOT NULL DEFAULT 0;

-- The latest change of each of a user's tasks and tags: an upsert (the row's
-- current state is the change's data) or a tombstone. One row per entity, so
-- the feed never grows with edits, only with deletions, which are pruned
-- after CHANGES_RETENTION.
CREATE TABLE changes (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entity     text        NOT NULL CHECK (entity IN ('task', 'tag')),
    entity_id  integer     NOT NULL,
    op         text        NOT NULL CHECK (op IN ('upsert', 'delete')),
    version    integer     NOT NULL,
    seq        bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, entity, entity_id)
);
CREATE UNIQUE INDEX idx_changes_user_seq ON changes (user_id, seq);
CREATE INDEX idx_changes_tombstones ON changes (changed_at) WHERE op = 'delete';

-- Each insert, version change or deletion of a task or tag takes the next
-- number of its user, records the change, and tells the servers listening
-- on the channel `changes` (payload: the user id) when it commits; several
-- changes of one user in one transaction make one notification.
CREATE FUNCTION record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r   record;
    n   bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    UPDATE users SET change_seq = change_seq + 1 WHERE id = r.user_id RETURNING change_seq INTO n;
    IF NOT FOUND THEN
        RETURN NULL; -- the user itself is being deleted: nobody is left to tell
    END IF;
    INSERT INTO changes AS c (user_id, entity, entity_id, op, version, seq, changed_at)
    VALUES (r.user_id, TG_ARGV[0], r.id, CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'upsert' END, r.version, n, now())
    ON CONFLICT (user_id, entity, entity_id) DO UPDATE
        SET op = EXCLUDED.op, version = EXCLUDED.version, seq = EXCLUDED.seq, changed_at = EXCLUDED.changed_at;
    PERFORM pg_notify('changes', r.user_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_change AFTER INSERT OR DELETE OR UPDATE OF version ON tasks
    FOR EACH ROW EXECUTE FUNCTION record_change('task');
CREATE TRIGGER tags_change AFTER INSERT OR DELETE OR UPDATE OF version ON tags
    FOR EACH ROW EXECUTE FUNCTION record_change('tag');

-- What is there already, as upserts numbered per user from 1.
INSERT INTO changes (user_id, entity, entity_id, op, version, seq)
SELECT user_id, entity, id, 'upsert', 1, row_number() OVER (PARTITION BY user_id ORDER BY entity, id)
FROM (SELECT user_id, 'tag' AS entity, id FROM tags UNION ALL SELECT user_id, 'task', id FROM tasks) AS s;
UPDATE users AS u SET change_seq = c.n
FROM (SELECT user_id, max(seq) AS n FROM changes GROUP BY user_id) AS c
WHERE u.id = c.user_id;

-- Responses of creates sent with an Idempotency-Key, written in the
-- transaction that created the row; kept at least 24 hours.
CREATE TABLE idempotency_keys (
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       smallint    NOT NULL,
    etag         text        NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idx_idempotency_keys_created_at ON idempotency_keys (created_at);
