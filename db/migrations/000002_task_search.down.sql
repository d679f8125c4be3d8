DROP INDEX IF EXISTS idx_tasks_description_trgm;
DROP INDEX IF EXISTS idx_tasks_title_trgm;
ALTER TABLE tasks DROP COLUMN IF EXISTS description_search, DROP COLUMN IF EXISTS title_search;
-- pg_trgm stays: other objects may use it, and it holds no data.
