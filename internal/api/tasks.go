package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/store"
)

var _ tasksapi.StrictServerInterface = (*TasksHandler)(nil)

// TasksHandler serves the tasks and tags API. Every query is scoped to the
// user of the access token; another user's task or tag is a 404.
type TasksHandler struct {
	q   *db.Queries
	now func() time.Time
}

// NewTasksHandler returns the tasks and tags API handler. now is the clock of
// created_at and updated_at; pass time.Now outside tests.
func NewTasksHandler(dbtx *store.DB, now func() time.Time) (*TasksHandler, error) {
	if dbtx == nil || now == nil {
		return nil, errors.New("api: NewTasksHandler needs a database and a clock")
	}
	return &TasksHandler{q: db.New(dbtx), now: now}, nil
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

// wrapWrite names a failed write; a write for a user that no longer exists
// is INVALID_TOKEN.
func wrapWrite(err error, what string) error {
	if store.UserMissing(err) {
		return apperr.InvalidToken
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CreateTask creates a task with the defaults of openapi/tasks-api.yaml for
// what is left out.
func (h *TasksHandler) CreateTask(ctx context.Context, req tasksapi.CreateTaskRequestObject) (tasksapi.CreateTaskResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	in, err := fromTaskInput(req.Body)
	if err != nil {
		return nil, err
	}
	t, err := h.q.CreateTask(ctx, db.CreateTaskParams{Title: in.title, Description: in.description,
		Completed: in.completed, Priority: in.priority, DueDate: in.dueDate, UserID: uid, Now: h.now()})
	if err != nil {
		return nil, wrapWrite(err, "create task")
	}
	return tasksapi.CreateTask201JSONResponse(toTask(t, nil)), nil
}

// GetTask returns one of the user's tasks (TASK_NOT_FOUND otherwise).
func (h *TasksHandler) GetTask(ctx context.Context, req tasksapi.GetTaskRequestObject) (tasksapi.GetTaskResponseObject, error) {
	t, err := h.getTask(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	return tasksapi.GetTask200JSONResponse(t), nil
}

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
	t, err := h.q.ReplaceTask(ctx, db.ReplaceTaskParams{Title: in.title, Description: in.description,
		Completed: in.completed, Priority: in.priority, DueDate: in.dueDate, ID: id, UserID: uid, Now: h.now()})
	out, err := h.loaded(ctx, t, err, "replace task")
	if err != nil {
		return nil, err
	}
	return tasksapi.ReplaceTask200JSONResponse(out), nil
}

// UpdateTask changes only the fields sent; null clears description or due_date.
func (h *TasksHandler) UpdateTask(ctx context.Context, req tasksapi.UpdateTaskRequestObject) (tasksapi.UpdateTaskResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	p, changes, err := fromTaskPatch(req.Body)
	if err != nil {
		return nil, err
	}
	if !changes { // nothing to change: not a modification
		t, err := h.getTask(ctx, req.TaskId)
		if err != nil {
			return nil, err
		}
		return tasksapi.UpdateTask200JSONResponse(t), nil
	}
	p.ID, p.UserID, p.Now = id, uid, h.now()
	t, err := h.q.UpdateTask(ctx, p)
	out, err := h.loaded(ctx, t, err, "update task")
	if err != nil {
		return nil, err
	}
	return tasksapi.UpdateTask200JSONResponse(out), nil
}

// DeleteTask deletes a task and its tag links; the tags stay.
func (h *TasksHandler) DeleteTask(ctx context.Context, req tasksapi.DeleteTaskRequestObject) (tasksapi.DeleteTaskResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TaskId, apperr.TaskNotFound)
	if err != nil {
		return nil, err
	}
	n, err := h.q.DeleteTask(ctx, db.DeleteTaskParams{ID: id, UserID: uid})
	if err != nil {
		return nil, fmt.Errorf("delete task: %w", err)
	}
	if n == 0 {
		return nil, h.missing(ctx, apperr.TaskNotFound)
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
	var r db.AddTagToTaskRow
	if ok1 && ok2 {
		if r, err = h.q.AddTagToTask(ctx, db.AddTagToTaskParams{TaskID: taskID, TagID: tagID, UserID: uid, Now: h.now()}); err != nil {
			return nil, fmt.Errorf("link tag: %w", err)
		}
	}
	if nf := linkErr(ok1 && r.TaskFound, ok2 && r.TagFound); nf != nil {
		return nil, h.missing(ctx, nf)
	}
	t, err := h.getTask(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	if r.Changed {
		return tasksapi.AddTagToTask201JSONResponse(t), nil
	}
	return tasksapi.AddTagToTask200JSONResponse(t), nil
}

// RemoveTagFromTask unlinks a tag from a task; 204 also when not linked.
func (h *TasksHandler) RemoveTagFromTask(ctx context.Context, req tasksapi.RemoveTagFromTaskRequestObject) (tasksapi.RemoveTagFromTaskResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	taskID, ok1 := dbID(req.TaskId)
	tagID, ok2 := dbID(req.TagId)
	var r db.RemoveTagFromTaskRow
	if ok1 && ok2 {
		if r, err = h.q.RemoveTagFromTask(ctx, db.RemoveTagFromTaskParams{TaskID: taskID, TagID: tagID, UserID: uid, Now: h.now()}); err != nil {
			return nil, fmt.Errorf("unlink tag: %w", err)
		}
	}
	if nf := linkErr(ok1 && r.TaskFound, ok2 && r.TagFound); nf != nil {
		return nil, h.missing(ctx, nf)
	}
	return tasksapi.RemoveTagFromTask204Response{}, nil
}

// linkErr names what is missing, the task first.
func linkErr(taskFound, tagFound bool) *apperr.Error {
	switch {
	case !taskFound:
		return apperr.TaskNotFound
	case !tagFound:
		return apperr.TagNotFound
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

// loaded finishes a statement that returns one of the user's tasks: no row
// is TASK_NOT_FOUND, anything else wrong is wrapped, and a task gets its tags.
func (h *TasksHandler) loaded(ctx context.Context, t db.Task, err error, what string) (tasksapi.Task, error) {
	switch {
	case store.IsNotFound(err):
		return tasksapi.Task{}, h.missing(ctx, apperr.TaskNotFound)
	case err != nil:
		return tasksapi.Task{}, fmt.Errorf("%s: %w", what, err)
	}
	return h.withTags(ctx, t)
}

// withTags converts one task, loading its tags.
func (h *TasksHandler) withTags(ctx context.Context, t db.Task) (tasksapi.Task, error) {
	tags, err := h.tagsOf(ctx, []db.Task{t})
	if err != nil {
		return tasksapi.Task{}, err
	}
	return toTask(t, tags[t.ID]), nil
}

// tagsOf loads the tags of the user's tasks in one statement, by task id.
func (h *TasksHandler) tagsOf(ctx context.Context, tasks []db.Task) (map[int32][]tasksapi.Tag, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int32, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	rows, err := h.q.TagsOfTasks(ctx, db.TagsOfTasksParams{UserID: uid, TaskIds: ids})
	if err != nil {
		return nil, fmt.Errorf("tags of tasks: %w", err)
	}
	out := make(map[int32][]tasksapi.Tag, len(tasks))
	for _, r := range rows {
		out[r.TaskID] = append(out[r.TaskID], toTag(r.ID, r.Name, r.Color))
	}
	return out, nil
}

func toTask(t db.Task, tags []tasksapi.Tag) tasksapi.Task {
	if tags == nil {
		tags = []tasksapi.Tag{}
	}
	return tasksapi.Task{
		Id: int64(t.ID), Title: t.Title, Description: toNullable(t.Description), Completed: t.Completed,
		Priority: tasksapi.Priority(t.Priority), DueDate: toNullable(utcPtr(t.DueDate)), UserId: t.UserID,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(), Tags: tags,
	}
}

// taskInput is a validated TaskCreate (for POST and PUT) with defaults applied.
type taskInput struct {
	title       string
	description *string
	completed   bool
	priority    db.TaskPriority
	dueDate     *time.Time
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
	return in, nil
}

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
	changes := p.Title != nil || p.SetDescription || p.Completed != nil || p.Priority != nil || p.SetDueDate
	return p, changes, nil
}
