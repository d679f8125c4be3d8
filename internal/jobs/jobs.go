// Package jobs makes the service's River client: the one job queue, in
// PostgreSQL, of webhook deliveries (internal/events) and reminders
// (internal/reminders). Every replica works it; River elects a leader among
// them for its maintenance (scheduling retries, rescuing the jobs of a dead
// replica, cleaning up).
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Options configure the client.
type Options struct {
	// PollOnly: River polls for jobs rather than listening, as it must
	// through a transaction pooler (DB_TRANSACTION_POOLER).
	PollOnly bool
	// RescueAfter: a job running this long is taken to belong to a replica
	// that died and is run again (River's default is an hour; it must
	// exceed the longest job's timeout).
	RescueAfter time.Duration
	// Queues are the queues worked, with their workers on this process.
	Queues map[string]int
	Logger *slog.Logger
}

// NewClient returns the River client of workers on pool (not started).
func NewClient(pool *pgxpool.Pool, workers *river.Workers, o Options) (*river.Client[pgx.Tx], error) {
	queues := map[string]river.QueueConfig{}
	for q, n := range o.Queues {
		queues[q] = river.QueueConfig{MaxWorkers: n}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		// the host and process: a job's attempted_by tells which replica ran it
		ID:       fmt.Sprintf("%s-%d-%d", host, os.Getpid(), time.Now().Unix()),
		Queues:   queues,
		Workers:  workers,
		PollOnly: o.PollOnly,
		// a reminder is due within half a second of its time (River's
		// scheduler makes jobs due in the next 5 s available ahead; the
		// workers then fetch at this interval)
		FetchPollInterval:    500 * time.Millisecond,
		RescueStuckJobsAfter: o.RescueAfter,
		// each worker sets its own timeout; River wants this one below the
		// rescue's
		JobTimeout: min(30*time.Second, max(o.RescueAfter, time.Second)),
		Logger:     o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("river: %w", err)
	}
	return c, nil
}

// Waiting reports River's jobs not yet done by queue (empty when the
// database does not answer within a second): the metrics' queue depth.
func Waiting(pool *pgxpool.Pool, queues ...string) func() map[string]int {
	return func() map[string]int {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		out := map[string]int{}
		for _, q := range queues {
			out[q] = 0
		}
		rows, err := pool.Query(ctx, `SELECT queue, count(*) FROM river_job
			WHERE state IN ('available', 'scheduled', 'retryable') GROUP BY queue`)
		if err != nil {
			return out
		}
		defer rows.Close()
		for rows.Next() {
			var q string
			var n int
			if rows.Scan(&q, &n) == nil {
				out[q] = n
			}
		}
		return out
	}
}
