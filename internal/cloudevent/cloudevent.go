// Package cloudevent writes the service's events as CloudEvents 1.0 JSON
// objects (asyncapi/events.yaml): the envelope is eight fixed fields, so it
// is written here rather than through a CloudEvents SDK.
package cloudevent

import (
	"encoding/json"
	"time"
)

// Source is every event's source attribute.
const Source = "/todo-api"

// Type is the CloudEvents type of the event name, e.g. "task.completed" ->
// "dev.todo.task.completed.v1".
func Type(name string) string { return "dev.todo." + name + ".v1" }

// Event is one event in its JSON form.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// Encode returns the JSON of the event id named name (e.g. "task.created")
// about subject (e.g. "tasks/42"), at t, carrying data.
func Encode(id, name, subject string, t time.Time, data any) ([]byte, error) {
	d, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Event{
		SpecVersion: "1.0", ID: id, Source: Source, Type: Type(name), Subject: subject,
		Time: t.UTC(), DataContentType: "application/json", Data: d,
	})
}
