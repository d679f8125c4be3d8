package api

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/store"
)

// The change feed (openapi/tasks-api.yaml: GET /changes). A cursor is a
// user's change number (db/migrations/000007_sync.up.sql), written in
// decimal; clients treat it as opaque.

// maxChangesPage is the largest page of GET /changes; a larger limit is
// treated as this.
const maxChangesPage = 1000

// parseCursor reads a cursor given as the parameter field: digits, no sign,
// no leading zero, within int64.
func parseCursor(s, field string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, apperr.InvalidCursor.WithField(field)
	}
	return n, nil
}

func cursorOf(seq int64) string { return strconv.FormatInt(seq, 10) }

// ListChanges answers the user's changes after `since`, or, without it, no
// changes and the current cursor. Two statements at most: the page (with
// each upsert's row) and the tags of its tasks.
func (h *TasksHandler) ListChanges(ctx context.Context, req tasksapi.ListChangesRequestObject) (tasksapi.ListChangesResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	if req.Params.Limit == nil {
		return nil, errNoDefault
	}
	if *req.Params.Limit < 1 {
		return nil, apperr.InvalidPagination.WithField("limit")
	}
	if req.Params.Since == nil {
		seq, err := h.changeSeq(ctx, uid)
		if err != nil {
			return nil, err
		}
		return tasksapi.ListChanges200JSONResponse{Changes: []tasksapi.Change{}, Cursor: cursorOf(seq)}, nil
	}
	since, err := parseCursor(*req.Params.Since, "since")
	if err != nil {
		return nil, err
	}
	page, err := h.changesSince(ctx, uid, since, int(min(*req.Params.Limit, maxChangesPage)), "since")
	if err != nil {
		return nil, err
	}
	return tasksapi.ListChanges200JSONResponse{Changes: page.changes, Cursor: cursorOf(page.cursor), HasMore: page.hasMore}, nil
}

// changeSeq is the user's latest change number; a user that is gone is
// INVALID_TOKEN.
func (h *TasksHandler) changeSeq(ctx context.Context, uid uuid.UUID) (int64, error) {
	seq, err := h.q.ChangeSeq(ctx, uid)
	switch {
	case store.IsNotFound(err):
		return 0, apperr.InvalidToken
	case err != nil:
		return 0, fmt.Errorf("change number: %w", err)
	}
	return seq, nil
}

// changePage is a page of the feed: its changes with their numbers, and the
// cursor after it.
type changePage struct {
	changes []tasksapi.Change
	seqs    []int64
	cursor  int64
	hasMore bool
}

// changesSince reads up to limit changes after since. A cursor below the
// pruned floor, or beyond the user's latest number (not this history's), is
// CURSOR_EXPIRED, naming field.
func (h *TasksHandler) changesSince(ctx context.Context, uid uuid.UUID, since int64, limit int, field string) (changePage, error) {
	rows, err := h.q.ChangesSince(ctx, db.ChangesSinceParams{UserID: uid, Since: since, PageLimit: int32(limit + 1)})
	if err != nil {
		return changePage{}, fmt.Errorf("changes since: %w", err)
	}
	if len(rows) == 0 {
		return changePage{}, apperr.InvalidToken
	}
	head := rows[0]
	if since < head.ChangesFloor || since > head.ChangeSeq {
		return changePage{}, apperr.CursorExpired.WithField(field)
	}
	page := changePage{cursor: head.ChangeSeq, changes: []tasksapi.Change{}}
	if head.Seq == nil { // nothing after since
		return page, nil
	}
	if len(rows) > limit {
		rows, page.hasMore = rows[:limit], true
		page.cursor = *rows[limit-1].Seq
	}
	var taskIDs []int32
	for _, r := range rows {
		if *r.Entity == string(tasksapi.ChangeEntityTask) && r.TaskID != nil {
			taskIDs = append(taskIDs, *r.TaskID)
		}
	}
	tags := map[int32][]tasksapi.Tag{}
	if len(taskIDs) > 0 {
		if tags, err = h.tagsOfIDs(ctx, uid, taskIDs); err != nil {
			return changePage{}, err
		}
	}
	page.changes = make([]tasksapi.Change, len(rows))
	page.seqs = make([]int64, len(rows))
	for i, r := range rows {
		if page.changes[i], err = toChange(r, uid, tags); err != nil {
			return changePage{}, err
		}
		page.seqs[i] = *r.Seq
	}
	return page, nil
}

// toChange converts one row of ChangesSince; an upsert's row is there (one
// snapshot read the change and the row).
func toChange(r db.ChangesSinceRow, uid uuid.UUID, tags map[int32][]tasksapi.Tag) (tasksapi.Change, error) {
	c := tasksapi.Change{Entity: tasksapi.ChangeEntity(*r.Entity), Id: int64(*r.EntityID), Op: tasksapi.ChangeOp(*r.Op),
		Version: int64(*r.Version), Data: nullable.NewNullNullable[tasksapi.Change_Data]()}
	if c.Op == tasksapi.ChangeOpDelete {
		return c, nil
	}
	var data tasksapi.Change_Data
	var err error
	switch {
	case c.Entity == tasksapi.ChangeEntityTask && r.TaskID != nil:
		err = data.FromTask(toTask(db.Task{ID: *r.TaskID, Title: *r.Title, Description: r.Description, Completed: *r.Completed,
			Priority: *r.Priority, DueDate: r.DueDate, UserID: uid, CreatedAt: *r.CreatedAt, UpdatedAt: *r.UpdatedAt,
			Version: *r.TaskVersion}, tags[*r.TaskID]))
	case c.Entity == tasksapi.ChangeEntityTag && r.TagID != nil:
		err = data.FromTag(toTag(*r.TagID, *r.TagName, r.TagColor, *r.TagVersion))
	default:
		return c, fmt.Errorf("change %d of %s %d: the row is missing", *r.Seq, *r.Entity, *r.EntityID)
	}
	if err != nil {
		return c, fmt.Errorf("encode change: %w", err)
	}
	c.Data = nullable.NewNullableWithValue(data)
	return c, nil
}

// PruneChanges runs PruneChangesNow every interval until ctx ends.
func (h *TasksHandler) PruneChanges(ctx context.Context, logger *slog.Logger, interval, retention time.Duration) {
	store.Every(ctx, logger, interval, "change feed deletions", func(ctx context.Context) (int64, error) {
		return h.PruneChangesNow(ctx, retention)
	})
}

// PruneChangesNow deletes the deletions kept in the feed longer than
// retention, raising each user's floor: older cursors are then
// CURSOR_EXPIRED. It returns how many went.
func (h *TasksHandler) PruneChangesNow(ctx context.Context, retention time.Duration) (int64, error) {
	return pruneBatches(func(batch int32) (int64, error) {
		return h.q.PruneTombstones(ctx, db.PruneTombstonesParams{RetentionSeconds: retention.Seconds(), Batch: batch})
	})
}
