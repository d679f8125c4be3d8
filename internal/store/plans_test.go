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

// TestListStatementsArePlannedEachTime: through PlannedEachRun statements
// go unnamed, so PostgreSQL plans them for the values bound every time;
// every statement is otherwise prepared once per connection and may keep
// its plan, whatever its name. Seen in the connection's
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
	q, perRun := db.New(database), db.New(database.PlannedEachRun())
	var uid uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('plans@example.com', 'x') RETURNING id`).Scan(&uid))
	pattern := "%x%"
	for range 7 {
		_, err := q.ListTasksDueAsc(ctx, db.ListTasksDueAscParams{UserID: uid, PageLimit: 20})
		require.NoError(t, err)
		_, err = q.ListByStatusDueAsc(ctx, db.ListByStatusDueAscParams{UserID: uid, PageLimit: 20})
		require.NoError(t, err)
		_, err = perRun.ListTasksCreatedDesc(ctx, db.ListTasksCreatedDescParams{UserID: uid, Pattern: &pattern, PageLimit: 20})
		require.NoError(t, err)
		_, err = perRun.CountTasks(ctx, db.CountTasksParams{UserID: uid, Pattern: &pattern})
		require.NoError(t, err)
		_, err = perRun.CountSearch(ctx, db.CountSearchParams{UserID: uid, Pattern: pattern})
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
	assert.True(t, prepared("ListTasksDueAsc"), "prepared: the default")
	assert.True(t, prepared("ListByStatusDueAsc"), "prepared: its filters need no plan of their own")
}
