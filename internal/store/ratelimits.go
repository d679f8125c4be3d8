package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/todoapp/todo-api/gen/db"
)

// RateCounts counts rate-limited requests in PostgreSQL (the UNLOGGED table
// rate_limits), so every server process of a deployment counts into the
// same windows: one statement per limited request.
type RateCounts struct {
	q *db.Queries
}

// NewRateCounts returns the shared counts of dbtx's database.
func NewRateCounts(dbtx *DB) *RateCounts { return &RateCounts{q: db.New(dbtx)} }

// Count counts one request of key at now in windows of window, and returns
// the requests counted in its window so far and when that window started.
func (r *RateCounts) Count(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	row, err := r.q.CountRequest(ctx, db.CountRequestParams{Key: key, Now: now, EndedBefore: now.Add(-window)})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count request: %w", err)
	}
	return int(row.Count), row.WindowStart, nil
}

// PruneEvery deletes windows that have ended (of the longest window in
// use) every interval until ctx ends, so the table holds about one window's
// worth of addresses.
func (r *RateCounts) PruneEvery(ctx context.Context, logger *slog.Logger, window, interval time.Duration, now func() time.Time) {
	Every(ctx, logger, interval, "rate-limit windows", func(ctx context.Context) (int64, error) {
		return r.q.DeleteEndedRateWindows(ctx, now().Add(-window))
	})
}

// Every runs prune every interval until ctx ends, logging what it deleted
// (debug) or why it failed (warning); what names the rows.
func Every(ctx context.Context, logger *slog.Logger, interval time.Duration, what string, prune func(context.Context) (int64, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := prune(ctx)
			if err != nil {
				logger.Warn("pruning "+what+" failed", "error", err)
				continue
			}
			logger.Debug("pruned "+what, "deleted", n)
		}
	}
}
