package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/internal/testdb"
)

// TestListStatementsArePlannedEachTime: the list and count statements go
// unnamed, so PostgreSQL plans them for the values bound every time; the
// others are prepared once per connection and may keep their plan, and so
// are the list statements through KeepingPlans. Seen in the connection's
// pg_prepared_statements (one connection).
func TestListStatementsArePlannedEachTime(t *testing.T) {
	t.Parallel()
	if testdb.ThroughPooler() {
		t.Skip("through a transaction pooler every statement goes unnamed (make test runs this directly)")
	}
	ctx := context.Background()
	pool := testdb.NewWithConfig(t, func(c *pgxpool.Config) { c.MaxConns = 1 })
	database, err := store.NewDB(pool, 5*time.Second)
	require.NoError(t, err)
	q := db.New(database)
	var uid uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('plans@example.com', 'x') RETURNING id`).Scan(&uid))
	kept := db.New(database.KeepingPlans())
	pattern := "%x%"
	for range 7 {
		_, err := kept.ListTasksDueAsc(ctx, db.ListTasksDueAscParams{UserID: uid, PageLimit: 20})
		require.NoError(t, err)
		_, err = q.ListByStatusDueAsc(ctx, db.ListByStatusDueAscParams{UserID: uid, PageLimit: 20})
		require.NoError(t, err)
		_, err = q.ListTasksCreatedDesc(ctx, db.ListTasksCreatedDescParams{UserID: uid, Pattern: &pattern, PageLimit: 20})
		require.NoError(t, err)
		_, err = q.CountTasks(ctx, db.CountTasksParams{UserID: uid, Pattern: &pattern})
		require.NoError(t, err)
		_, err = q.CountSearch(ctx, db.CountSearchParams{UserID: uid, Pattern: pattern})
		require.NoError(t, err)
		_, err = q.GetTask(ctx, db.GetTaskParams{ID: 1, UserID: uid})
		require.Error(t, err) // no such task; prepared all the same
	}
	prepared := func(name string) bool {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE $1`, "-- name: "+name+" %").Scan(&n))
		return n > 0
	}
	assert.False(t, prepared("ListTasksCreatedDesc"), "sent unnamed")
	assert.False(t, prepared("CountTasks"), "sent unnamed")
	assert.False(t, prepared("CountSearch"), "sent unnamed")
	assert.True(t, prepared("GetTask"), "prepared once, its plan may be kept")
	assert.True(t, prepared("ListTasksDueAsc"), "prepared through KeepingPlans")
	assert.True(t, prepared("ListByStatusDueAsc"), "prepared: its filters need no plan of their own")
}
