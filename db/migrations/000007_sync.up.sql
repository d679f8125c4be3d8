-- Versions, the change feed and retry-safe creates (openapi/tasks-api.yaml:
-- ETag and If-Match, GET /changes and GET /events, Idempotency-Key).

-- A task's and a tag's version: 1 at creation, +1 on every change of what
-- the API shows of it (the statements in db/queries set it).
ALTER TABLE tasks ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN version integer NOT NULL DEFAULT 1;

-- The latest change of each of a user's tasks and tags: an upsert (the row's
-- current state is the change's data) or a tombstone, with the id of the
-- transaction that made it (pg_current_xact_id()). One row per entity, so
-- the feed never grows with edits, only with deletions, which are pruned
-- after CHANGES_RETENTION.
--
-- The feed is read in the order (xid, entity, entity_id), and only up to
-- the oldest transaction still running (pg_snapshot_xmin of the reader's
-- snapshot): every change below that horizon has committed or never will,
-- and every change yet to commit has an xid at or above it. So a cursor
-- below the horizon never passes a change that commits later, whatever
-- order transactions commit in, and writers take no lock to number their
-- changes (a per-user counter would serialise a user's writes).
CREATE TABLE changes (
    user_id    uuid        NOT NULL, -- no foreign key: see changes_of_deleted_user
    entity     text        NOT NULL CHECK (entity IN ('tag', 'task')),
    entity_id  integer     NOT NULL,
    op         text        NOT NULL CHECK (op IN ('upsert', 'delete')),
    version    integer     NOT NULL,
    xid        bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, entity, entity_id)
);
CREATE INDEX idx_changes_feed ON changes (user_id, xid, entity, entity_id);
CREATE INDEX idx_changes_tombstones ON changes (changed_at) WHERE op = 'delete';

-- The highest xid among a user's pruned deletions: a cursor at or below it
-- may have missed one (CURSOR_EXPIRED).
ALTER TABLE users ADD COLUMN changes_floor bigint NOT NULL DEFAULT 0;

-- Each insert, version change or deletion of a task or tag records the
-- change. The servers tell each other which users changed (NOTIFY changes)
-- themselves, many users in one notification: a NOTIFY in every writing
-- transaction would serialise their commits on PostgreSQL's notification
-- lock, which is held until the commit is flushed.
CREATE FUNCTION record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
        IF NOT EXISTS (SELECT 1 FROM users WHERE id = r.user_id) THEN
            RETURN NULL; -- the user itself is being deleted: nobody is left to tell
        END IF;
    ELSE
        r := NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- ids are never reused: a new row has no record yet (and a plain
        -- insert costs less than an upsert's speculative one)
        INSERT INTO changes (user_id, entity, entity_id, op, version, xid)
        VALUES (r.user_id, TG_ARGV[0], r.id, 'upsert', r.version, pg_current_xact_id()::text::bigint);
    ELSE
        INSERT INTO changes AS c (user_id, entity, entity_id, op, version, xid, changed_at)
        VALUES (r.user_id, TG_ARGV[0], r.id, CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'upsert' END, r.version,
                pg_current_xact_id()::text::bigint, now())
        ON CONFLICT (user_id, entity, entity_id) DO UPDATE
            SET op = EXCLUDED.op, version = EXCLUDED.version, xid = EXCLUDED.xid, changed_at = EXCLUDED.changed_at;
    END IF;
    RETURN NULL;
END
$$;

-- A foreign key to users would cost every change a lookup of the user row
-- (and a share lock on it) that the task's or tag's own key has just made;
-- the records of a deleted user go with it here instead.
CREATE FUNCTION forget_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM changes WHERE user_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER changes_of_deleted_user AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION forget_changes();

CREATE TRIGGER tasks_change AFTER INSERT OR DELETE OR UPDATE OF version ON tasks
    FOR EACH ROW EXECUTE FUNCTION record_change('task');
CREATE TRIGGER tags_change AFTER INSERT OR DELETE OR UPDATE OF version ON tags
    FOR EACH ROW EXECUTE FUNCTION record_change('tag');

-- What is there already, as upserts of this transaction.
INSERT INTO changes (user_id, entity, entity_id, op, version, xid)
SELECT user_id, 'tag', id, 'upsert', 1, pg_current_xact_id()::text::bigint FROM tags
UNION ALL
SELECT user_id, 'task', id, 'upsert', 1, pg_current_xact_id()::text::bigint FROM tasks;

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
