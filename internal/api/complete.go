package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/oapi-codegen/nullable"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/recur"
	"github.com/todoapp/todo-api/internal/store"
)

// Recurring tasks (openapi/tasks-api.yaml: Task.recurrence,
// POST /tasks/{task_id}/complete, GET /tasks/{task_id}/occurrences).
// Completing a recurring task is one transaction: the completion, then the
// next task (db/queries/tasks.sql: CreateNextTask), whose due date
// internal/recur computes from the completed task's row.

// maxOccurrences caps a preview's limit, as a list's page size is capped.
const maxOccurrences = 100

// recurrence is a validated RecurrenceInput.
type recurrence struct {
	series recur.Series
	zone   string
	from   tasksapi.RecurrenceFrom
}

func fromRecurrenceInput(in tasksapi.RecurrenceInput) (*recurrence, error) {
	rule, err := recur.Parse(in.Rule)
	if err != nil {
		var u *recur.UnsupportedError
		if errors.As(err, &u) {
			return nil, invalidRecurrence(u.Part)
		}
		return nil, err
	}
	r := &recurrence{zone: "UTC", from: tasksapi.RecurrenceFromDue}
	if in.Timezone != nil {
		r.zone = *in.Timezone
	}
	loc, err := recur.Zone(r.zone)
	if err != nil {
		return nil, apperr.InvalidTimezone.WithField("recurrence")
	}
	if in.From != nil {
		switch *in.From {
		case tasksapi.Due:
		case tasksapi.Completion:
			r.from = tasksapi.RecurrenceFromCompletion
		default: // the spec's enum, were the validator not in front
			return nil, invalidRecurrence("from=" + string(*in.From))
		}
	}
	r.series = recur.Series{Rule: rule, Zone: loc, FromCompletion: r.from == tasksapi.RecurrenceFromCompletion}
	return r, nil
}

// invalidRecurrence is INVALID_RECURRENCE with its detail naming the part.
func invalidRecurrence(part string) error {
	return apperr.InvalidRecurrence.WithDetail(apperr.InvalidRecurrence.Detail + ": " + part).WithField("recurrence")
}

// startsAt checks the series can start at due: a recurring task needs a
// due date (RECURRENCE_NEEDS_DUE_DATE), and a rule a date after it, COUNT
// and UNTIL aside (FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30 has none).
func (r *recurrence) startsAt(due *time.Time) error {
	if due == nil {
		return apperr.RecurrenceNeedsDueDate.WithField("due_date")
	}
	if !r.series.Occurs(recur.Wall(*due, r.series.Zone)) {
		return noDate(r.series.Rule)
	}
	return nil
}

// noDate is the INVALID_RECURRENCE of a rule with no date after the due
// date, COUNT and UNTIL aside (FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30, or any
// rule from 9999-12-31).
func noDate(rule recur.Rule) error {
	return invalidRecurrence("no date matches " + rule.String() + " after the due date")
}

// hasDates checks that a recurring task's rule, as written, has a date
// after its due date (a PATCH that gave it one of the two).
func hasDates(t db.Task) error {
	s, cur, ok, err := seriesOf(t)
	if err != nil || !ok {
		return err
	}
	if !s.Occurs(cur.Wall) {
		return noDate(s.Rule)
	}
	return nil
}

// columns are the stored rule, zone and from (all nil: no recurrence).
func (r *recurrence) columns() (rule, zone, from *string) {
	if r == nil {
		return nil, nil, nil
	}
	text, f := r.series.Rule.String(), string(r.from)
	return &text, &r.zone, &f
}

// seriesOf is a stored task's series and its place in it; false when the
// task does not recur.
func seriesOf(t db.Task) (recur.Series, recur.Occurrence, bool, error) {
	if t.RecurrenceRule == nil || t.RecurrenceTimezone == nil || t.DueDate == nil {
		return recur.Series{}, recur.Occurrence{}, false, nil
	}
	rule, err := recur.Parse(*t.RecurrenceRule)
	if err != nil {
		return recur.Series{}, recur.Occurrence{}, false, fmt.Errorf("the rule of task %d: %w", t.ID, err)
	}
	loc, err := recur.Zone(*t.RecurrenceTimezone)
	if err != nil {
		return recur.Series{}, recur.Occurrence{}, false, fmt.Errorf("the zone of task %d: %w", t.ID, err)
	}
	s := recur.Series{Rule: rule, Zone: loc, FromCompletion: t.RecurrenceFrom != nil && *t.RecurrenceFrom == string(tasksapi.RecurrenceFromCompletion)}
	cur := recur.Occurrence{Wall: recur.Wall(*t.DueDate, loc), Position: 1}
	if t.DueLocal != nil {
		cur.Wall = *t.DueLocal
	}
	if t.SeriesPosition != nil {
		cur.Position = int(*t.SeriesPosition)
	}
	return s, cur, true, nil
}

// toRecurrence is a stored task's recurrence as the API shows it.
func toRecurrence(t db.Task) nullable.Nullable[tasksapi.Recurrence] {
	if t.RecurrenceRule == nil || t.RecurrenceTimezone == nil || t.RecurrenceFrom == nil {
		return nullable.NewNullNullable[tasksapi.Recurrence]()
	}
	return nullable.NewNullableWithValue(tasksapi.Recurrence{Rule: *t.RecurrenceRule, Timezone: *t.RecurrenceTimezone,
		From: tasksapi.RecurrenceFrom(*t.RecurrenceFrom)})
}

// completion is a write that may complete a task, run in the transaction
// that makes the next task: the task's row as written, its tags (JSON), and
// whether the write completed it (from not completed).
type completion func(q *db.Queries) (t db.Task, tags string, completed bool, err error)

// completeSeries runs write (POST .../complete, or a PUT or PATCH that may
// complete a recurring task) in a transaction with the creation of the
// task's next occurrence, when write completed a recurring task; it returns
// the task as written (with its tags' JSON) and the next task (nil when no
// next task exists). At most 4 statements: begin, write, the next task,
// commit.
func (h *TasksHandler) completeSeries(ctx context.Context, uid uuid.UUID, write completion) (t db.Task, tags string, next *tasksapi.Task, err error) {
	err = h.db.InTx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		var completed bool
		if t, tags, completed, err = write(q); err != nil {
			return err
		}
		if err := h.schedule(ctx, tx, t); err != nil {
			return err
		}
		if !completed {
			return nil
		}
		next, err = h.makeNext(ctx, q, tx, uid, t)
		return err
	})
	return t, tags, next, err
}

// makeNext creates the next task of t's series, just completed in q's
// transaction: nil when t does not recur or its rule has ended. A task that
// made its next before (completed, reopened, completed again) makes none:
// that one is the answer.
func (h *TasksHandler) makeNext(ctx context.Context, q *db.Queries, tx pgx.Tx, uid uuid.UUID, t db.Task) (*tasksapi.Task, error) {
	if t.NextTaskID != nil {
		return h.nextOf(ctx, q, uid, t.ID)
	}
	s, cur, ok, err := seriesOf(t)
	if err != nil || !ok {
		return nil, err
	}
	now := h.now()
	o, ok := s.Next(cur, now, now)
	if !ok {
		return nil, nil
	}
	due := s.Due(o)
	r, err := q.CreateNextTask(ctx, db.CreateNextTaskParams{UserID: uid, ID: t.ID, DueDate: &due, Now: now,
		SeriesPosition: int32(o.Position), DueLocal: o.Wall})
	switch {
	case store.IsNotFound(err):
		// Its place in the series is taken: the task was reopened after its
		// next task was deleted, and a later task of the series holds the
		// place. No second task for one place.
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("create the next task of %d: %w", t.ID, err)
	}
	made := db.Task{ID: r.ID, Title: r.Title, Description: r.Description,
		Completed: r.Completed, Priority: r.Priority, DueDate: r.DueDate, RecurrenceRule: r.RecurrenceRule,
		UserID: r.UserID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version,
		RecurrenceTimezone: r.RecurrenceTimezone, RecurrenceFrom: r.RecurrenceFrom, SeriesID: r.SeriesID,
		SeriesPosition: r.SeriesPosition, DueLocal: r.DueLocal, NextTaskID: r.NextTaskID, Reminders: r.Reminders}
	if err := h.schedule(ctx, tx, made); err != nil {
		return nil, err
	}
	n, err := h.loaded(ctx, db.GetTaskRow{Task: made, Tags: r.Tags}, nil, "next task")
	return &n, err
}

// CompleteTask completes a task; a recurring one's next occurrence is
// created with it. Completing a completed task changes nothing and answers
// the next task made then.
func (h *TasksHandler) CompleteTask(ctx context.Context, req tasksapi.CompleteTaskRequestObject) (tasksapi.CompleteTaskResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	cond := ifMatch(req.Params.IfMatch)
	var made *db.TaskWithNextRow // the next task of a task completed before
	t, tags, next, err := h.completeSeries(ctx, uid, func(q *db.Queries) (db.Task, string, bool, error) {
		r, err := q.CompleteTask(ctx, db.CompleteTaskParams{ID: id, UserID: uid, Now: h.now(), IfMatch: cond})
		if err == nil {
			return r.Task, r.Tags, true, nil
		}
		if !store.IsNotFound(err) {
			return db.Task{}, "", false, fmt.Errorf("complete task: %w", err)
		}
		// completed already, at another version, or missing
		rows, err := q.TaskWithNext(ctx, db.TaskWithNextParams{ID: id, UserID: uid})
		if err != nil {
			return db.Task{}, "", false, fmt.Errorf("read completed task: %w", err)
		}
		i := slices.IndexFunc(rows, func(r db.TaskWithNextRow) bool { return r.Task.ID == id })
		switch {
		case i < 0:
			return db.Task{}, "", false, errNotFound
		case cond != nil && !slices.Contains(cond, rows[i].Task.Version):
			return db.Task{}, "", false, preconditionFailed(rows[i].Task.Version)
		case !rows[i].Task.Completed: // reopened between the two statements: it changed under this request
			return db.Task{}, "", false, preconditionFailed(rows[i].Task.Version)
		}
		for _, n := range rows {
			if n.Task.ID != id {
				made = &n
			}
		}
		return rows[i].Task, rows[i].Tags, false, nil
	})
	switch {
	case errors.Is(err, errNotFound):
		return nil, h.missing(ctx, apperr.TaskNotFound)
	case err != nil:
		return nil, err
	}
	out, err := h.loaded(ctx, db.GetTaskRow{Task: t, Tags: tags}, nil, "complete task")
	if err != nil {
		return nil, err
	}
	if made != nil {
		n, err := h.loaded(ctx, db.GetTaskRow(*made), nil, "next task")
		if err != nil {
			return nil, err
		}
		next = &n
	}
	body := tasksapi.TaskCompletion{Task: out, Next: nullable.NewNullNullable[tasksapi.Task]()}
	if next != nil {
		body.Next = nullable.NewNullableWithValue(*next)
	}
	return tasksapi.CompleteTask200JSONResponse{Body: body, Headers: tasksapi.CompleteTask200ResponseHeaders{ETag: taskETag(out)}}, nil
}

// errNotFound: the user has no such task (or the user is gone: missing tells).
var errNotFound = errors.New("no such task")

// nextOf is the task made when task id was completed, if it still exists.
func (h *TasksHandler) nextOf(ctx context.Context, q *db.Queries, uid uuid.UUID, id int32) (*tasksapi.Task, error) {
	rows, err := q.TaskWithNext(ctx, db.TaskWithNextParams{ID: id, UserID: uid})
	if err != nil {
		return nil, fmt.Errorf("read next task: %w", err)
	}
	for _, r := range rows {
		if r.Task.ID != id {
			n, err := h.loaded(ctx, db.GetTaskRow(r), nil, "next task")
			return &n, err
		}
	}
	return nil, nil
}

// GetOccurrences previews a recurring task's next due dates.
func (h *TasksHandler) GetOccurrences(ctx context.Context, req tasksapi.GetOccurrencesRequestObject) (tasksapi.GetOccurrencesResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	row, err := h.q.GetTask(ctx, db.GetTaskParams{ID: id, UserID: uid})
	if store.IsNotFound(err) {
		return nil, h.missing(ctx, apperr.TaskNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("get task: %w", err)
	}
	limit := int64(10)
	if req.Params.Limit != nil {
		limit = min(*req.Params.Limit, maxOccurrences)
	}
	if limit < 1 {
		return nil, apperr.InvalidPagination.WithField("limit")
	}
	out := tasksapi.Occurrences{Occurrences: []time.Time{}}
	s, cur, ok, err := seriesOf(row.Task)
	if err != nil {
		return nil, err
	}
	if ok {
		out.Occurrences = s.Preview(cur, int(limit))
	}
	return tasksapi.GetOccurrences200JSONResponse(out), nil
}
