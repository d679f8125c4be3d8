DROP TABLE idempotency_keys;
DROP TRIGGER tags_change ON tags;
DROP TRIGGER tasks_change ON tasks;
DROP FUNCTION record_change();
DROP TABLE changes;
ALTER TABLE users DROP COLUMN changes_floor;
ALTER TABLE tags DROP COLUMN version;
ALTER TABLE tasks DROP COLUMN version;
