-- Every table a user owns carries user_id, so the schema can be distributed
-- by user (docs/scaling.md). A link's user_id is its task's and its tag's:
-- the foreign keys now name it, so a link can never join two users' rows.
ALTER TABLE tasks ADD CONSTRAINT tasks_user_id_id_key UNIQUE (user_id, id);
ALTER TABLE tags ADD CONSTRAINT tags_user_id_id_key UNIQUE (user_id, id);

ALTER TABLE task_tag_link ADD COLUMN user_id uuid;
UPDATE task_tag_link AS l SET user_id = t.user_id FROM tasks AS t WHERE t.id = l.task_id;
ALTER TABLE task_tag_link ALTER COLUMN user_id SET NOT NULL;

-- The key leads with user_id: the link queries, which all name the user,
-- stay index-only lookups (and a distributed table needs it in its key).
ALTER TABLE task_tag_link
    DROP CONSTRAINT task_tag_link_pkey,
    ADD PRIMARY KEY (user_id, task_id, tag_id),
    DROP CONSTRAINT task_tag_link_task_id_fkey,
    DROP CONSTRAINT task_tag_link_tag_id_fkey,
    ADD CONSTRAINT task_tag_link_task_fkey FOREIGN KEY (user_id, task_id) REFERENCES tasks (user_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT task_tag_link_tag_fkey FOREIGN KEY (user_id, tag_id) REFERENCES tags (user_id, id) ON DELETE CASCADE;
