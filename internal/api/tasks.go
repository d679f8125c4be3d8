package api

import (
	"context"
	"encoding/json"
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
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/cache"
	"github.com/todoapp/todo-api/internal/live"
	"github.com/todoapp/todo-api/internal/store"
)

var _ tasksapi.StrictServerInterface = (*TasksHandler)(nil)

// TasksHandler serves the tasks and tags API. Every query is scoped to the
// user of the access token; another user's task or tag is a 404.
type TasksHandler struct {
	db *store.DB
	q  *db.Queries
	// perRun runs statements planned for the values of each run: the list
	// and count statements when a filter is used (see pageRowsOf).
	perRun    *db.Queries
	feed      *Feed
	streams   *live.Streams
	totals    *knownTotals
	now       func() time.Time
	webhooks  WebhookOptions
	reminders ReminderScheduler
}

// NewTasksHandler returns the tasks and tags API handler. streams holds the
// process's open event streams (internal/live); now is the clock of
// created_at and updated_at: pass time.Now outside tests.
func NewTasksHandler(dbtx *store.DB, streams *live.Streams, now func() time.Time) (*TasksHandler, error) {
	if dbtx == nil || streams == nil || now == nil {
		return nil, errors.New("api: NewTasksHandler needs a database, the event streams and a clock")
	}
	feed, err := NewFeed(dbtx)
	if err != nil {
		return nil, err
	}
	return &TasksHandler{db: dbtx, q: db.New(dbtx), perRun: db.New(dbtx.PlannedEachRun()), feed: feed, streams: streams,
		totals: cache.New[totalKey, knownTotal](maxKnownTotals), now: now}, nil
}

// userGone maps a read of the user's own data that found no user row to
// INVALID_TOKEN (the account was deleted since the token was issued), and
// wraps any other error.
func userGone(err error, what string) error {
	if store.IsNotFound(err) {
		return apperr.InvalidToken
	}
	return fmt.Errorf("%s: %w", what, err)
}

// userID is the authenticated user; the auth middleware guarantees one.
func userID(ctx context.Context) (uuid.UUID, error) {
	id, ok := auth.UserID(ctx)
	if !ok {
		return id, apperr.MissingToken
	}
	return id, nil
}

// owned returns the authenticated user and a path id in its stored type. An
// id no row can have (outside int32) is missing, like any id the user lacks.
func (h *TasksHandler) owned(ctx context.Context, pathID int64, nf *apperr.Error) (uuid.UUID, int32, error) {
	uid, err := userID(ctx)
	if err != nil {
		return uid, 0, err
	}
	id, ok := dbID(pathID)
	if !ok {
		return uid, 0, h.missing(ctx, nf)
	}
	return uid, id, nil
}

// missing is the one answer for a task or tag the user does not have: nf
// (nil: no error), unless the user itself is gone (deleted while its access token lives),
// which is INVALID_TOKEN. The check costs a statement only on this path.
func (h *TasksHandler) missing(ctx context.Context, nf *apperr.Error) error {
	uid, err := userID(ctx)
	if err != nil {
		return err
	}
	exists, err := h.q.UserExists(ctx, uid)
	if err != nil {
		return fmt.Errorf("check user: %w", err)
	}
	switch {
	case !exists:
		return apperr.InvalidToken
	case nf == nil: // the caller only asks about the user
		return nil
	}
	return nf
}

// wrapWrite names a failed create; one for a user that no longer exists is
// INVALID_TOKEN.
func wrapWrite(err error, what string) error {
	if store.UserMissing(err) || store.IsNotFound(err) { // the write found no user row to lock
		return apperr.InvalidToken
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CreateTask creates a task with the defaults of openapi/tasks-api.yaml for
// what is left out; with an Idempotency-Key, at most once.
func (h *TasksHandler) CreateTask(ctx context.Context, req tasksapi.CreateTaskRequestObject) (tasksapi.CreateTaskResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	in, err := fromTaskInput(req.Body)
	if err != nil {
		return nil, err
	}
	rule, zone, from := in.recurrence.columns()
	create := func(q *db.Queries, tx pgx.Tx) (tasksapi.Task, int32, error) {
		t, err := q.CreateTask(ctx, db.CreateTaskParams{Title: in.title, Description: in.description,
			Completed: in.completed, Priority: in.priority, DueDate: in.dueDate, UserID: uid, Now: h.now(),
			RecurrenceRule: rule, RecurrenceTimezone: zone, RecurrenceFrom: from, Reminders: in.reminders})
		if err != nil {
			return tasksapi.Task{}, 0, wrapWrite(err, "create task")
		}
		if tx != nil {
			if err := h.schedule(ctx, tx, t); err != nil {
				return tasksapi.Task{}, 0, err
			}
		}
		return toTask(t, nil), t.Version, nil
	}
	if req.Params.IdempotencyKey == nil {
		var t tasksapi.Task
		var version int32
		if in.hasReminders() { // with their jobs, in one transaction
			err = h.db.InTx(ctx, func(tx pgx.Tx) error {
				t, version, err = create(db.New(tx), tx)
				return err
			})
		} else {
			t, version, err = create(h.q, nil)
		}
		if err != nil {
			return nil, err
		}
		return tasksapi.CreateTask201JSONResponse{Body: t,
			Headers: tasksapi.CreateTask201ResponseHeaders{ETag: etag(version)}}, nil
	}
	return once(ctx, h, uid, *req.Params.IdempotencyKey, "createTask", req.Body, create)
}

// GetTask returns one of the user's tasks (TASK_NOT_FOUND otherwise), or 304
// while it is at a version If-None-Match names: one statement either way.
func (h *TasksHandler) GetTask(ctx context.Context, req tasksapi.GetTaskRequestObject) (tasksapi.GetTaskResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	row, err := h.q.GetTask(ctx, db.GetTaskParams{ID: id, UserID: uid})
	if err == nil && noneMatch(req.Params.IfNoneMatch, etag(row.Task.Version)) {
		return tasksapi.GetTask304Response{Headers: tasksapi.GetTask304ResponseHeaders{ETag: etag(row.Task.Version)}}, nil
	}
	t, err := h.loaded(ctx, row, err, "get task")
	if err != nil {
		return nil, err
	}
	return tasksapi.GetTask200JSONResponse{Body: t, Headers: tasksapi.GetTask200ResponseHeaders{ETag: taskETag(t)}}, nil
}

// taskETag is the entity tag of a task in a response.
func taskETag(t tasksapi.Task) string { return etag(int32(t.Version)) }

// ReplaceTask replaces every field of a task; what is left out returns to
// its default.
func (h *TasksHandler) ReplaceTask(ctx context.Context, req tasksapi.ReplaceTaskRequestObject) (tasksapi.ReplaceTaskResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	in, err := fromTaskInput(req.Body)
	if err != nil {
		return nil, err
	}
	cond := ifMatch(req.Params.IfMatch)
	rule, zone, from := in.recurrence.columns()
	p := db.ReplaceTaskParams{Title: in.title, Description: in.description, Completed: in.completed, Priority: in.priority,
		DueDate: in.dueDate, ID: id, UserID: uid, Now: h.now(), IfMatch: cond,
		RecurrenceRule: rule, RecurrenceTimezone: zone, RecurrenceFrom: from, Reminders: in.reminders}
	var r db.ReplaceTaskRow
	if !in.hasReminders() { // else their jobs go with them, in the transaction below
		r, err = h.q.ReplaceTask(ctx, p)
	}
	if in.hasReminders() || store.IsNotFound(err) && in.completed { // perhaps it completes a recurring task: with its next task, then
		p.MayChangeSeries = true
		r.Task, r.Tags, _, err = h.completeSeries(ctx, uid, func(q *db.Queries) (db.Task, string, bool, error) {
			r, err := q.ReplaceTask(ctx, p)
			return r.Task, r.Tags, !r.WasCompleted && r.Task.Completed, err
		})
	}
	if store.IsNotFound(err) {
		return nil, h.taskNotWritten(ctx, uid, id, cond)
	}
	out, err := h.loaded(ctx, db.GetTaskRow{Task: r.Task, Tags: r.Tags}, err, "replace task")
	if err != nil {
		return nil, err
	}
	return tasksapi.ReplaceTask200JSONResponse{Body: out, Headers: tasksapi.ReplaceTask200ResponseHeaders{ETag: taskETag(out)}}, nil
}

// UpdateTask changes only the fields sent; null clears description, due_date
// or recurrence.
func (h *TasksHandler) UpdateTask(ctx context.Context, req tasksapi.UpdateTaskRequestObject) (tasksapi.UpdateTaskResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	p, changes, err := fromTaskPatch(req.Body)
	if err != nil {
		return nil, err
	}
	cond := ifMatch(req.Params.IfMatch)
	var out tasksapi.Task
	if !changes { // nothing to change: not a modification, but If-Match still holds
		if out, err = h.getTask(ctx, req.TaskId); err != nil {
			return nil, err
		}
		if cond != nil && !slices.Contains(cond, int32(out.Version)) {
			return nil, preconditionFailed(int32(out.Version))
		}
	} else {
		p.ID, p.UserID, p.Now, p.IfMatch = id, uid, h.now(), cond
		newReminders := p.SetReminders && len(p.Reminders) > 2
		var r db.UpdateTaskRow
		if !newReminders { // else their jobs go with them, in the transaction below
			r, err = h.q.UpdateTask(ctx, p)
		}
		if newReminders || store.IsNotFound(err) && (p.Completed != nil || p.SetDueDate || p.SetRecurrence) {
			// perhaps it completes a recurring task, gives one a new rule or
			// due date, moves relative reminders or reopens a task with
			// reminders: again, in a transaction that checks the rule still
			// has dates, makes the next task and inserts the reminders' jobs
			p.MayChangeSeries = true
			r.Task, r.Tags, _, err = h.completeSeries(ctx, uid, func(q *db.Queries) (db.Task, string, bool, error) {
				r, err := q.UpdateTask(ctx, p)
				if err == nil && p.SetDueDate != p.SetRecurrence {
					err = hasDates(r.Task)
				}
				return r.Task, r.Tags, !r.WasCompleted && r.Task.Completed, err
			})
		}
		switch {
		case store.IsNotFound(err):
			return nil, h.taskNotWritten(ctx, uid, id, cond)
		case store.CheckViolation(err, "tasks_recurrence_needs_due_date"):
			return nil, apperr.RecurrenceNeedsDueDate.WithField("due_date")
		case store.CheckViolation(err, "tasks_reminder_needs_due_date"):
			return nil, errInvalidReminder
		}
		if out, err = h.loaded(ctx, db.GetTaskRow{Task: r.Task, Tags: r.Tags}, err, "update task"); err != nil {
			return nil, err
		}
	}
	return tasksapi.UpdateTask200JSONResponse{Body: out, Headers: tasksapi.UpdateTask200ResponseHeaders{ETag: taskETag(out)}}, nil
}

// taskNotWritten explains a write of a task that changed no row.
func (h *TasksHandler) taskNotWritten(ctx context.Context, uid uuid.UUID, id int32, cond []int32) error {
	return h.notWritten(ctx, cond, apperr.TaskNotFound, func() (int32, error) {
		return h.q.TaskVersion(ctx, db.TaskVersionParams{ID: id, UserID: uid})
	})
}

// notWritten explains a write that changed no row: with If-Match (cond), a
// resource at another version is 412 with its ETag; otherwise, or when
// there is no such resource, it is missing (nf).
func (h *TasksHandler) notWritten(ctx context.Context, cond []int32, nf *apperr.Error, version func() (int32, error)) error {
	if cond != nil {
		v, err := version()
		switch {
		case err == nil:
			return preconditionFailed(v)
		case !store.IsNotFound(err):
			return fmt.Errorf("read version: %w", err)
		}
	}
	return h.missing(ctx, nf)
}

// DeleteTask deletes a task and its tag links; the tags stay.
func (h *TasksHandler) DeleteTask(ctx context.Context, req tasksapi.DeleteTaskRequestObject) (tasksapi.DeleteTaskResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	cond := ifMatch(req.Params.IfMatch)
	n, err := h.q.DeleteTask(ctx, db.DeleteTaskParams{ID: id, UserID: uid, IfMatch: cond})
	if err != nil {
		return nil, fmt.Errorf("delete task: %w", err)
	}
	if n == 0 {
		return nil, h.taskNotWritten(ctx, uid, id, cond)
	}
	return tasksapi.DeleteTask204Response{}, nil
}

// AddTagToTask links a tag to a task: 201 when new, 200 when it was there.
func (h *TasksHandler) AddTagToTask(ctx context.Context, req tasksapi.AddTagToTaskRequestObject) (tasksapi.AddTagToTaskResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	taskID, ok1 := dbID(req.TaskId)
	tagID, ok2 := dbID(req.TagId)
	cond := ifMatch(req.Params.IfMatch)
	var r db.AddTagToTaskRow
	if ok1 && ok2 {
		if r, err = h.q.AddTagToTask(ctx, db.AddTagToTaskParams{TaskID: taskID, TagID: tagID, UserID: uid, Now: h.now(), IfMatch: cond}); err != nil {
			return nil, fmt.Errorf("link tag: %w", err)
		}
	}
	if err := h.linkErr(ctx, uid, taskID, cond, ok1 && r.TaskFound, ok2 && r.TagFound, r.VersionMatched); err != nil {
		return nil, err
	}
	t, err := h.getTask(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	if r.Changed {
		return tasksapi.AddTagToTask201JSONResponse{Body: t, Headers: tasksapi.AddTagToTask201ResponseHeaders{ETag: taskETag(t)}}, nil
	}
	return tasksapi.AddTagToTask200JSONResponse{Body: t, Headers: tasksapi.AddTagToTask200ResponseHeaders{ETag: taskETag(t)}}, nil
}

// RemoveTagFromTask unlinks a tag from a task; 204 also when not linked.
func (h *TasksHandler) RemoveTagFromTask(ctx context.Context, req tasksapi.RemoveTagFromTaskRequestObject) (tasksapi.RemoveTagFromTaskResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	taskID, ok1 := dbID(req.TaskId)
	tagID, ok2 := dbID(req.TagId)
	cond := ifMatch(req.Params.IfMatch)
	var r db.RemoveTagFromTaskRow
	if ok1 && ok2 {
		if r, err = h.q.RemoveTagFromTask(ctx, db.RemoveTagFromTaskParams{TaskID: taskID, TagID: tagID, UserID: uid, Now: h.now(), IfMatch: cond}); err != nil {
			return nil, fmt.Errorf("unlink tag: %w", err)
		}
	}
	if err := h.linkErr(ctx, uid, taskID, cond, ok1 && r.TaskFound, ok2 && r.TagFound, r.VersionMatched); err != nil {
		return nil, err
	}
	return tasksapi.RemoveTagFromTask204Response{}, nil
}

// linkErr names what is missing, the task first, then a task at a version
// If-Match did not name; nil when the link or unlink went ahead.
func (h *TasksHandler) linkErr(ctx context.Context, uid uuid.UUID, taskID int32, cond []int32, taskFound, tagFound, matched bool) error {
	switch {
	case !taskFound:
		return h.missing(ctx, apperr.TaskNotFound)
	case !tagFound:
		return h.missing(ctx, apperr.TagNotFound)
	case !matched:
		return h.taskNotWritten(ctx, uid, taskID, cond)
	}
	return nil
}

// getTask loads one of the user's tasks with its tags.
func (h *TasksHandler) getTask(ctx context.Context, taskID int64) (tasksapi.Task, error) {
	uid, id, err := h.owned(ctx, taskID, apperr.TaskNotFound)
	if err != nil {
		return tasksapi.Task{}, err
	}
	t, err := h.q.GetTask(ctx, db.GetTaskParams{ID: id, UserID: uid})
	return h.loaded(ctx, t, err, "get task")
}

// loaded finishes a statement that returns one of the user's tasks with its
// tags (as JSON, db/queries/tasks.sql): no row is TASK_NOT_FOUND, anything
// else wrong is wrapped.
func (h *TasksHandler) loaded(ctx context.Context, r db.GetTaskRow, err error, what string) (tasksapi.Task, error) {
	switch {
	case store.IsNotFound(err):
		return tasksapi.Task{}, h.missing(ctx, apperr.TaskNotFound)
	case err != nil:
		return tasksapi.Task{}, fmt.Errorf("%s: %w", what, err)
	}
	var tags []tasksapi.Tag
	if err := json.Unmarshal([]byte(r.Tags), &tags); err != nil {
		return tasksapi.Task{}, fmt.Errorf("%s: the tags of task %d: %w", what, r.Task.ID, err)
	}
	return toTask(r.Task, tags), nil
}

func toTask(t db.Task, tags []tasksapi.Tag) tasksapi.Task {
	if tags == nil {
		tags = []tasksapi.Tag{}
	}
	series := nullable.NewNullNullable[int64]()
	if t.SeriesID != nil {
		series.Set(int64(*t.SeriesID))
	}
	return tasksapi.Task{
		Id: int64(t.ID), Title: t.Title, Description: toNullable(t.Description), Completed: t.Completed,
		Priority: tasksapi.Priority(t.Priority), DueDate: toNullable(utcPtr(t.DueDate)), UserId: t.UserID,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(), Tags: tags, Version: int64(t.Version),
		Recurrence: toRecurrence(t), SeriesId: series, Reminders: toReminders(t),
	}
}

// taskInput is a validated TaskCreate (for POST and PUT) with defaults applied.
type taskInput struct {
	title       string
	description *string
	completed   bool
	priority    db.TaskPriority
	dueDate     *time.Time
	recurrence  *recurrence // nil: none
	reminders   []byte      // the reminders' JSON ("[]": none)
}

func fromTaskInput(b *tasksapi.TaskCreate) (taskInput, error) {
	in := taskInput{priority: db.TaskPriorityMedium, description: ptr(b.Description)}
	var err error
	if in.title, err = checkTitle(b.Title); err != nil {
		return in, err
	}
	if err := checkDescription(in.description); err != nil {
		return in, err
	}
	if b.Completed != nil {
		in.completed = *b.Completed
	}
	if b.Priority != nil {
		if in.priority, err = parsePriority(string(*b.Priority)); err != nil {
			return in, err
		}
	}
	if d := ptr(b.DueDate); d != nil {
		t, err := parseDueDate(*d)
		if err != nil {
			return in, err
		}
		in.dueDate = &t
	}
	if r := ptr(b.Recurrence); r != nil {
		if in.recurrence, err = fromRecurrenceInput(*r); err != nil {
			return in, err
		}
		if err := in.recurrence.startsAt(in.dueDate); err != nil {
			return in, err
		}
	}
	var rs []tasksapi.ReminderInput
	if b.Reminders != nil {
		rs = *b.Reminders
	}
	var relative bool
	if in.reminders, relative, err = fromReminders(rs); err != nil {
		return in, err
	}
	if in.dueDate == nil && relative {
		return in, errInvalidReminder
	}
	return in, nil
}

// hasReminders reports whether the task is given reminders.
func (in taskInput) hasReminders() bool { return len(in.reminders) > 2 }

// fromTaskPatch validates a TaskUpdate into UpdateTask parameters, and
// reports whether it changes anything.
func fromTaskPatch(b *tasksapi.TaskUpdate) (db.UpdateTaskParams, bool, error) {
	var p db.UpdateTaskParams
	if b.Title != nil {
		t, err := checkTitle(*b.Title)
		if err != nil {
			return p, false, err
		}
		p.Title = &t
	}
	if b.Description.IsSpecified() {
		p.SetDescription, p.Description = true, ptr(b.Description)
		if err := checkDescription(p.Description); err != nil {
			return p, false, err
		}
	}
	p.Completed = b.Completed
	if b.Priority != nil {
		pr, err := parsePriority(string(*b.Priority))
		if err != nil {
			return p, false, err
		}
		p.Priority = &pr
	}
	if b.DueDate.IsSpecified() {
		p.SetDueDate = true
		if d := ptr(b.DueDate); d != nil {
			t, err := parseDueDate(*d)
			if err != nil {
				return p, false, err
			}
			p.DueDate = &t
		}
	}
	if b.Recurrence.IsSpecified() {
		p.SetRecurrence = true
		if r := ptr(b.Recurrence); r != nil {
			in, err := fromRecurrenceInput(*r)
			if err != nil {
				return p, false, err
			}
			if p.SetDueDate { // else the due date is the stored one, which the database checks is there
				if err := in.startsAt(p.DueDate); err != nil {
					return p, false, err
				}
			}
			p.RecurrenceRule, p.RecurrenceTimezone, p.RecurrenceFrom = in.columns()
		}
	}
	p.Reminders = []byte("[]")
	if b.Reminders != nil {
		var err error
		if p.Reminders, _, err = fromReminders(*b.Reminders); err != nil { // the database checks the due date
			return p, false, err
		}
		p.SetReminders = true
	}
	changes := p.Title != nil || p.SetDescription || p.Completed != nil || p.Priority != nil || p.SetDueDate || p.SetRecurrence || p.SetReminders
	return p, changes, nil
}

// TaskFromRow is the API's Task of a task row and its tags: what the HTTP
// handlers answer and what the events carry (internal/events).
func TaskFromRow(t db.Task, tags []tasksapi.Tag) tasksapi.Task { return toTask(t, tags) }
