package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/live"
	"github.com/todoapp/todo-api/internal/store"
)

// The change feed (openapi/tasks-api.yaml: GET /changes). A cursor is a
// position in the feed's order (db/migrations/000007_sync.up.sql): after the
// change (xid, entity, id), written "xid.entity.id", or before every change
// of transaction xid and after all older ones, written "xid". Clients treat
// it as opaque.

// settleTries bounds how often GET /changes reads again while committed
// changes wait behind an older transaction (live.WaitingRecheck apart).
const settleTries = 4

// maxChangesPage is the largest page of GET /changes; a larger limit is
// treated as this. A page also ends, with has_more, once it holds about
// changesPageBytes of JSON (many tags on many tasks): what one request
// holds in memory stays bounded whatever the data.
const (
	maxChangesPage   = 1000
	changesPageBytes = 1 << 20
)

// cursor is a position in the feed.
type cursor struct {
	xid    int64
	entity string // "" : before every change of xid
	id     int32
}

// parseCursor reads a cursor given as the parameter field.
func parseCursor(s, field string) (cursor, error) {
	bad := apperr.InvalidCursor.WithField(field)
	parts := strings.Split(s, ".")
	var c cursor
	var err error
	if c.xid, err = strconv.ParseInt(parts[0], 10, 64); err != nil || c.xid < 0 || strconv.FormatInt(c.xid, 10) != parts[0] {
		return c, bad
	}
	switch len(parts) {
	case 1:
		return c, nil
	case 3:
		id, err := strconv.ParseInt(parts[2], 10, 32)
		if (parts[1] != string(tasksapi.ChangeEntityTask) && parts[1] != string(tasksapi.ChangeEntityTag)) ||
			err != nil || id < 1 || strconv.FormatInt(id, 10) != parts[2] {
			return c, bad
		}
		c.entity, c.id = parts[1], int32(id)
		return c, nil
	}
	return c, bad
}

func (c cursor) String() string {
	if c.entity == "" {
		return strconv.FormatInt(c.xid, 10)
	}
	return fmt.Sprintf("%d.%s.%d", c.xid, c.entity, c.id)
}

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
		now, err := h.feedNow(ctx, uid)
		if err != nil {
			return nil, err
		}
		return tasksapi.ListChanges200JSONResponse{Changes: []tasksapi.Change{}, Cursor: now.String()}, nil
	}
	since, err := parseCursor(*req.Params.Since, "since")
	if err != nil {
		return nil, err
	}
	limit := int(min(*req.Params.Limit, maxChangesPage))
	page, err := h.changesSince(ctx, uid, since, limit, changesPageBytes, "since")
	// Committed changes that wait behind an older transaction (which takes
	// milliseconds, normally) are worth a short wait: a client that wrote
	// and then asks sees its write.
	for try := 0; err == nil && page.waiting && !page.hasMore && try < settleTries; try++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(live.WaitingRecheck):
		}
		page, err = h.changesSince(ctx, uid, since, limit, changesPageBytes, "since")
	}
	if err != nil {
		return nil, err
	}
	return tasksapi.ListChanges200JSONResponse{Changes: page.changes, Cursor: page.next.String(), HasMore: page.hasMore}, nil
}

// feedNow is the cursor of a reader starting now: just after the user's
// last settled change (or pruned deletion), so that it moves only when the
// user's own data does. A user that is gone is INVALID_TOKEN.
func (h *TasksHandler) feedNow(ctx context.Context, uid uuid.UUID) (cursor, error) {
	last, err := h.q.FeedStart(ctx, uid)
	if err != nil {
		return cursor{}, userGone(err, "feed start")
	}
	return after(last), nil
}

// after is the cursor just after every change of transaction xid (0: none,
// the start of the feed).
func after(xid int64) cursor {
	if xid <= 0 {
		return cursor{}
	}
	return cursor{xid: xid + 1}
}

// changePage is a page of the feed: its changes with their positions, the
// cursor after it, and whether committed changes wait above the horizon
// (an older transaction still runs): a reader should look again shortly.
type changePage struct {
	changes []tasksapi.Change
	keys    []cursor
	next    cursor
	hasMore bool
	waiting bool
}

// changesSince reads up to limit changes (and about maxBytes) after the
// cursor. A cursor at or
// below the pruned floor, or beyond the transactions given so far (not this
// database's), is CURSOR_EXPIRED, naming field.
func (h *TasksHandler) changesSince(ctx context.Context, uid uuid.UUID, from cursor, limit int, maxBytes int64, field string) (changePage, error) {
	pages, err := h.feed.read(ctx, []feedRead{{user: uid, after: from}}, limit, maxBytes)
	if err != nil {
		return changePage{}, err
	}
	return pages[0].page, pages[0].failure(field)
}

// feedRead is one reader of the feed: a user, and the position after which
// it reads.
type feedRead struct {
	user  uuid.UUID
	after cursor
}

// feedPage is what a feedRead got: a page, or why not (the user is gone, or
// the cursor expired).
type feedPage struct {
	page          changePage
	gone, expired bool
}

// failure is the error of a read that got no page, naming field.
func (p feedPage) failure(field string) error {
	switch {
	case p.gone:
		return apperr.InvalidToken
	case p.expired:
		return apperr.CursorExpired.WithField(field)
	}
	return nil
}

// Feed reads the change feed: for the handlers, and for the process's event
// streams (live.Feed).
type Feed struct {
	q *db.Queries
}

// NewFeed returns the feed of the database.
func NewFeed(dbtx *store.DB) (*Feed, error) {
	if dbtx == nil {
		return nil, errors.New("api: NewFeed needs a database")
	}
	return &Feed{q: db.New(dbtx)}, nil
}

var _ live.Feed = (*Feed)(nil)

// read reads up to limit changes, and about maxBytes of them, for each
// reader, in two statements whatever their number: the pages with each
// upsert's row, then the tags of their tasks. Page i is reads[i]'s.
func (f *Feed) read(ctx context.Context, reads []feedRead, limit int, maxBytes int64) ([]feedPage, error) {
	p := db.ChangesSinceParams{PageLimit: int32(limit + 1), PageBytes: maxBytes}
	for _, r := range reads {
		p.UserIds = append(p.UserIds, r.user)
		p.AfterXids = append(p.AfterXids, r.after.xid)
		p.AfterEntities = append(p.AfterEntities, r.after.entity)
		p.AfterIds = append(p.AfterIds, r.after.id)
	}
	rows, err := f.q.ChangesSince(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("changes since: %w", err)
	}
	byRead := make([][]db.ChangesSinceRow, len(reads))
	for _, r := range rows {
		if r.Request < 1 || int(r.Request) > len(reads) {
			return nil, fmt.Errorf("changes since: a row of reader %d of %d", r.Request, len(reads))
		}
		byRead[r.Request-1] = append(byRead[r.Request-1], r)
	}
	// Each page's rows first (the tags of the tasks it keeps are read next).
	out := make([]feedPage, len(reads))
	var taskIDs []int32
	for i := range reads {
		var kept []db.ChangesSinceRow
		out[i], kept = pageOf(reads[i], byRead[i], limit, maxBytes)
		byRead[i] = kept
		for _, r := range kept {
			if r.TaskID != nil {
				taskIDs = append(taskIDs, *r.TaskID)
			}
		}
	}
	tags := map[int32][]tasksapi.Tag{}
	if len(taskIDs) > 0 {
		trows, err := f.q.TagsOfAnyTasks(ctx, taskIDs)
		if err != nil {
			return nil, fmt.Errorf("tags of tasks: %w", err)
		}
		for _, r := range trows {
			tags[r.TaskID] = append(tags[r.TaskID], toTag(r.ID, r.Name, r.Color, r.Version))
		}
	}
	for i, read := range reads {
		for j, r := range byRead[i] {
			if out[i].page.changes[j], err = toChange(r, read.user, tags); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// pageOf makes one reader's page of its rows, and returns the rows it keeps
// (its changes, still to be converted: page.changes has their places).
func pageOf(read feedRead, rows []db.ChangesSinceRow, limit int, maxBytes int64) (feedPage, []db.ChangesSinceRow) {
	if len(rows) == 0 {
		return feedPage{gone: true}, nil
	}
	head := rows[0]
	if head.ChangesFloor > 0 && read.after.xid <= head.ChangesFloor || read.after.xid > head.NextXid {
		return feedPage{expired: true}, nil
	}
	// The cursor stays where it is until the user's own changes move it.
	page := changePage{next: read.after, changes: []tasksapi.Change{}, waiting: head.Waiting}
	if head.Xid < 0 { // nothing after the cursor below the horizon
		return feedPage{page: page}, nil
	}
	switch {
	case len(rows) > limit:
		rows, page.hasMore = rows[:limit], true
	case rows[len(rows)-1].PageBytes >= maxBytes: // ended by size: there may be more
		page.hasMore = true
	}
	page.changes = make([]tasksapi.Change, len(rows))
	page.keys = make([]cursor, len(rows))
	for i, r := range rows {
		page.keys[i] = cursor{xid: r.Xid, entity: r.Entity, id: r.EntityID}
	}
	if page.hasMore {
		page.next = page.keys[len(rows)-1]
	} else {
		// Every settled change of the last one's transaction is in the page:
		// the cursor can pass that whole transaction, and a deletion pruned
		// later (the floor is its xid) does not expire it.
		page.next = after(page.keys[len(page.keys)-1].xid)
	}
	return feedPage{page: page}, rows
}

// toChange converts one row of ChangesSince; an upsert's row is there (one
// snapshot read the change and the row).
func toChange(r db.ChangesSinceRow, uid uuid.UUID, tags map[int32][]tasksapi.Tag) (tasksapi.Change, error) {
	c := tasksapi.Change{Entity: tasksapi.ChangeEntity(r.Entity), Id: int64(r.EntityID), Op: tasksapi.ChangeOp(r.Op),
		Version: int64(r.Version), Data: nullable.NewNullNullable[tasksapi.Change_Data]()}
	if c.Op == tasksapi.ChangeOpDelete {
		return c, nil
	}
	var data tasksapi.Change_Data
	var err error
	switch {
	case c.Entity == tasksapi.ChangeEntityTask && r.TaskID != nil:
		err = data.FromTask(toTask(db.Task{ID: *r.TaskID, Title: *r.Title, Description: r.Description, Completed: *r.Completed,
			Priority: *r.Priority, DueDate: r.DueDate, UserID: uid, CreatedAt: *r.CreatedAt, UpdatedAt: *r.UpdatedAt,
			Version: *r.TaskVersion, RecurrenceRule: r.RecurrenceRule, RecurrenceTimezone: r.RecurrenceTimezone,
			RecurrenceFrom: r.RecurrenceFrom, SeriesID: r.SeriesID, Reminders: r.Reminders}, tags[*r.TaskID]))
	case c.Entity == tasksapi.ChangeEntityTag && r.TagID != nil:
		err = data.FromTag(toTag(*r.TagID, *r.TagName, r.TagColor, *r.TagVersion))
	default:
		return c, fmt.Errorf("change of %s %d in transaction %d: the row is missing", r.Entity, r.EntityID, r.Xid)
	}
	if err != nil {
		return c, fmt.Errorf("encode change: %w", err)
	}
	c.Data = nullable.NewNullableWithValue(data)
	return c, nil
}
