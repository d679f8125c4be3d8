package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/todoapp/todo-api/internal/reminders"
)

// reminderScale: 100,000 reminders due in the same minute (1,000 users of
// 100 tasks, one reminder each), fired by two replicas; it reports how late
// they fired and checks each fired exactly once, within 60 s of its time.
// The tasks and their jobs are written directly (SQL and River's
// InsertMany), as the writes would, to keep the seeding short.
func reminderScale(o options) error {
	ctx := context.Background()
	d, err := newDeployment(ctx, o, "scale", false)
	if err != nil {
		return err
	}
	// the service's defaults (the scenarios' 5 s statement timeout cut River's
	// scheduling of 10,000 jobs at a time short)
	d.env = append(d.env, "DB_STATEMENT_TIMEOUT=10s", "LOG_LEVEL=warn")
	defer d.stop()
	pool, err := pgxpool.New(ctx, d.dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	const users, perUser = 1000, 100
	total := users * perUser
	start := time.Now().Add(40 * time.Second).Truncate(time.Second) // the minute begins
	seeded := time.Now()
	if _, err := pool.Exec(ctx, `INSERT INTO users (email, password_hash)
		SELECT 'scale' || i || '@example.com', 'x' FROM generate_series(1, $1) AS i`, users); err != nil {
		return err
	}
	// reminder i fires at start + i*60s/total: spread over the minute
	if _, err := pool.Exec(ctx, `
		INSERT INTO tasks (title, user_id, created_at, updated_at, reminders)
		SELECT 'task ' || n, u.id, now(), now(),
		       jsonb_build_array(jsonb_build_object('id', nextval('reminder_ids'), 'before', null,
		           'at', to_char(timezone('UTC', $1::timestamptz + (n * 60.0 / $2) * interval '1 second'), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		           'fired_at', null, 'fired_for', null))
		FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM users) AS u,
		     LATERAL (SELECT (u.k - 1) * $3 + g - 1 AS n FROM generate_series(1, $3) AS g) AS t`, start, total, perUser); err != nil {
		return fmt.Errorf("seed tasks: %w", err)
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return err
	}
	rows, err := pool.Query(ctx, `SELECT id, (reminders->0->>'id')::bigint, (reminders->0->>'at')::timestamptz FROM tasks ORDER BY id`)
	if err != nil {
		return err
	}
	type job struct {
		task int32
		id   int64
		at   time.Time
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job, error) {
		var j job
		return j, r.Scan(&j.task, &j.id, &j.at)
	})
	if err != nil {
		return err
	}
	for i := 0; i < len(all); i += 5000 {
		batch := make([]river.InsertManyParams, 0, 5000)
		for _, j := range all[i:min(i+5000, len(all))] {
			batch = append(batch, river.InsertManyParams{Args: reminders.FireArgs{TaskID: j.task, ReminderID: j.id, FiresAt: j.at.UTC()},
				InsertOpts: &river.InsertOpts{ScheduledAt: j.at}})
		}
		if _, err := client.InsertMany(ctx, batch); err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
	}
	fmt.Printf("seeded %d tasks with a reminder each and their jobs in %s; they fire from %s over one minute\n",
		total, time.Since(seeded).Round(time.Second), start.Format(time.TimeOnly))
	if time.Now().After(start) {
		return errors.New("seeding took longer than the lead time")
	}
	for _, name := range []string{"scale-a", "scale-b"} {
		if _, err := d.start(name); err != nil {
			return err
		}
	}
	end := start.Add(60 * time.Second)
	var fired int
	_ = waitFor(time.Until(end.Add(120*time.Second)), func() bool {
		return pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE reminders->0->>'fired_at' IS NOT NULL`).Scan(&fired) == nil && fired == total
	})
	var p50, p99, worst float64
	var within, twice int
	if err := pool.QueryRow(ctx, `
		WITH l AS (SELECT extract(epoch FROM (reminders->0->>'fired_at')::timestamptz - (reminders->0->>'at')::timestamptz) AS s, version
		           FROM tasks WHERE reminders->0->>'fired_at' IS NOT NULL)
		SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY s), 0), coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY s), 0),
		       coalesce(max(s), 0), count(*) FILTER (WHERE s <= 60), count(*) FILTER (WHERE version <> 2) FROM l`).
		Scan(&p50, &p99, &worst, &within, &twice); err != nil {
		return err
	}
	var busiest float64
	_ = pool.QueryRow(ctx, `SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM tasks
		WHERE reminders->0->>'fired_at' IS NOT NULL GROUP BY date_trunc('second', (reminders->0->>'fired_at')::timestamptz)) AS x`).Scan(&busiest)
	fmt.Printf("fired %d of %d; within 60 s of their time: %d; lateness p50 %.2fs p99 %.2fs max %.2fs; busiest second %.0f firings; fired more than once (task version not 2): %d\n",
		fired, total, within, p50, p99, worst, busiest, twice)
	if fired != total || within != total || twice != 0 {
		return errors.New("not every reminder fired exactly once within 60 s of its time")
	}
	fmt.Println("PASS")
	return nil
}
