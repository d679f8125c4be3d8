package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/testdb"
)

// TestCounterTriggersDoNotDeadlock: two tasks flipping between done and not
// done in opposite directions, at once, move two counter rows each in
// opposite orders unless the trigger orders its locks. Unordered, this
// deadlocked several times a second; the counts must also end exact.
func TestCounterTriggersDoNotDeadlock(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	var uid string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('flip@example.com', 'x') RETURNING id`).Scan(&uid))
	var a, b int
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO tasks (title, completed, user_id) VALUES ('a', false, $1) RETURNING id`, uid).Scan(&a))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO tasks (title, completed, user_id) VALUES ('b', true, $1) RETURNING id`, uid).Scan(&b))

	const flips = 300
	var wg sync.WaitGroup
	errs := make(chan error, 2*flips)
	for _, id := range []int{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range flips {
				if _, err := pool.Exec(ctx, `UPDATE tasks SET completed = NOT completed WHERE id = $1`, id); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var done, open int
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(sum(n) FILTER (WHERE completed), 0), coalesce(sum(n) FILTER (WHERE NOT completed), 0)
		FROM task_counts WHERE user_id = $1`, uid).Scan(&done, &open))
	assert.Equal(t, 1, done, "an even number of flips leaves b done")
	assert.Equal(t, 1, open)
}

// TestTagCountsFollowLinks: the per-tag counts follow links added one by one
// or many at once, and removed by unlinking, by deleting the task, or in bulk.
func TestTagCountsFollowLinks(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	var uid string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email, password_hash) VALUES ('tc@example.com', 'x') RETURNING id`).Scan(&uid))
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(`INSERT INTO tags (name, user_id) SELECT 't' || g, $1 FROM generate_series(1, 3) g`, uid)
	exec(`INSERT INTO tasks (title, user_id) SELECT 'task ' || g, $1 FROM generate_series(1, 10) g`, uid)
	exec(`INSERT INTO task_tag_link (user_id, task_id, tag_id) SELECT t.user_id, t.id, g.id FROM tasks t, tags g WHERE g.name <> 't3'`) // 20 links at once
	exec(`INSERT INTO task_tag_link (user_id, task_id, tag_id) SELECT g.user_id, min(t.id), g.id FROM tasks t, tags g WHERE g.name = 't3' GROUP BY g.id`)
	exec(`DELETE FROM task_tag_link WHERE tag_id = (SELECT id FROM tags WHERE name = 't2') AND task_id IN (SELECT id FROM tasks ORDER BY id LIMIT 4)`)
	exec(`DELETE FROM tasks WHERE id = (SELECT max(id) FROM tasks)`)
	rows, err := pool.Query(ctx, `SELECT g.name, g.task_count, (SELECT count(*) FROM task_tag_link l WHERE l.tag_id = g.id) FROM tags g ORDER BY g.name`)
	require.NoError(t, err)
	defer rows.Close()
	want := map[string]int{"t1": 9, "t2": 5, "t3": 1}
	for rows.Next() {
		var name string
		var kept, actual int
		require.NoError(t, rows.Scan(&name, &kept, &actual))
		assert.Equal(t, actual, kept, name)
		assert.Equal(t, want[name], kept, name)
	}
	require.NoError(t, rows.Err())
}
