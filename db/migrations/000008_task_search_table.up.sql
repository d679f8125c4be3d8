-- The searchable text of each task in a narrow table of its own, with one
-- trigram index, in place of the lower-cased copies of title and description
-- on the task row (000002_task_search) and their two indexes.
--
-- Why: a search on a common word counts every task that matches, and the
-- trigram index only finds candidates: PostgreSQL re-checks each one against
-- the pattern. Here that re-check reads about a third of the pages the wide
-- task rows took, and tests one text instead of two (a BitmapOr of two
-- indexes before). And a write that does not change the text (completed,
-- priority, due date, a version bump) no longer writes the trigram indexes:
-- an update that is not HOT inserts into every index of the row, and a GIN
-- trigram entry per trigram of the title and of the description was most of
-- the cost of PATCH.
--
-- body is lower(title), a newline, lower(description) ('' when NULL). A
-- search pattern without a newline matches body exactly when it matches the
-- title or the description; one with a newline could span both, and the
-- queries (db/queries/tasks.sql) test the two texts for it then.
CREATE TABLE task_search (
    task_id integer PRIMARY KEY, -- tasks.id; kept in step by the triggers below
    user_id uuid    NOT NULL,
    body    text    NOT NULL
);

CREATE FUNCTION task_search_body(title text, description text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lower(title) || E'\n' || lower(coalesce(description, ''));

-- Inserts and deletions by statement (one statement for a whole COPY or a
-- user's deletion), text changes by row, only when the text changed.
CREATE FUNCTION task_search_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_search (task_id, user_id, body)
    SELECT id, user_id, task_search_body(title, description) FROM added;
    RETURN NULL;
END;
$$;

CREATE FUNCTION task_search_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_search AS s USING removed AS r WHERE s.task_id = r.id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION task_search_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_search SET body = task_search_body(NEW.title, NEW.description) WHERE task_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_search_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION task_search_insert();
CREATE TRIGGER tasks_search_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION task_search_delete();
CREATE TRIGGER tasks_search_update AFTER UPDATE OF title, description ON tasks
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION task_search_update();

-- The triggers came first: creating them locks tasks against writes until
-- this migration commits, so the copy misses none. The index is built after
-- the copy (in bulk: smaller and faster than row by row).
INSERT INTO task_search (task_id, user_id, body)
SELECT id, user_id, task_search_body(title, description) FROM tasks;

-- fastupdate off, as before (000002_task_search): every insert updates the
-- index a little, instead of a pending-list flush every few thousand.
CREATE INDEX idx_task_search_body ON task_search USING gin (body gin_trgm_ops) WITH (fastupdate = off);

DROP INDEX idx_tasks_title_trgm;
DROP INDEX idx_tasks_description_trgm;
ALTER TABLE tasks DROP COLUMN title_search, DROP COLUMN description_search;
