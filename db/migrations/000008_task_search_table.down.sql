ALTER TABLE tasks
    ADD COLUMN title_search text GENERATED ALWAYS AS (lower(title)) STORED,
    ADD COLUMN description_search text GENERATED ALWAYS AS (lower(description)) STORED;
CREATE INDEX idx_tasks_title_trgm ON tasks USING gin (title_search gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX idx_tasks_description_trgm ON tasks USING gin (description_search gin_trgm_ops) WITH (fastupdate = off);

DROP TRIGGER tasks_search_update ON tasks;
DROP TRIGGER tasks_search_delete ON tasks;
DROP TRIGGER tasks_search_insert ON tasks;
DROP FUNCTION task_search_update();
DROP FUNCTION task_search_delete();
DROP FUNCTION task_search_insert();
DROP FUNCTION task_search_body(text, text);
DROP TABLE task_search;
