package webhook

import (
	"encoding/json"

	"github.com/riverqueue/river"
)

// Queue is the River queue of the deliveries.
const Queue = "webhooks"

// MaxAttempts bounds a delivery's attempts; Backoff's delays make 25 of them
// span MaxAge, after which the worker stops retrying anyway.
const MaxAttempts = 30

// DeliveryArgs is the River job of one event to one webhook (its worker is
// internal/events'). Body is the CloudEvent, sent as it is at every attempt.
type DeliveryArgs struct {
	WebhookID int32           `json:"webhook_id"`
	EventID   string          `json:"event_id"`
	Name      string          `json:"name"`
	Body      json.RawMessage `json:"body"`
}

// Kind names the job in River's table.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// InsertOpts puts the job in the webhooks' queue.
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}
}
