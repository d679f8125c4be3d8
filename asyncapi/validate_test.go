package asyncapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const userID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

// task is a Task as GET /tasks/{id} answers it (openapi/tasks-api.yaml).
func task() map[string]any {
	return map[string]any{
		"id": 42, "version": 3, "title": "Water the plants", "description": nil,
		"completed": false, "priority": "medium", "due_date": "2026-12-01T17:00:00Z",
		"recurrence": map[string]any{"rule": "FREQ=WEEKLY;BYDAY=MO,TH", "timezone": "Europe/Berlin", "from": "due"},
		"series_id":  42, "user_id": userID,
		"created_at": "2026-11-20T08:15:00.123456Z", "updated_at": "2026-11-28T19:02:11Z",
		"tags": []any{tag()},
		"reminders": []any{map[string]any{"id": 9, "before": "PT15M", "at": nil,
			"fires_at": "2026-12-01T16:45:00Z", "fired_at": nil}},
	}
}

// tag is a Tag as GET /tags/{id} answers it.
func tag() map[string]any {
	return map[string]any{"id": 7, "version": 1, "name": "home", "color": "#2E7D32"}
}

func event(typ, subject string, data map[string]any) map[string]any {
	return map[string]any{
		"specversion": "1.0", "id": "0b8f5c3e-6f0e-4c4b-9d7e-3f4a2b1c9d10", "source": "/todo-api",
		"type": typ, "subject": subject, "time": "2026-11-28T19:02:11.5Z",
		"datacontenttype": "application/json", "data": data,
	}
}

// valid returns a valid event of every type the document describes.
func valid() map[string]map[string]any {
	taskData := func() map[string]any { return map[string]any{"user_id": userID, "task": task()} }
	tagData := func() map[string]any { return map[string]any{"user_id": userID, "tag": tag()} }
	plain := task()
	plain["recurrence"], plain["series_id"], plain["due_date"], plain["tags"], plain["reminders"] = nil, nil, nil, []any{}, []any{}
	return map[string]map[string]any{
		"dev.todo.task.created.v1":   event("dev.todo.task.created.v1", "tasks/42", taskData()),
		"dev.todo.task.updated.v1":   event("dev.todo.task.updated.v1", "tasks/42", map[string]any{"user_id": userID, "task": plain}),
		"dev.todo.task.completed.v1": event("dev.todo.task.completed.v1", "tasks/42", taskData()),
		"dev.todo.task.deleted.v1":   event("dev.todo.task.deleted.v1", "tasks/42", taskData()),
		"dev.todo.tag.created.v1":    event("dev.todo.tag.created.v1", "tags/7", tagData()),
		"dev.todo.tag.updated.v1":    event("dev.todo.tag.updated.v1", "tags/7", map[string]any{"user_id": userID, "tag": map[string]any{"id": 7, "version": 2, "name": "garden", "color": nil}}),
		"dev.todo.tag.deleted.v1":    event("dev.todo.tag.deleted.v1", "tags/7", tagData()),
		"dev.todo.reminder.due.v1": event("dev.todo.reminder.due.v1", "tasks/42", map[string]any{
			"user_id": userID, "task_id": 42, "reminder_id": 5, "title": "Water the plants",
			"due_date": "2026-12-01T17:00:00Z", "fires_at": "2026-12-01T16:30:00Z",
		}),
		"dev.todo.webhook.test.v1": event("dev.todo.webhook.test.v1", "webhooks/3", map[string]any{"user_id": userID, "webhook_id": 3}),
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTypes(t *testing.T) {
	types := Types()
	if !slices.IsSorted(types) || len(types) != len(valid()) {
		t.Fatalf("Types() = %v, want the %d types of valid(), sorted", types, len(valid()))
	}
	for _, typ := range types {
		if _, ok := valid()[typ]; !ok {
			t.Errorf("%s is described but has no valid example here", typ)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	for typ, ev := range valid() {
		t.Run(typ, func(t *testing.T) {
			if err := Validate(mustJSON(t, ev)); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("reminder without a due date", func(t *testing.T) {
		ev := valid()["dev.todo.reminder.due.v1"]
		ev["data"].(map[string]any)["due_date"] = nil
		if err := Validate(mustJSON(t, ev)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestValidateRejects(t *testing.T) {
	created := "dev.todo.task.created.v1"
	tests := []struct {
		name   string
		change func(ev, data map[string]any)
		want   string // a part of the error
	}{
		{"UnknownType", func(ev, _ map[string]any) { ev["type"] = "dev.todo.task.archived.v1" }, "unknown event type"},
		{"NoType", func(ev, _ map[string]any) { delete(ev, "type") }, "no string type"},
		{"MissingID", func(ev, _ map[string]any) { delete(ev, "id") }, `"id"`},
		{"IDNotUUID", func(ev, _ map[string]any) { ev["id"] = "42" }, "UUID"},
		{"WrongSpecVersion", func(ev, _ map[string]any) { ev["specversion"] = "0.3" }, "specversion"},
		{"WrongSource", func(ev, _ map[string]any) { ev["source"] = "/other" }, "source"},
		{"TimeNotUTC", func(ev, _ map[string]any) { ev["time"] = "2026-11-28T20:02:11+01:00" }, "time"},
		{"TimeNotRFC3339", func(ev, _ map[string]any) { ev["time"] = "28 Nov 2026 19:02" }, "time"},
		{"WrongDataContentType", func(ev, _ map[string]any) { ev["datacontenttype"] = "text/plain" }, "datacontenttype"},
		{"UnknownAttribute", func(ev, _ map[string]any) { ev["datacontentype"] = "application/json" }, "datacontentype"},
		{"SubjectOfATag", func(ev, _ map[string]any) { ev["subject"] = "tags/42" }, "subject"},
		{"SubjectWithoutID", func(ev, _ map[string]any) { ev["subject"] = "tasks/" }, "subject"},
		{"TaskMissingRequiredField", func(_, data map[string]any) { delete(data["task"].(map[string]any), "version") }, "version"},
		{"TaskFieldOfWrongType", func(_, data map[string]any) { data["task"].(map[string]any)["priority"] = "urgent" }, "priority"},
		{"TagDataUnderTaskType", func(_, data map[string]any) { delete(data, "task"); data["tag"] = tag() }, "tag"},
		{"UserIDNotUUID", func(_, data map[string]any) { data["user_id"] = "not-a-uuid" }, "user_id"},
		{"ExtraDataField", func(_, data map[string]any) { data["next"] = nil }, "next"},
		{"NoData", func(ev, _ map[string]any) { delete(ev, "data") }, "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := valid()[created]
			tt.change(ev, ev["data"].(map[string]any))
			err := Validate(mustJSON(t, ev))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	t.Run("NotJSON", func(t *testing.T) {
		if err := Validate([]byte(`{"type":`)); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("WebhookTestOfATask", func(t *testing.T) {
		ev := valid()["dev.todo.webhook.test.v1"]
		ev["subject"] = "tasks/42"
		if err := Validate(mustJSON(t, ev)); err == nil {
			t.Fatal("accepted")
		}
	})
}

// A payload in another schema format would be read with the wrong meaning of
// nullable; parse refuses it rather than guess.
func TestParseRefusesOtherSchemaFormats(t *testing.T) {
	doc := strings.Replace(string(Events), "schemaFormat: application/vnd.oai.openapi;version=3.0.0",
		"schemaFormat: application/vnd.aai.asyncapi+json;version=3.0.0", 1)
	if _, err := parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "schemaFormat") {
		t.Fatalf("parse: %v, want a schemaFormat error", err)
	}
}
