DROP TRIGGER IF EXISTS task_tag_link_count_delete ON task_tag_link;
DROP TRIGGER IF EXISTS task_tag_link_count_insert ON task_tag_link;
DROP TRIGGER IF EXISTS tasks_count ON tasks;
DROP FUNCTION IF EXISTS task_tag_link_count_trigger();
DROP FUNCTION IF EXISTS tasks_count_trigger();
DROP FUNCTION IF EXISTS task_counts_apply(uuid, boolean, task_priority, integer);
ALTER TABLE tags DROP COLUMN IF EXISTS task_count;
DROP TABLE IF EXISTS task_counts;
