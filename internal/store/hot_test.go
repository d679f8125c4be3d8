package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/testdb"
)

// TestWritesLeaveUnchangedIndexesAlone: a refresh rotates its session row without
// writing any index (db/migrations/000009_session_rotation_hot), and a PATCH
// of a task that leaves its text alone writes no search index entry
// (000008_task_search_table).
func TestWritesLeaveUnchangedIndexesAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	conn, err := pgx.Connect(ctx, pool.Config().ConnConfig.ConnString())
	require.NoError(t, err)
	defer conn.Close(ctx)
	q := db.New(conn)

	var uid uuid.UUID
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('hot@example.com', 'x') RETURNING id`).Scan(&uid))
	sid, jti, now := uuid.New(), uuid.New(), time.Now()
	n, err := q.CreateSession(ctx, db.CreateSessionParams{ID: sid, UserID: uid, CurrentJti: jti,
		ExpiresAt: now.Add(time.Hour), Now: now, PasswordHash: "x"})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	const rotations = 50
	for i := range rotations {
		next := uuid.New()
		_, err := q.RotateSession(ctx, db.RotateSessionParams{NewJti: next, Now: now, ExpiresAt: now.Add(time.Hour + time.Duration(i)*time.Second), ID: sid, Jti: jti})
		require.NoError(t, err)
		jti = next
	}
	_, err = conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
	require.NoError(t, err)
	var updates, hot int
	testdb.Poll(t, func() bool {
		require.NoError(t, conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'refresh_sessions'`).Scan(&updates, &hot))
		return updates >= rotations
	}, "the statistics never showed the rotations")
	assert.GreaterOrEqual(t, hot, rotations-2, "rotations are HOT updates (%d of %d)", hot, updates)

	var task int
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO tasks (title, description, user_id) VALUES ('a title with words', 'and a description', $1) RETURNING id`, uid).Scan(&task))
	var body string
	for i := range 200 {
		_, err := conn.Exec(ctx, `UPDATE tasks SET completed = $2, version = version + 1 WHERE id = $1`, task, i%2 == 0)
		require.NoError(t, err)
	}
	_, err = conn.Exec(ctx, `UPDATE tasks SET title = 'a new title', version = version + 1 WHERE id = $1`, task)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
	require.NoError(t, err)
	var inserts, textUpdates int
	testdb.Poll(t, func() bool {
		require.NoError(t, conn.QueryRow(ctx, `SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'task_search'`).Scan(&inserts, &textUpdates))
		return inserts >= 1
	}, "the statistics never showed the insert")
	assert.Equal(t, 1, textUpdates, "200 writes that left the text alone did not touch task_search; the title's change did")
	require.NoError(t, conn.QueryRow(ctx, `SELECT body FROM task_search WHERE task_id = $1`, task).Scan(&body))
	assert.Equal(t, "a new title\nand a description", body)
}
