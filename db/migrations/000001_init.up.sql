-- Users, their tasks and tags, and server-side refresh sessions.

CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    name          text        NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    -- Emails are stored normalised, so the unique constraint is case-insensitive.
    CONSTRAINT users_email_normalised CHECK (email = lower(btrim(email)))
);

CREATE TABLE tags (
    id         serial      PRIMARY KEY,
    name       varchar(50) NOT NULL,
    color      varchar(7)  NULL,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_name_user_id_key UNIQUE (name, user_id)
);

CREATE INDEX idx_tags_user_id ON tags (user_id);

-- Declared in the order "priority ascending" sorts: high, medium, low.
CREATE TYPE task_priority AS ENUM ('high', 'medium', 'low');

CREATE TABLE tasks (
    id              serial        PRIMARY KEY,
    title           varchar(200)  NOT NULL,
    description     varchar(1000) NULL,
    completed       boolean       NOT NULL DEFAULT false,
    priority        task_priority NOT NULL DEFAULT 'medium',
    due_date        timestamptz   NULL,
    recurrence_rule text          NULL,
    user_id         uuid          NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    updated_at      timestamptz   NOT NULL DEFAULT now()
);

-- Each list order has an index that yields it directly, ending in id (the
-- tie-break), so a page is an index walk, never a sort of the user's tasks.
-- Backward scans serve the descending orders.
CREATE INDEX idx_tasks_user_id ON tasks (user_id, created_at, id);
CREATE INDEX idx_tasks_user_completed ON tasks (user_id, completed, due_date, id);
CREATE INDEX idx_tasks_user_priority ON tasks (user_id, priority, id);
CREATE INDEX idx_tasks_user_due_date ON tasks (user_id, due_date, id);
CREATE INDEX idx_tasks_user_title ON tasks (user_id, lower(title), id);

CREATE TABLE task_tag_link (
    task_id integer NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tag_id  integer NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, tag_id)
);

CREATE INDEX idx_task_tag_link_task ON task_tag_link (task_id);
CREATE INDEX idx_task_tag_link_tag ON task_tag_link (tag_id, task_id);

-- One row per login: a refresh-token family. Each refresh rotates current_jti;
-- the replaced jti stays in previous_jti so a replay can be told apart from a
-- concurrent refresh (inside the grace window) or from theft (after it).
CREATE TABLE refresh_sessions (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    current_jti  uuid        NOT NULL,
    previous_jti uuid        NULL,
    rotated_at   timestamptz NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_refresh_sessions_user_id ON refresh_sessions (user_id);
CREATE INDEX idx_refresh_sessions_expires_at ON refresh_sessions (expires_at);
