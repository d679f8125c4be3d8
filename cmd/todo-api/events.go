package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"

	"github.com/todoapp/todo-api/internal/config"
	"github.com/todoapp/todo-api/internal/events"
	"github.com/todoapp/todo-api/internal/jobs"
	"github.com/todoapp/todo-api/internal/metrics"
	"github.com/todoapp/todo-api/internal/reminders"
	"github.com/todoapp/todo-api/internal/webhook"
)

// retention is EVENTS_RETENTION's policy.
var retention = map[string]jetstream.RetentionPolicy{
	"limits": jetstream.LimitsPolicy, "interest": jetstream.InterestPolicy, "workqueue": jetstream.WorkQueuePolicy,
}

// background is what the service does besides answering requests: the
// event relay, and River's jobs (webhook deliveries, reminders).
type background struct {
	hooks     *events.Webhooks
	reminders *reminders.Reminders
	river     *river.Client[pgx.Tx]
}

// newBackground makes the webhooks' deliveries and the reminders, and the
// River client (internal/jobs) that works both, of cfg.
func newBackground(cfg config.Config, pool *pgxpool.Pool, logger *slog.Logger, m *metrics.Metrics) (*background, error) {
	b := &background{
		hooks: events.NewWebhooks(pool, events.WebhookOptions{
			Client:  webhook.NewClient(webhook.Options{AllowPrivate: cfg.WebhookAllowPrivate}),
			Logger:  logger,
			Metrics: m,
		}),
		reminders: reminders.New(pool, reminders.Options{
			MaxLateness: cfg.ReminderMaxLateness,
			Metrics:     m, Logger: logger,
		}),
	}
	workers := river.NewWorkers()
	if err := b.hooks.AddWorkers(workers); err != nil {
		return nil, err
	}
	if err := b.reminders.AddWorkers(workers); err != nil {
		return nil, err
	}
	client, err := jobs.NewClient(pool, workers, jobs.Options{
		PollOnly: cfg.TransactionPooler, RescueAfter: cfg.JobRescueAfter, Logger: logger,
		Queues: map[string]int{webhook.Queue: 20, reminders.Queue: 100},
	})
	if err != nil {
		return nil, err
	}
	b.river, b.hooks.River, b.reminders.River = client, client, client
	m.ObserveJobs(jobs.Waiting(pool, webhook.Queue, reminders.Queue))
	return b, nil
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

// runRiver starts the River client, trying again every retry
// while it cannot (the database down, or its schema behind: River's tables
// come with `todo-api migrate up`), so the server serves meanwhile. stop
// stops it within sctx: the deliveries in flight finish (or are rescued
// later by another replica).
func runRiver(client *river.Client[pgx.Tx], logger *slog.Logger, retry time.Duration) (stop func(sctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background()) // River's lifetime: cancelled after its Stop
	done := make(chan bool, 1)                              // whether it started
	giveUp := make(chan struct{})
	go func() {
		for {
			err := client.Start(ctx)
			if err == nil {
				done <- true
				return
			}
			logger.Warn("the job queue (River: webhooks, reminders) cannot start yet; retrying", "err", err, "retry", retry.String())
			select {
			case <-giveUp:
				done <- false
				return
			case <-time.After(retry):
			}
		}
	}()
	return func(sctx context.Context) {
		defer cancel()
		close(giveUp)
		if <-done {
			_ = client.Stop(sctx)
		}
	}
}
