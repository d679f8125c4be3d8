-- Substring search (`q`) on title or description: trigram GIN indexes serve
-- ILIKE '%...%'. fastupdate is off so every insert updates the index a little
-- instead of every few hundred inserts flushing a pending list at once (the
-- flush is what made write latency spiky).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX idx_tasks_title_trgm ON tasks USING gin (title gin_trgm_ops) WITH (fastupdate = off);
CREATE INDEX idx_tasks_description_trgm ON tasks USING gin (description gin_trgm_ops) WITH (fastupdate = off);
