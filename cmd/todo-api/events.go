package main

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/todoapp/todo-api/internal/config"
	"github.com/todoapp/todo-api/internal/events"
	"github.com/todoapp/todo-api/internal/metrics"
	"github.com/todoapp/todo-api/internal/webhook"
)

// retention is EVENTS_RETENTION's policy.
var retention = map[string]jetstream.RetentionPolicy{
	"limits": jetstream.LimitsPolicy, "interest": jetstream.InterestPolicy, "workqueue": jetstream.WorkQueuePolicy,
}

// newWebhooks is the webhooks' deliveries (River on pool) of cfg.
func newWebhooks(cfg config.Config, pool *pgxpool.Pool, logger *slog.Logger, m *metrics.Metrics) (*events.Webhooks, error) {
	return events.NewWebhooks(pool, events.WebhookOptions{
		Client:   webhook.NewClient(webhook.Options{AllowPrivate: cfg.WebhookAllowPrivate}),
		PollOnly: cfg.TransactionPooler,
		Logger:   logger,
		Metrics:  m,
	})
}

// newRelay is the event relay of cfg (internal/events); every replica runs
// one and the database's advisory lock lets one publish at a time.
func newRelay(cfg config.Config, hooks *events.Webhooks, logger *slog.Logger, m *metrics.Metrics) *events.Relay {
	return events.NewRelay(events.Config{
		Fanout:      hooks.Fanout,
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
