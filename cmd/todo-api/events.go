package main

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/todoapp/todo-api/internal/config"
	"github.com/todoapp/todo-api/internal/events"
	"github.com/todoapp/todo-api/internal/metrics"
)

// retention is EVENTS_RETENTION's policy.
var retention = map[string]jetstream.RetentionPolicy{
	"limits": jetstream.LimitsPolicy, "interest": jetstream.InterestPolicy, "workqueue": jetstream.WorkQueuePolicy,
}

// newRelay is the event relay of cfg (internal/events); every replica runs
// one and the database's advisory lock lets one publish at a time.
func newRelay(cfg config.Config, logger *slog.Logger, m *metrics.Metrics) *events.Relay {
	return events.NewRelay(events.Config{
		DatabaseURL: cfg.DatabaseDirectURL,
		NATSURL:     cfg.NATSURL,
		Stream: events.Stream{
			Name: cfg.EventsStream, Subjects: cfg.EventsSubjectPrefix, Retention: retention[cfg.EventsRetention],
			MaxAge: cfg.EventsMaxAge, Duplicates: cfg.EventsDuplicates,
		},
		Logger:  logger,
		Metrics: m,
	})
}

// runRelay runs relay until ctx ends; wait returns when it has.
func runRelay(ctx context.Context, relay *events.Relay) (wait func()) {
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	return func() { <-done }
}
