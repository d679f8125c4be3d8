-- Exact list totals without counting rows on every call.
--
-- task_counts holds, per user, the number of tasks for each (completed,
-- priority) pair: the sum of the matching rows is the exact total of a list
-- filtered by status and/or priority (or not at all). tags.task_count is the
-- number of tasks carrying each tag. Triggers keep both in step with every
-- write in the same transaction, so they are exact, not estimates.

CREATE TABLE task_counts (
    user_id   uuid          NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    completed boolean       NOT NULL,
    priority  task_priority NOT NULL,
    n         bigint        NOT NULL DEFAULT 0 CHECK (n >= 0),
    PRIMARY KEY (user_id, completed, priority)
);

ALTER TABLE tags ADD COLUMN task_count integer NOT NULL DEFAULT 0 CHECK (task_count >= 0);

CREATE FUNCTION task_counts_apply(u uuid, c boolean, p task_priority, delta integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF delta > 0 THEN
        INSERT INTO task_counts AS tc (user_id, completed, priority, n)
        VALUES (u, c, p, delta)
        ON CONFLICT (user_id, completed, priority) DO UPDATE SET n = tc.n + EXCLUDED.n;
    ELSE
        -- Never inserts: while a user is deleted, its rows may be gone already.
        UPDATE task_counts SET n = n + delta WHERE user_id = u AND completed = c AND priority = p;
    END IF;
END;
$$;

CREATE FUNCTION tasks_count_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM task_counts_apply(NEW.user_id, NEW.completed, NEW.priority, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM task_counts_apply(OLD.user_id, OLD.completed, OLD.priority, -1);
    ELSIF (OLD.user_id, OLD.completed, OLD.priority) IS DISTINCT FROM (NEW.user_id, NEW.completed, NEW.priority) THEN
        -- Two counter rows change: take them in key order, so two tasks moving
        -- in opposite directions at once (done / not done) cannot deadlock.
        IF (OLD.user_id, OLD.completed, OLD.priority) < (NEW.user_id, NEW.completed, NEW.priority) THEN
            PERFORM task_counts_apply(OLD.user_id, OLD.completed, OLD.priority, -1);
            PERFORM task_counts_apply(NEW.user_id, NEW.completed, NEW.priority, 1);
        ELSE
            PERFORM task_counts_apply(NEW.user_id, NEW.completed, NEW.priority, 1);
            PERFORM task_counts_apply(OLD.user_id, OLD.completed, OLD.priority, -1);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_count AFTER INSERT OR DELETE OR UPDATE OF user_id, completed, priority ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_count_trigger();

-- Per statement, with the links it added or removed: a task's deletion
-- removes all its links at once, and the tags' rows are locked in id order,
-- so two such deletions sharing tags cannot deadlock.
CREATE FUNCTION task_tag_link_count_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM 1 FROM tags WHERE id IN (SELECT tag_id FROM added) ORDER BY id FOR NO KEY UPDATE;
        UPDATE tags AS g SET task_count = g.task_count + c.n
        FROM (SELECT tag_id, count(*) AS n FROM added GROUP BY tag_id) AS c
        WHERE g.id = c.tag_id;
    ELSE
        -- A tag being deleted itself is already gone here: nothing to update.
        PERFORM 1 FROM tags WHERE id IN (SELECT tag_id FROM removed) ORDER BY id FOR NO KEY UPDATE;
        UPDATE tags AS g SET task_count = g.task_count - c.n
        FROM (SELECT tag_id, count(*) AS n FROM removed GROUP BY tag_id) AS c
        WHERE g.id = c.tag_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_tag_link_count_insert AFTER INSERT ON task_tag_link
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION task_tag_link_count_trigger();

CREATE TRIGGER task_tag_link_count_delete AFTER DELETE ON task_tag_link
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION task_tag_link_count_trigger();

-- Backfill from the rows already there.
INSERT INTO task_counts (user_id, completed, priority, n)
SELECT user_id, completed, priority, count(*) FROM tasks GROUP BY 1, 2, 3;
UPDATE tags SET task_count = c.n FROM (SELECT tag_id, count(*) AS n FROM task_tag_link GROUP BY 1) AS c WHERE c.tag_id = tags.id;
