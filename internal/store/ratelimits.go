package store

import (
	"context"
	"fmt"
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
