DROP TRIGGER tags_event ON tags;
DROP TRIGGER tasks_event_delete ON tasks;
DROP TRIGGER tasks_event ON tasks;
DROP FUNCTION record_event();
DROP TABLE outbox_dead;
DROP TABLE outbox;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE event_settings;
