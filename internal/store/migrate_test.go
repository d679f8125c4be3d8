package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/internal/testdb"
)

var wantTables = []string{"changes", "event_settings", "idempotency_keys", "outbox", "outbox_dead", "rate_limits", "refresh_sessions",
	"session_revocations", "tags", "task_counts", "task_search", "task_tag_link", "tasks", "users", "webhook_deliveries", "webhooks"}

var wantIndexes = []string{
	"idx_tags_user_id", "idx_task_tag_link_tag", "idx_task_tag_link_task", "idx_tasks_user_completed",
	"idx_tasks_user_due_date", "idx_tasks_user_id", "idx_tasks_user_priority", "idx_task_search_body",
}

func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	url := testdb.NewEmptyDatabase(t)
	m, err := store.NewMigrator(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	latest, err := store.LatestVersion()
	require.NoError(t, err)

	require.NoError(t, m.Up())
	assertSchema(t, url, true)
	v, dirty, err := m.Version()
	require.NoError(t, err)
	assert.Equal(t, latest, v)
	assert.False(t, dirty)

	require.NoError(t, m.Down(0))
	assertSchema(t, url, false)
	v, _, err = m.Version()
	require.NoError(t, err)
	assert.Equal(t, uint(0), v)

	require.NoError(t, m.Up())
	assertSchema(t, url, true)
	require.NoError(t, m.Up(), "up with nothing to do is not an error")
}

func assertSchema(t *testing.T, url string, present bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tables := names(t, conn, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
		AND tablename NOT LIKE 'river\_%' ORDER BY 1`)
	// River's own tables come with Up and stay after Down (internal/store/migrate.go)
	assert.Contains(t, names(t, conn, `SELECT tablename FROM pg_tables WHERE tablename LIKE 'river\_%'`), "river_job")
	indexes := names(t, conn, `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND (indexname LIKE 'idx\_task%' OR indexname LIKE 'idx\_tag%') ORDER BY 1`)
	if !present {
		assert.Empty(t, tables)
		assert.Empty(t, indexes)
		return
	}
	assert.Equal(t, wantTables, tables)
	for _, ix := range wantIndexes {
		assert.Contains(t, indexes, ix)
	}
	// The two-column indexes have the columns db/migrations/000001_init.up.sql gives them, in order.
	defs := map[string]string{}
	rows, err := conn.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`)
	require.NoError(t, err)
	for rows.Next() {
		var n, d string
		require.NoError(t, rows.Scan(&n, &d))
		defs[n] = d
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, defs["idx_tasks_user_completed"], "(user_id, completed")
	assert.Contains(t, defs["idx_tasks_user_priority"], "(user_id, priority")
	assert.Contains(t, defs["idx_tasks_user_due_date"], "(user_id, due_date")
}

// TestTaskSearchMigration: 000008 copies the text of the tasks there are into
// task_search, and its down file gives the searchable columns back, filled.
func TestTaskSearchMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.NewEmptyDatabase(t)
	m, err := store.NewMigrator(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	require.NoError(t, m.To(7))
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var uid string
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('s@example.com', 'x') RETURNING id`).Scan(&uid))
	_, err = conn.Exec(ctx, `INSERT INTO tasks (title, description, user_id) VALUES ('Buy MILK', NULL, $1), ('Call', 'Ask about the Invoice', $1)`, uid)
	require.NoError(t, err)

	require.NoError(t, m.To(8))
	bodies := names(t, conn, `SELECT body FROM task_search ORDER BY task_id`)
	assert.Equal(t, []string{"buy milk\n", "call\nask about the invoice"}, bodies)
	_, err = conn.Exec(ctx, `UPDATE tasks SET description = 'Pay the INVOICE' WHERE title = 'Buy MILK'`)
	require.NoError(t, err)
	assert.Equal(t, []string{"buy milk\npay the invoice", "call\nask about the invoice"}, names(t, conn, `SELECT body FROM task_search ORDER BY task_id`))

	require.NoError(t, m.To(7))
	assert.Equal(t, []string{"buy milk|pay the invoice", "call|ask about the invoice"},
		names(t, conn, `SELECT title_search || '|' || description_search FROM tasks ORDER BY id`))
}

// TestSessionRotationMigration: 000009 drops the expiry index of
// refresh_sessions and leaves a tenth of each page free; its down file
// restores both, as schema 8 had them.
func TestSessionRotationMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.NewEmptyDatabase(t)
	m, err := store.NewMigrator(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	schema := func() []string {
		return names(t, conn, `SELECT 'index ' || indexname FROM pg_indexes WHERE tablename = 'refresh_sessions'
			UNION ALL SELECT 'options ' || coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'refresh_sessions'
			ORDER BY 1`)
	}

	require.NoError(t, m.To(8))
	before := schema()
	assert.Contains(t, before, "index idx_refresh_sessions_expires_at")
	require.NoError(t, m.To(9))
	after := schema()
	assert.NotContains(t, after, "index idx_refresh_sessions_expires_at")
	assert.Contains(t, after, "options fillfactor=90")
	require.NoError(t, m.To(8))
	assert.Equal(t, before, schema())
}

// TestRevocationsKeptMigration: 000010 gives each revocation a keep_until
// (a day after it, for the rows it finds; the session's last access token
// after it), and its down file restores schema 9's columns.
func TestRevocationsKeptMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testdb.NewEmptyDatabase(t)
	m, err := store.NewMigrator(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	columns := func() []string {
		return names(t, conn, `SELECT table_name || '.' || column_name FROM information_schema.columns
			WHERE table_name IN ('refresh_sessions', 'session_revocations') ORDER BY 1`)
	}

	require.NoError(t, m.To(9))
	before := columns()
	_, err = conn.Exec(ctx, `
		INSERT INTO users (id, email, password_hash) VALUES ('00000000-0000-0000-0000-000000000001', 'kept@example.com', 'x');
		INSERT INTO refresh_sessions (id, user_id, current_jti, expires_at)
		VALUES ('00000000-0000-0000-0000-0000000000aa', '00000000-0000-0000-0000-000000000001', gen_random_uuid(), '2031-01-01T00:00:00Z'),
		       ('00000000-0000-0000-0000-0000000000bb', '00000000-0000-0000-0000-000000000001', gen_random_uuid(), '2031-01-01T00:00:00Z');
		UPDATE refresh_sessions SET revoked_at = now() WHERE id = '00000000-0000-0000-0000-0000000000aa';
		UPDATE session_revocations SET revoked_at = '2030-01-01T00:00:00Z';`)
	require.NoError(t, err)
	require.NoError(t, m.To(10))
	var kept time.Time
	require.NoError(t, conn.QueryRow(ctx, `SELECT keep_until FROM session_revocations WHERE session_id = '00000000-0000-0000-0000-0000000000aa'`).Scan(&kept))
	assert.True(t, kept.Equal(time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)), "a day after the revocation: %s", kept)
	_, err = conn.Exec(ctx, `UPDATE refresh_sessions SET revoked_at = now() WHERE id = '00000000-0000-0000-0000-0000000000bb'`)
	require.NoError(t, err)
	require.NoError(t, conn.QueryRow(ctx, `SELECT keep_until FROM session_revocations WHERE session_id = '00000000-0000-0000-0000-0000000000bb'`).Scan(&kept))
	assert.True(t, kept.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)), "no access token recorded: the refresh expiry stands in: %s", kept)
	require.NoError(t, m.To(9))
	assert.Equal(t, before, columns())
}

func names(t *testing.T, conn *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestSchemaConstraints(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	var uid string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('c@example.com', 'x') RETURNING id`).Scan(&uid))
	_, err := pool.Exec(ctx, `INSERT INTO users (email, password_hash) VALUES ('C@example.com', 'x')`)
	assert.Error(t, err, "emails are stored normalised")
	_, err = pool.Exec(ctx, `INSERT INTO tasks (title, priority, user_id) VALUES ('t', 'urgent', $1)`, uid)
	var pgErr *pgconn.PgError
	if assert.ErrorAs(t, err, &pgErr, "priority is one of low, medium, high") {
		assert.Equal(t, "22P02", pgErr.Code, "not a value of the task_priority enum")
	}
	var taskID, tagID int
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO tasks (title, user_id) VALUES ('t', $1) RETURNING id`, uid).Scan(&taskID))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO tags (name, user_id) VALUES ('home', $1) RETURNING id`, uid).Scan(&tagID))
	_, err = pool.Exec(ctx, `INSERT INTO tags (name, user_id) VALUES ('home', $1)`, uid)
	assert.Error(t, err)
	assert.True(t, store.UniqueViolation(err, "tags_name_user_id_key"))
	_, err = pool.Exec(ctx, `INSERT INTO task_tag_link (user_id, task_id, tag_id) VALUES ($1, $2, $3)`, uid, taskID, tagID)
	require.NoError(t, err)
	// A link's user is its task's and its tag's: it cannot join two users' rows.
	var other, otherTag string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('d@example.com', 'x') RETURNING id`).Scan(&other))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO tags (name, user_id) VALUES ('theirs', $1) RETURNING id`, other).Scan(&otherTag))
	for _, owner := range []string{uid, other} {
		_, err = pool.Exec(ctx, `INSERT INTO task_tag_link (user_id, task_id, tag_id) VALUES ($1, $2, $3)`, owner, taskID, otherTag)
		var pgErr *pgconn.PgError
		if assert.ErrorAs(t, err, &pgErr, "owner %s", owner) {
			assert.Equal(t, "23503", pgErr.Code)
		}
	}
	var completed bool
	var priority string
	require.NoError(t, pool.QueryRow(ctx, `SELECT completed, priority FROM tasks WHERE id = $1`, taskID).Scan(&completed, &priority))
	assert.False(t, completed)
	assert.Equal(t, "medium", priority)
	// Deleting the user cascades to everything it owns.
	_, err = pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, uid)
	require.NoError(t, err)
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tasks WHERE user_id = $1) + (SELECT count(*) FROM tags WHERE user_id = $1) + (SELECT count(*) FROM task_tag_link)`, uid).Scan(&left))
	assert.Zero(t, left)
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	require.Error(t, err)
	assert.True(t, store.Unavailable(err), "connection refused: %v", err)
	pool := testdb.New(t)
	_, err = pool.Exec(ctx, "SELECT * FROM no_such_table")
	require.Error(t, err)
	assert.False(t, store.Unavailable(err), "a bad query is a bug, not an outage")
}

func TestViolationsAreTold(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO users (email, password_hash) VALUES ('Upper@example.com', 'x')`)
	assert.True(t, store.CheckViolation(err, "users_email_normalised"), "%v", err)
	assert.False(t, store.UniqueViolation(err, "users_email_normalised"))
	_, err = pool.Exec(ctx, `INSERT INTO users (email, password_hash) VALUES ('u@example.com', 'x'), ('u@example.com', 'y')`)
	assert.True(t, store.UniqueViolation(err, "users_email_key"), "%v", err)
}
