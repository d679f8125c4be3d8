// Package events publishes what the service's writes record in the outbox
// (db/migrations/000013_events): to NATS JetStream, one relay per database
// at a time, in the order of the writes, and to the users' webhooks through
// River jobs (asyncapi/events.yaml describes the events).
package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/api"
	"github.com/todoapp/todo-api/internal/cloudevent"
)

// Row is one outbox row.
type Row struct {
	Seq       int64
	ID        uuid.UUID
	UserID    uuid.UUID
	Type      string // "task.created", "tag.deleted", ...
	EntityID  int32
	Row       []byte // the task's or tag's row, to_jsonb
	Tags      []byte // a task's tags as the API shows them
	CreatedAt time.Time
}

// Message is one event ready to send.
type Message struct {
	Seq    int64
	ID     string
	UserID uuid.UUID
	Name   string // the type without "dev.todo." and ".v1"
	Body   []byte // the CloudEvent
	// its webhooks' deliveries are queued (internal/events relay)
	fannedOut bool
}

// TaskData is the data of the task events.
type TaskData struct {
	UserID uuid.UUID     `json:"user_id"`
	Task   tasksapi.Task `json:"task"`
}

// TagData is the data of the tag events.
type TagData struct {
	UserID uuid.UUID    `json:"user_id"`
	Tag    tasksapi.Tag `json:"tag"`
}

// ReminderData is the data of reminder.due (and of the `reminder` event of
// GET /events).
type ReminderData struct {
	UserID     uuid.UUID  `json:"user_id"`
	TaskID     int64      `json:"task_id"`
	ReminderID int64      `json:"reminder_id"`
	Title      string     `json:"title"`
	DueDate    *time.Time `json:"due_date"`
	FiresAt    time.Time  `json:"fires_at"`
}

// Build turns an outbox row into its CloudEvent, the task or tag shown
// exactly as the HTTP API shows it.
func Build(r Row) (Message, error) {
	entity, _, _ := strings.Cut(r.Type, ".")
	var data any
	var subject string
	switch entity {
	case "task":
		var row struct {
			db.Task
			Reminders json.RawMessage `json:"reminders"` // JSON in the row, not bytes
		}
		if err := json.Unmarshal(r.Row, &row); err != nil {
			return Message{}, fmt.Errorf("event %s: the task row: %w", r.ID, err)
		}
		t := row.Task
		t.Reminders = row.Reminders
		tags := []tasksapi.Tag{}
		if len(r.Tags) > 0 {
			if err := json.Unmarshal(r.Tags, &tags); err != nil {
				return Message{}, fmt.Errorf("event %s: the task's tags: %w", r.ID, err)
			}
		}
		data, subject = TaskData{UserID: r.UserID, Task: api.TaskFromRow(t, tags)}, "tasks/"+strconv.Itoa(int(t.ID))
	case "tag":
		var t db.Tag
		if err := json.Unmarshal(r.Row, &t); err != nil {
			return Message{}, fmt.Errorf("event %s: the tag row: %w", r.ID, err)
		}
		data, subject = TagData{UserID: r.UserID, Tag: api.TagFromRow(t)}, "tags/"+strconv.Itoa(int(t.ID))
	case "reminder":
		var d ReminderData
		if err := json.Unmarshal(r.Row, &d); err != nil {
			return Message{}, fmt.Errorf("event %s: the reminder: %w", r.ID, err)
		}
		d.UserID = r.UserID
		d.FiresAt = d.FiresAt.UTC()
		if d.DueDate != nil {
			u := d.DueDate.UTC()
			d.DueDate = &u
		}
		data, subject = d, "tasks/"+strconv.Itoa(int(d.TaskID))
	default:
		return Message{}, fmt.Errorf("event %s: unknown type %q", r.ID, r.Type)
	}
	body, err := cloudevent.Encode(r.ID.String(), r.Type, subject, r.CreatedAt, data)
	if err != nil {
		return Message{}, fmt.Errorf("event %s: %w", r.ID, err)
	}
	return Message{Seq: r.Seq, ID: r.ID.String(), UserID: r.UserID, Name: r.Type, Body: body}, nil
}
