ALTER TABLE task_tag_link
    DROP CONSTRAINT task_tag_link_pkey,
    ADD PRIMARY KEY (task_id, tag_id),
    DROP CONSTRAINT task_tag_link_task_fkey,
    DROP CONSTRAINT task_tag_link_tag_fkey,
    ADD CONSTRAINT task_tag_link_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE,
    ADD CONSTRAINT task_tag_link_tag_id_fkey FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE;
ALTER TABLE task_tag_link DROP COLUMN user_id;
ALTER TABLE tags DROP CONSTRAINT tags_user_id_id_key;
ALTER TABLE tasks DROP CONSTRAINT tasks_user_id_id_key;
