// Package reminders fires the tasks' reminders (openapi/tasks-api.yaml:
// Task.reminders) with River: the writes that set or move a reminder insert
// its job in their transaction (Schedule); the job, whose arguments are the
// reminder and its time, runs at that time on any replica and fires it in one
// statement (db/queries/tasks.sql: FireReminder) only if the task exists,
// is not completed and the reminder still fires at that time and has not
// fired for it, so a moved, removed or completed one does nothing, and a
// job run twice (River rescuing a dead replica's job) fires once.
package reminders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/api"
)

// Queue is the River queue of the reminders.
const Queue = "reminders"

// soon is how near a reminder's time must be for its job to be inserted
// available rather than scheduled: above River's scheduler's interval (5 s).
const soon = 6 * time.Second

// FireArgs is the job of one reminder at one time.
type FireArgs struct {
	TaskID     int32     `json:"task_id"`
	ReminderID int64     `json:"reminder_id"`
	FiresAt    time.Time `json:"fires_at"`
}

// Kind names the job in River's table.
func (FireArgs) Kind() string { return "reminder" }

// InsertOpts puts the job in the reminders' queue. Jobs are not unique in
// River's sense: a reminder's job inserted twice (a PUT that keeps it) fires
// it once all the same (FireReminder's checks), and River's uniqueness made
// its scheduler time out at 100,000 jobs due in a minute (docs/scaling.md).
func (FireArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 25}
}

// Observer counts the firings (internal/metrics).
type Observer interface {
	ReminderFired(late time.Duration)
	ReminderMissed() // more than MaxLateness late: marked, not delivered
}

// Options configure the reminders.
type Options struct {
	// MaxLateness: a reminder later than this (the service was down) is
	// marked fired without being delivered (REMINDER_MAX_LATENESS).
	MaxLateness time.Duration
	Now         func() time.Time
	Metrics     Observer
	Logger      *slog.Logger
}

// Reminders schedules and fires the reminders. River is the client of
// internal/jobs, set by the caller after AddWorkers.
type Reminders struct {
	River *river.Client[pgx.Tx]
	q     *db.Queries
	o     Options
}

// New returns the reminders on pool.
func New(pool *pgxpool.Pool, o Options) *Reminders {
	if o.MaxLateness <= 0 {
		o.MaxLateness = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reminders{q: db.New(pool), o: o}
}

// AddWorkers registers the firing worker.
func (r *Reminders) AddWorkers(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, &fireWorker{r: r})
}

// Schedule inserts in tx a job for each reminder of tasks not fired for its
// time (api.ReminderScheduler).
func (r *Reminders) Schedule(ctx context.Context, tx pgx.Tx, tasks ...db.Task) error {
	var jobs []river.InsertManyParams
	for _, t := range tasks {
		rs, err := api.StoredReminders(t)
		if err != nil {
			return err
		}
		for _, rem := range rs {
			if rem.FiresAt == nil || rem.Fired {
				continue
			}
			at := rem.FiresAt.UTC()
			opts := &river.InsertOpts{ScheduledAt: at}
			if time.Until(at) < soon {
				// River's scheduler makes scheduled jobs available every 5 s:
				// one due sooner is inserted available, and snoozes to its
				// time (Work), so it is not late by up to that interval
				opts = nil
			}
			jobs = append(jobs, river.InsertManyParams{
				Args: FireArgs{TaskID: t.ID, ReminderID: rem.ID, FiresAt: at}, InsertOpts: opts})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	if jobs, err := waitingOnly(ctx, tx, tasks, jobs); err != nil || len(jobs) == 0 {
		return err
	} else if _, err := r.River.InsertManyTx(ctx, tx, jobs); err != nil {
		return err
	}
	return nil
}

// waitingOnly drops from jobs those a job still waiting already covers (the
// same reminder and time): a write that keeps a reminder (a PUT, an
// autosave) adds no job. River's own unique jobs do this too, but made its
// scheduler time out with 100,000 due in a minute; River's index of the
// arguments finds a task's jobs.
func waitingOnly(ctx context.Context, tx pgx.Tx, tasks []db.Task, jobs []river.InsertManyParams) ([]river.InsertManyParams, error) {
	type key struct {
		task int32
		id   int64
		at   int64
	}
	waiting := map[key]bool{}
	for _, t := range tasks {
		rows, err := tx.Query(ctx, `SELECT args FROM river_job
			WHERE kind = 'reminder' AND state IN ('available', 'scheduled', 'retryable', 'running')
			  AND args @> jsonb_build_object('task_id', $1::integer)`, t.ID)
		if err != nil {
			return nil, fmt.Errorf("waiting reminder jobs: %w", err)
		}
		args, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return nil, fmt.Errorf("waiting reminder jobs: %w", err)
		}
		for _, b := range args {
			var a FireArgs
			if json.Unmarshal(b, &a) == nil {
				waiting[key{a.TaskID, a.ReminderID, a.FiresAt.UnixMicro()}] = true
			}
		}
	}
	out := jobs[:0]
	for _, j := range jobs {
		a := j.Args.(FireArgs)
		if !waiting[key{a.TaskID, a.ReminderID, a.FiresAt.UnixMicro()}] {
			out = append(out, j)
		}
	}
	return out, nil
}

type fireWorker struct {
	river.WorkerDefaults[FireArgs]
	r *Reminders
}

// Timeout bounds one firing: one statement.
func (w *fireWorker) Timeout(*river.Job[FireArgs]) time.Duration { return 10 * time.Second }

func (w *fireWorker) Work(ctx context.Context, job *river.Job[FireArgs]) error {
	a, o := job.Args, w.r.o
	now := o.Now()
	// late after its time, or after it was set when it was set for a time
	// already past: a reminder set into the past is not an outage's
	late := max(now.Sub(a.FiresAt), 0)
	if job.CreatedAt.After(a.FiresAt) {
		late = max(now.Sub(job.CreatedAt), 0)
	}
	deliver := late <= o.MaxLateness
	if wait := a.FiresAt.Sub(now); wait > 5*time.Millisecond {
		// inserted available (due within River's scheduler's interval) and
		// fetched early: back at its time
		return river.JobSnooze(wait)
	}
	_, err := w.r.q.FireReminder(ctx, db.FireReminderParams{TaskID: a.TaskID, ReminderID: a.ReminderID,
		FiresAt: a.FiresAt, Now: now, Deliver: deliver})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // deleted, completed, moved, removed, or fired already
	}
	if err != nil {
		return fmt.Errorf("fire reminder %d of task %d: %w", a.ReminderID, a.TaskID, err)
	}
	if !deliver {
		if o.Metrics != nil {
			o.Metrics.ReminderMissed()
		}
		o.Logger.Info("reminder too late: marked, not delivered", "task", a.TaskID, "reminder", a.ReminderID, "late", late.String())
		return nil
	}
	if o.Metrics != nil {
		o.Metrics.ReminderFired(late)
	}
	return nil
}
