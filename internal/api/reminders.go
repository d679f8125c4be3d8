package api

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oapi-codegen/nullable"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
)

// Reminders (openapi/tasks-api.yaml: Task.reminders), stored with the task
// (db/migrations/000014_reminders) and fired by River's jobs
// (internal/reminders), which the writes that set or move a reminder insert
// in their own transaction (ReminderScheduler).

// maxReminders is a task's reminders at most; maxBefore the longest before.
const (
	maxReminders = 5
	maxBefore    = 30 * 24 * time.Hour
)

var (
	errInvalidReminder  = apperr.InvalidReminder.WithField("reminders")
	errTooManyReminders = apperr.TooManyReminders.WithField("reminders")
)

// ReminderScheduler inserts, in tx, the jobs that fire the reminders of
// tasks, written in tx: one per reminder not yet fired for its time (a job
// inserted again for an unchanged reminder fires nothing twice: the firing
// checks the reminder has not fired for that time).
type ReminderScheduler interface {
	Schedule(ctx context.Context, tx pgx.Tx, tasks ...db.Task) error
}

// SetReminders gives the handler the scheduler of reminders' jobs; without
// one (tests of other things) reminders are kept but never fire.
func (h *TasksHandler) SetReminders(s ReminderScheduler) { h.reminders = s }

// schedule inserts the jobs of tasks' reminders in tx.
func (h *TasksHandler) schedule(ctx context.Context, tx pgx.Tx, tasks ...db.Task) error {
	if h.reminders == nil {
		return nil
	}
	var with []db.Task
	for _, t := range tasks {
		// a completed task's too: reopened before their time, they fire
		// (and a job finds a task still completed at its time: nothing)
		if len(t.Reminders) > 2 { // not "[]"
			with = append(with, t)
		}
	}
	if len(with) == 0 {
		return nil
	}
	if err := h.reminders.Schedule(ctx, tx, with...); err != nil {
		return fmt.Errorf("schedule reminders: %w", err)
	}
	return nil
}

// storedReminder is a reminder as db/migrations/000014_reminders keeps it.
type storedReminder struct {
	ID       int64      `json:"id"`
	Before   *int64     `json:"before"` // seconds
	At       *time.Time `json:"at"`
	FiredAt  *time.Time `json:"fired_at"`
	FiredFor *time.Time `json:"fired_for"`
}

// reminderInput is what the writes store: {"before": seconds} or {"at"}.
type reminderInput struct {
	Before *int64     `json:"before,omitempty"`
	At     *time.Time `json:"at,omitempty"`
}

// fromReminders validates a task's reminders into the JSON the writes take
// ("[]" for none), and reports whether one is relative to the due date;
// equal reminders are kept once.
func fromReminders(in []tasksapi.ReminderInput) (_ []byte, relative bool, _ error) {
	if len(in) > maxReminders {
		return nil, false, errTooManyReminders
	}
	out := make([]reminderInput, 0, len(in))
	for _, r := range in {
		before, at := ptr(r.Before), ptr(r.At)
		var v reminderInput
		switch {
		case before != nil && at == nil:
			d, ok := parseDuration(*before)
			if !ok || d < 0 || d > maxBefore {
				return nil, false, errInvalidReminder
			}
			s := int64(d / time.Second)
			v.Before, relative = &s, true
		case at != nil && before == nil:
			t, err := time.Parse(time.RFC3339Nano, *at)
			if err != nil || t.UTC().Year() > 9999 || t.UTC().Year() < 1 {
				return nil, false, errInvalidReminder
			}
			t = t.UTC().Truncate(time.Microsecond) // PostgreSQL's precision
			v.At = &t
		default:
			return nil, false, errInvalidReminder
		}
		if !slices.ContainsFunc(out, func(o reminderInput) bool { return equalInput(o, v) }) {
			out = append(out, v)
		}
	}
	b, err := json.Marshal(out)
	return b, relative, err
}

func equalInput(a, b reminderInput) bool {
	switch {
	case a.Before != nil && b.Before != nil:
		return *a.Before == *b.Before
	case a.At != nil && b.At != nil:
		return a.At.Equal(*b.At)
	}
	return false
}

// isoDuration is the ISO 8601 durations a reminder takes: weeks, or days and
// a time (hours, minutes, seconds); no years or months, whose length varies.
var isoDuration = regexp.MustCompile(`^P(?:(\d{1,3})W|(?:(\d{1,3})D)?(?:T(?:(\d{1,4})H)?(?:(\d{1,6})M)?(?:(\d{1,8})S)?)?)$`)

// parseDuration reads an ISO 8601 duration (a day is 24 hours).
func parseDuration(s string) (time.Duration, bool) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, false
	}
	units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, u := range units {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * u
		}
	}
	return d, true
}

// formatDuration writes seconds as an ISO 8601 duration: days, hours,
// minutes, seconds (PT0S for zero).
func formatDuration(secs int64) string {
	if secs == 0 {
		return "PT0S"
	}
	d, rest := secs/86400, secs%86400
	h, m, s := rest/3600, rest%3600/60, rest%60
	var b strings.Builder
	b.WriteString("P")
	if d > 0 {
		fmt.Fprintf(&b, "%dD", d)
	}
	if rest > 0 {
		b.WriteString("T")
		for _, p := range []struct {
			n    int64
			unit string
		}{{h, "H"}, {m, "M"}, {s, "S"}} {
			if p.n > 0 {
				fmt.Fprintf(&b, "%d%s", p.n, p.unit)
			}
		}
	}
	return b.String()
}

// FiresAt is when a stored reminder fires for a task due at due (nil: a
// relative reminder of a task without a due date, which the schema
// forbids).
func (r storedReminder) FiresAt(due *time.Time) *time.Time {
	if r.Before == nil {
		return r.At
	}
	if due == nil {
		return nil
	}
	t := due.Add(-time.Duration(*r.Before) * time.Second)
	return &t
}

// storedReminders decodes a task's stored reminders.
func storedReminders(t db.Task) ([]storedReminder, error) {
	var rs []storedReminder
	if len(t.Reminders) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(t.Reminders, &rs); err != nil {
		return nil, fmt.Errorf("the reminders of task %d: %w", t.ID, err)
	}
	return rs, nil
}

// firedFor reports whether the reminder has fired for the time at.
func (r storedReminder) firedFor(at *time.Time) bool {
	return at != nil && r.FiredFor != nil && r.FiredFor.Equal(*at)
}

// StoredReminders reads a task's stored reminders.
func StoredReminders(t db.Task) ([]StoredReminder, error) {
	rs, err := storedReminders(t)
	if err != nil {
		return nil, err
	}
	out := make([]StoredReminder, 0, len(rs))
	for _, r := range rs {
		at := r.FiresAt(t.DueDate)
		out = append(out, StoredReminder{ID: r.ID, FiresAt: at, Fired: r.firedFor(at)})
	}
	return out, nil
}

// StoredReminder is what the scheduler needs of a reminder.
type StoredReminder struct {
	ID      int64
	FiresAt *time.Time
	Fired   bool // for FiresAt
}

// toReminders is a task's reminders as the API shows them ([] when it has
// none or they cannot be read).
func toReminders(t db.Task) []tasksapi.Reminder {
	out := []tasksapi.Reminder{}
	rs, err := storedReminders(t)
	if err != nil {
		return out
	}
	for _, r := range rs {
		id := r.ID
		v := tasksapi.Reminder{Id: &id, Before: nullable.NewNullNullable[string](), At: toNullable(utcPtr(r.At)),
			FiredAt: nullable.NewNullNullable[time.Time]()}
		if r.Before != nil {
			v.Before.Set(formatDuration(*r.Before))
		}
		if at := r.FiresAt(t.DueDate); at != nil {
			u := at.UTC()
			v.FiresAt = &u
			if r.firedFor(at) && r.FiredAt != nil {
				v.FiredAt.Set(r.FiredAt.UTC())
			}
		}
		out = append(out, v)
	}
	return out
}
