package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/store"
)

// tagNameKey is the unique constraint on a user's tag names.
const tagNameKey = "tags_name_user_id_key"

// errNotWritten rolls back a transaction whose write matched no row.
var errNotWritten = errors.New("api: the write matched no row")

// CreateTag creates a tag; with an Idempotency-Key, at most once. Errors:
// INVALID_TAG_NAME, INVALID_COLOR, TAG_ALREADY_EXISTS.
func (h *TasksHandler) CreateTag(ctx context.Context, req tasksapi.CreateTagRequestObject) (tasksapi.CreateTagResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	name, color, err := fromTagInput(req.Body)
	if err != nil {
		return nil, err
	}
	create := func(q *db.Queries, _ pgx.Tx) (tasksapi.Tag, int32, error) {
		t, err := q.CreateTag(ctx, db.CreateTagParams{Name: name, Color: color, UserID: uid})
		if err != nil {
			return tasksapi.Tag{}, 0, tagWriteErr(err, "create tag")
		}
		return toTag(t.ID, t.Name, t.Color, t.Version), t.Version, nil
	}
	if req.Params.IdempotencyKey == nil {
		t, version, err := create(h.q, nil)
		if err != nil {
			return nil, err
		}
		return tasksapi.CreateTag201JSONResponse{Body: t,
			Headers: tasksapi.CreateTag201ResponseHeaders{ETag: etag(version)}}, nil
	}
	return once(ctx, h, uid, *req.Params.IdempotencyKey, "createTag", req.Body, create)
}

// ListTags returns all of the user's tags, by name.
func (h *TasksHandler) ListTags(ctx context.Context, _ tasksapi.ListTagsRequestObject) (tasksapi.ListTagsResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := h.q.ListTags(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	if len(rows) == 0 { // none, or no user any more
		if err := h.missing(ctx, nil); err != nil {
			return nil, err
		}
	}
	out := make(tasksapi.ListTags200JSONResponse, len(rows))
	for i, r := range rows {
		out[i] = toTag(r.ID, r.Name, r.Color, r.Version)
	}
	return out, nil
}

// UpdateTag replaces a tag's name and colour (a colour left out becomes null).
func (h *TasksHandler) UpdateTag(ctx context.Context, req tasksapi.UpdateTagRequestObject) (tasksapi.UpdateTagResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TagId, apperr.TagNotFound)
	if err != nil {
		return nil, err
	}
	name, color, err := fromTagInput(req.Body)
	if err != nil {
		return nil, err
	}
	cond := ifMatch(req.Params.IfMatch)
	var t db.UpdateTagRow
	err = h.touchingTasks(ctx, uid, id, cond, func(q *db.Queries) (err error) {
		t, err = q.UpdateTag(ctx, db.UpdateTagParams{Name: name, Color: color, ID: id, UserID: uid, IfMatch: cond})
		return err
	})
	switch {
	case store.IsNotFound(err):
		return nil, h.tagNotWritten(ctx, uid, id, cond)
	case err != nil:
		return nil, tagWriteErr(err, "update tag")
	}
	return tasksapi.UpdateTag200JSONResponse{Body: toTag(t.ID, t.Name, t.Color, t.Version),
		Headers: tasksapi.UpdateTag200ResponseHeaders{ETag: etag(t.Version)}}, nil
}

// DeleteTag deletes a tag; it comes off every task, and the tasks stay.
func (h *TasksHandler) DeleteTag(ctx context.Context, req tasksapi.DeleteTagRequestObject) (tasksapi.DeleteTagResponseObject, error) {
	uid, id, err := h.owned(ctx, req.TagId, apperr.TagNotFound)
	if err != nil {
		return nil, err
	}
	cond := ifMatch(req.Params.IfMatch)
	err = h.touchingTasks(ctx, uid, id, cond, func(q *db.Queries) error {
		n, err := q.DeleteTag(ctx, db.DeleteTagParams{ID: id, UserID: uid, IfMatch: cond})
		switch {
		case err != nil:
			return fmt.Errorf("delete tag: %w", err)
		case n == 0:
			return errNotWritten // roll the tasks back
		}
		return nil
	})
	if errors.Is(err, errNotWritten) {
		return nil, h.tagNotWritten(ctx, uid, id, cond)
	}
	if err != nil {
		return nil, err
	}
	return tasksapi.DeleteTag204Response{}, nil
}

// touchingTasks runs write (a change of the tag that its tasks show) in one
// transaction after giving each task carrying the tag a new version, when
// the tag is at a version cond names; an error of write rolls both back.
func (h *TasksHandler) touchingTasks(ctx context.Context, uid uuid.UUID, id int32, cond []int32, write func(*db.Queries) error) error {
	return h.db.InTx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := q.LockOwner(ctx, uid); err != nil {
			return fmt.Errorf("lock the user: %w", err)
		}
		if err := q.TouchTasksOfTag(ctx, db.TouchTasksOfTagParams{TagID: id, UserID: uid, IfMatch: cond, Now: h.now()}); err != nil {
			return fmt.Errorf("touch tasks: %w", err)
		}
		return write(q)
	})
}

// tagNotWritten is taskNotWritten for a tag.
func (h *TasksHandler) tagNotWritten(ctx context.Context, uid uuid.UUID, id int32, cond []int32) error {
	return h.notWritten(ctx, cond, apperr.TagNotFound, func() (int32, error) {
		return h.q.TagVersion(ctx, db.TagVersionParams{ID: id, UserID: uid})
	})
}

func fromTagInput(b *tasksapi.TagInput) (string, *string, error) {
	name, err := checkTagName(b.Name)
	if err != nil {
		return "", nil, err
	}
	color := ptr(b.Color)
	if err := checkColor(color); err != nil {
		return "", nil, err
	}
	return name, color, nil
}

func tagWriteErr(err error, what string) error {
	if store.UniqueViolation(err, tagNameKey) {
		return apperr.TagAlreadyExists.WithField("name")
	}
	return wrapWrite(err, what)
}

func toTag(id int32, name string, color *string, version int32) tasksapi.Tag {
	return tasksapi.Tag{Id: int64(id), Name: name, Color: toNullable(color), Version: int64(version)}
}

// TagFromRow is the API's Tag of a tag row (internal/events).
func TagFromRow(t db.Tag) tasksapi.Tag { return toTag(t.ID, t.Name, t.Color, t.Version) }
