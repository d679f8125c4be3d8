package store_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/internal/testdb"
)

// The scheduler runs each job at its own interval: ended rate-limit windows
// go once a window while the hourly jobs wait their hour.
func TestRetentionRunsEachJobAtItsInterval(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	database, err := store.NewDB(pool, 5*time.Second)
	require.NoError(t, err)
	r, err := store.NewRetention(database, store.RetentionOptions{ChangesKept: time.Hour, RateWindow: 100 * time.Millisecond}, time.Now)
	require.NoError(t, err)
	var whats []string
	for _, j := range r.Jobs() {
		whats = append(whats, j.What)
		assert.Positive(t, j.Every, j.What)
		assert.NotEmpty(t, j.Kept, j.What)
	}
	assert.Equal(t, []string{"refresh sessions and revocations", "idempotency keys", "change feed deletions", "rate-limit windows"}, whats)

	ctx := t.Context()
	_, err = pool.Exec(ctx, `INSERT INTO rate_limits (key, window_start, count) VALUES ('ended', now() - interval '1 minute', 3)`)
	require.NoError(t, err)
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(run, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
	defer func() { stop(); <-done }()
	testdb.Poll(t, func() bool {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM rate_limits`).Scan(&n))
		return n == 0
	}, "the ended window was never pruned")
}

func TestRetentionRefusesMissingAges(t *testing.T) {
	_, err := store.NewRetention(nil, store.RetentionOptions{ChangesKept: time.Hour, RateWindow: time.Minute}, time.Now)
	assert.Error(t, err)
}
