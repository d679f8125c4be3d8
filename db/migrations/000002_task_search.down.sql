DROP INDEX IF EXISTS idx_tasks_description_trgm;
DROP INDEX IF EXISTS idx_tasks_title_trgm;
-- pg_trgm stays: other objects may use it, and it holds no data.
