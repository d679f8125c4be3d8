-- Events for other services (asyncapi/events.yaml): the outbox that the
-- relay publishes to NATS JetStream and fans out to webhooks
-- (internal/events), and the webhooks (openapi/tasks-api.yaml: /webhooks).

-- Whether the events go to NATS (NATS_URL set); the servers write it at
-- start-up. Without NATS an event is kept only for a user with a webhook.
CREATE TABLE event_settings (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    nats boolean NOT NULL DEFAULT false
);
INSERT INTO event_settings DEFAULT VALUES;

CREATE TABLE webhooks (
    id            serial      PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url           text        NOT NULL,
    events        text[]      NOT NULL,
    description   text,
    secret        text        NOT NULL,
    created_at    timestamptz NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    -- the first failed delivery since the last success: 24 hours of
    -- failures disable the webhook
    failing_since timestamptz
);
CREATE INDEX idx_webhooks_user ON webhooks (user_id, id);

-- Every attempt of a delivery; the latest 100 of a webhook are kept.
CREATE TABLE webhook_deliveries (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id  integer     NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    attempt     integer     NOT NULL,
    status_code integer,
    error       text,
    duration_ms integer     NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX idx_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);

-- One row per event, written in the transaction of the write (five edits
-- are five rows), deleted once published. `row` is the task's or tag's row
-- as to_jsonb gives it (after the write; before it for a deletion; without
-- a task's due_local, which the API does not show) and
-- `tags` a task's tags as the API shows them: the relay turns them into the
-- API's Task and Tag with the same code as the HTTP handlers.
--
-- Order: seq is taken when the row is written, while the transaction holds
-- the lock of the task or tag it is about (until it commits), so two events
-- of one task or tag are in seq order exactly as their transactions
-- committed, and an event of a write that began after another committed
-- comes after it. The relay reads the committed rows in seq order and
-- deletes what the stream acknowledged; a row that commits later with a
-- lower seq (a concurrent write of another task) is simply read next time.
-- It never resumes from a position, so no such row can be skipped.
CREATE TABLE outbox (
    seq        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL,
    type       text        NOT NULL,
    entity_id  integer     NOT NULL,
    row        jsonb       NOT NULL,
    tags       jsonb,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- its webhooks' deliveries are queued (they are, even while NATS is
    -- down); the row goes once NATS has it too
    fanned_out boolean     NOT NULL DEFAULT false
);

-- Events that cannot be sent (they cannot be built, or NATS refuses them
-- for themselves, e.g. larger than its max_payload): kept here for an
-- operator rather than stopping every event behind them, and counted
-- (todo_events_dead_total).
CREATE TABLE outbox_dead (
    LIKE outbox,
    reason    text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- record_event(entity): the outbox row of one write of a task or tag.
-- Inserts and updates are recorded when the transaction commits (a deferred
-- constraint trigger), so a task's tags are as the transaction left them: a
-- tag renamed after its tasks were touched (db/queries/tags.sql) shows its
-- new name in their events. A task's deletion is recorded before it (a
-- BEFORE trigger), while its tag links, which go by cascade, still exist.
-- The deletion of a user's account records nothing.
CREATE FUNCTION record_event() RETURNS trigger
LANGUAGE plpgsql
-- to_jsonb writes times in the session's zone: in UTC they are RFC 3339
-- whatever the server's default (an offset with seconds is not)
SET TimeZone = 'UTC'
AS $$
DECLARE
    r      record;
    name   text;
    tags   jsonb;
    result record := NULL; -- an AFTER trigger's result is ignored
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
        IF TG_WHEN = 'BEFORE' THEN
            result := OLD; -- NULL would cancel the deletion
        END IF;
    ELSE
        r := NEW;
    END IF;
    IF NOT (SELECT s.nats FROM event_settings AS s)
       AND NOT EXISTS (SELECT 1 FROM webhooks AS w WHERE w.user_id = r.user_id AND NOT w.disabled) THEN
        RETURN result;
    END IF;
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = r.user_id) THEN
        RETURN result; -- the account is being deleted (its rows go by cascade)
    END IF;
    name := CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'DELETE' THEN 'deleted' ELSE 'updated' END;
    IF TG_ARGV[0] = 'task' THEN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.completed AND NOT OLD.completed THEN
                name := 'completed';
            END IF;
        END IF;
        SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name, 'color', g.color, 'version', g.version)
                                  ORDER BY g.name, g.id), '[]')
        INTO tags
        FROM task_tag_link AS l JOIN tags AS g ON g.id = l.tag_id
        WHERE l.task_id = r.id;
    END IF;
    INSERT INTO outbox (user_id, type, entity_id, row, tags)
    VALUES (r.user_id, TG_ARGV[0] || '.' || name, r.id, to_jsonb(r) - 'due_local', tags);
    RETURN result;
END
$$;

CREATE CONSTRAINT TRIGGER tasks_event AFTER INSERT OR UPDATE OF version ON tasks
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION record_event('task');
CREATE TRIGGER tasks_event_delete BEFORE DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION record_event('task');
CREATE CONSTRAINT TRIGGER tags_event AFTER INSERT OR UPDATE OF version OR DELETE ON tags
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION record_event('tag');
