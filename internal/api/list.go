package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/cache"
)

// Everything about GET /tasks lives here: its parameters, the orders and
// their statements, the totals. Its defaults (page 1, limit 20, status all,
// sort -created_at) are the spec's: the request validator fills them in.

// maxPageSize is the largest page; a larger limit is treated as this.
const maxPageSize = 100

// listStatement lists a page in one order with its tasks' tags: a row per
// task and tag (db/queries/tasks.sql). The statements take the same
// parameters and return rows of the same shape, so one struct converts to
// and from each.
type listStatement func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error)

// pageRow is a row of a list statement.
type pageRow = db.ListTasksCreatedDescRow

// sortOrders is every `sort` value the list accepts and its statement; each
// order has an index that yields it (db/migrations), ending in id.
var sortOrders = map[string]listStatement{
	"-created_at": (*db.Queries).ListTasksCreatedDesc,
	"created_at": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error) {
		return pageRows(q.ListTasksCreatedAsc(ctx, db.ListTasksCreatedAscParams(p)))
	},
	"due_date": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error) {
		return pageRows(q.ListTasksDueAsc(ctx, db.ListTasksDueAscParams(p)))
	},
	"-due_date": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error) {
		return pageRows(q.ListTasksDueDesc(ctx, db.ListTasksDueDescParams(p)))
	},
	"priority": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error) {
		return pageRows(q.ListTasksPriorityAsc(ctx, db.ListTasksPriorityAscParams(p)))
	},
	"-priority": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error) {
		return pageRows(q.ListTasksPriorityDesc(ctx, db.ListTasksPriorityDescParams(p)))
	},
	"title": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error) {
		return pageRows(q.ListTasksTitleAsc(ctx, db.ListTasksTitleAscParams(p)))
	},
	"-title": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]pageRow, error) {
		return pageRows(q.ListTasksTitleDesc(ctx, db.ListTasksTitleDescParams(p)))
	},
}

// byStatus are the statements of the orders led by the status in an index
// (idx_tasks_user_completed), for a list filtered by status alone: there the
// status is an equality, which a kept plan can look up in the index
// (db/queries/tasks.sql).
var byStatus = map[string]func(q *db.Queries, ctx context.Context, p db.ListByStatusDueAscParams) ([]pageRow, error){
	"due_date": func(q *db.Queries, ctx context.Context, p db.ListByStatusDueAscParams) ([]pageRow, error) {
		return pageRows(q.ListByStatusDueAsc(ctx, p))
	},
	"-due_date": func(q *db.Queries, ctx context.Context, p db.ListByStatusDueAscParams) ([]pageRow, error) {
		return pageRows(q.ListByStatusDueDesc(ctx, db.ListByStatusDueDescParams(p)))
	},
}

// pageRowsOf lists the page. A list filtered by nothing runs its order's
// statement prepared, its plan kept (every filter of the statement holds,
// so any plan of it walks the order's index); one filtered by status alone
// in due-date order, a statement of its own (byStatus), prepared too; any
// other, its order's statement planned for the values given (h.perRun).
func (h *TasksHandler) pageRowsOf(ctx context.Context, lq listQuery, filter db.ListTasksCreatedDescParams) ([]pageRow, error) {
	if filter.TagID != nil || lq.pattern != nil || lq.priority != nil {
		return lq.list(h.perRun, ctx, filter)
	}
	if lq.completed == nil {
		return lq.list(h.q, ctx, filter)
	}
	if list, ok := byStatus[lq.sort]; ok {
		return list(h.q, ctx, db.ListByStatusDueAscParams{UserID: filter.UserID, Completed: *lq.completed,
			PageLimit: filter.PageLimit, PageOffset: filter.PageOffset})
	}
	return lq.list(h.perRun, ctx, filter)
}

// pageRows converts the rows of a list statement to pageRows.
func pageRows[R ~struct {
	ID                 int32           `json:"id"`
	Title              string          `json:"title"`
	Description        *string         `json:"description"`
	Completed          bool            `json:"completed"`
	Priority           db.TaskPriority `json:"priority"`
	DueDate            *time.Time      `json:"due_date"`
	UserID             uuid.UUID       `json:"user_id"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
	Version            int32           `json:"version"`
	RecurrenceRule     *string         `json:"recurrence_rule"`
	RecurrenceTimezone *string         `json:"recurrence_timezone"`
	RecurrenceFrom     *string         `json:"recurrence_from"`
	SeriesID           *int32          `json:"series_id"`
	Reminders          []byte          `json:"reminders"`
	TagID              *int32          `json:"tag_id"`
	TagName            *string         `json:"tag_name"`
	TagColor           *string         `json:"tag_color"`
	TagVersion         *int32          `json:"tag_version"`
}](rows []R, err error) ([]pageRow, error) {
	out := make([]pageRow, len(rows))
	for i, r := range rows {
		out[i] = pageRow(r)
	}
	return out, err
}

// pageItems turns the rows of a list statement (a row per task and tag, in
// the page's order) into the page's tasks.
func pageItems(rows []pageRow) []tasksapi.Task {
	var items []tasksapi.Task
	for i, r := range rows {
		if i == 0 || rows[i-1].ID != r.ID {
			items = append(items, toTask(db.Task{ID: r.ID, Title: r.Title, Description: r.Description,
				Completed: r.Completed, Priority: r.Priority, DueDate: r.DueDate,
				UserID: r.UserID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version,
				RecurrenceRule: r.RecurrenceRule, RecurrenceTimezone: r.RecurrenceTimezone, RecurrenceFrom: r.RecurrenceFrom,
				SeriesID: r.SeriesID, Reminders: r.Reminders}, nil))
		}
		if r.TagID != nil {
			last := &items[len(items)-1]
			last.Tags = append(last.Tags, toTag(*r.TagID, *r.TagName, r.TagColor, *r.TagVersion))
		}
	}
	return items
}

// listQuery is a validated list request.
type listQuery struct {
	page, limit int64
	completed   *bool
	priority    *db.TaskPriority
	pattern     *string // an ILIKE pattern, wildcards in q escaped
	tag         string  // id or name; "" for no tag filter
	sort        string
	list        listStatement
}

// offset is where the page starts; past the int32 range (ids and counts are
// int32) nothing is there. Checked before multiplying: (page-1)*limit
// overflows int64 for a page near its top.
func (q listQuery) offset() int32 {
	if q.page-1 > (1<<31-1)/q.limit {
		return 1<<31 - 1
	}
	return int32((q.page - 1) * q.limit)
}

// errNoDefault means a parameter with a default in the spec arrived unset:
// the request did not go through the validator.
var errNoDefault = errors.New("api: a list parameter with a default in the spec is unset")

// parseListQuery validates the list's query parameters. page, limit, status
// and sort have the spec's defaults filled in.
func parseListQuery(p tasksapi.ListTasksParams) (listQuery, error) {
	if p.Page == nil || p.Limit == nil || p.Status == nil || p.Sort == nil {
		return listQuery{}, errNoDefault
	}
	lq := listQuery{page: *p.Page, limit: min(*p.Limit, maxPageSize)}
	switch {
	case *p.Page < 1:
		return lq, apperr.InvalidPagination.WithField("page")
	case *p.Limit < 1:
		return lq, apperr.InvalidPagination.WithField("limit")
	}
	switch *p.Status {
	case tasksapi.All:
	case tasksapi.Pending, tasksapi.Completed:
		done := *p.Status == tasksapi.Completed
		lq.completed = &done
	default:
		return lq, apperr.InvalidStatus.WithField("status")
	}
	if p.Priority != nil {
		pr, err := parsePriority(string(*p.Priority))
		if err != nil {
			return lq, err
		}
		lq.priority = &pr
	}
	lq.sort = string(*p.Sort)
	if lq.list = sortOrders[lq.sort]; lq.list == nil {
		return lq, apperr.InvalidSortField.WithField("sort")
	}
	if p.Q != nil {
		if s := strings.TrimSpace(*p.Q); s != "" {
			pattern := "%" + escapeLike(s) + "%"
			lq.pattern = &pattern
		}
	}
	if p.Tag != nil {
		lq.tag = strings.TrimSpace(*p.Tag)
	}
	return lq, nil
}

// escapeLike makes s match itself literally in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// tagRef splits the `tag` filter into an id (when it is a number) and a name.
func tagRef(s string) (*int32, string) {
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		id := int32(n)
		return &id, s
	}
	return nil, s
}

// ListTasks returns a page of the user's tasks with their tags and the exact
// total. It costs two statements whatever the page size: the total (with the
// tag lookup when there is a `tag`; the data version alone when the total is
// known), then the page with its tasks' tags; three when a known total has to
// be counted again; with an If-None-Match that still holds, one. Its weak
// ETag is the user's change number, read before the page (a change committed
// meanwhile makes a later number, so a 304 never hides one), with the list's
// parameters.
func (h *TasksHandler) ListTasks(ctx context.Context, req tasksapi.ListTasksRequestObject) (tasksapi.ListTasksResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	lq, err := parseListQuery(req.Params)
	if err != nil {
		return nil, err
	}
	var read *dataVersion // the data version, when read already
	if req.Params.IfNoneMatch != nil {
		v, err := h.q.ListVersion(ctx, uid)
		if err != nil {
			return nil, userGone(err, "list version")
		}
		read = &dataVersion{v.ListVersion, v.Horizon}
		if tag := lq.etag(*read); noneMatch(req.Params.IfNoneMatch, tag) {
			return tasksapi.ListTasks304Response{Headers: tasksapi.ListTasks304ResponseHeaders{ETag: tag}}, nil
		}
	}
	filter := db.ListTasksCreatedDescParams{UserID: uid, Completed: lq.completed, Priority: lq.priority,
		Pattern: lq.pattern, PageLimit: int32(lq.limit), PageOffset: lq.offset()}

	total, version, err := h.total(ctx, lq, &filter, read)
	if err != nil {
		return nil, err
	}
	if int64(filter.PageOffset) >= total { // also: an unknown tag, which matches nothing
		return listPage(lq, version, total, nil), nil
	}

	rows, err := h.pageRowsOf(ctx, lq, filter)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return listPage(lq, version, total, pageItems(rows)), nil
}

// total returns the exact number of tasks the list's filters match, and the
// version of the user's data. The counters answer a list filtered by nothing,
// status and/or priority, and the tag's own count one filtered by a tag
// alone; other filters (a search, a tag with more) count rows, and such a
// total is remembered by its filters and the data version it was counted at
// (see knownTotals). With a `tag` filter it resolves the tag into
// filter.TagID; the user's having no such tag makes the total 0. A user that
// is gone is INVALID_TOKEN. read is the data version when the caller read it
// already (nil: not yet); the version returned is the first one read.
func (h *TasksHandler) total(ctx context.Context, lq listQuery, filter *db.ListTasksCreatedDescParams, read *dataVersion) (total int64, version dataVersion, err error) {
	haveVersion := read != nil
	if haveVersion {
		version = *read
	}
	if lq.tag != "" {
		id, name := tagRef(lq.tag)
		tag, err := h.q.ResolveTag(ctx, db.ResolveTagParams{UserID: filter.UserID, ID: id, Name: name})
		if err != nil {
			return 0, version, userGone(err, "resolve tag")
		}
		if !haveVersion {
			version, haveVersion = dataVersion{tag.ListVersion, tag.Horizon}, true
		}
		if tag.ID == nil {
			return 0, version, nil
		}
		filter.TagID = tag.ID
		if lq.completed == nil && lq.priority == nil && lq.pattern == nil {
			return int64(*tag.TaskCount), version, nil
		}
	}
	if filter.TagID == nil && lq.pattern == nil {
		c, err := h.q.CountTasksFromCounters(ctx, db.CountTasksFromCountersParams{UserID: filter.UserID,
			Completed: lq.completed, Priority: lq.priority})
		if err != nil {
			return 0, version, userGone(err, "count tasks")
		}
		if !haveVersion {
			version = dataVersion{c.ListVersion, c.Horizon}
		}
		return c.Total, version, nil
	}

	key, keep := lq.totalKey(filter.UserID, filter.TagID)
	if known, ok := h.totals.Get(key); ok {
		if !haveVersion {
			v, err := h.q.ListVersion(ctx, filter.UserID)
			if err != nil {
				return 0, version, userGone(err, "list version")
			}
			version, haveVersion = dataVersion{v.ListVersion, v.Horizon}, true
		}
		if version.settled() && version.xid == known.xid {
			return known.total, version, nil
		}
	}
	var r db.CountTasksRow
	if filter.TagID == nil && lq.completed == nil && lq.priority == nil && !strings.Contains(*lq.pattern, "\n") {
		var c db.CountSearchRow
		c, err = h.perRun.CountSearch(ctx, db.CountSearchParams{UserID: filter.UserID, Pattern: *lq.pattern})
		r = db.CountTasksRow(c)
	} else {
		r, err = h.perRun.CountTasks(ctx, db.CountTasksParams{UserID: filter.UserID, Completed: lq.completed,
			Priority: lq.priority, TagID: filter.TagID, Pattern: lq.pattern})
	}
	if err != nil {
		return 0, version, userGone(err, "count tasks")
	}
	// The total and its version come from one snapshot: once the version is
	// settled, no other data can ever have it.
	if counted := (dataVersion{r.ListVersion, r.Horizon}); keep && counted.settled() {
		h.totals.Put(key, knownTotal{xid: counted.xid, total: r.Total})
	}
	if !haveVersion {
		version = dataVersion{r.ListVersion, r.Horizon}
	}
	return r.Total, version, nil
}

// knownTotals remembers the totals that took counting rows (a search on a
// common word re-checks every match: tens of milliseconds for a large list),
// so that paging through results or showing them again costs one small
// statement instead. An entry holds for one data version of its user: any
// change of the user's tasks or tags makes a greater version, so a stale
// entry is never used, only overwritten or dropped.
type knownTotals = cache.Generations[totalKey, knownTotal]

// totalKey is what a total depends on besides the data: the user and the
// list's filters.
type totalKey struct {
	user      uuid.UUID
	completed int8 // 0 any, 1 pending, 2 completed
	priority  db.TaskPriority
	tagID     int32
	pattern   string
}

type knownTotal struct{ xid, total int64 }

// Bounds of knownTotals: entries per generation, and the longest search kept
// (a longer one is counted every time; it keeps the memory bounded).
const (
	maxKnownTotals  = 4096
	maxKnownPattern = 256
)

// totalKey returns the list's key in knownTotals, and whether to keep it.
func (q listQuery) totalKey(user uuid.UUID, tagID *int32) (totalKey, bool) {
	k := totalKey{user: user}
	if q.completed != nil {
		k.completed = 1
		if *q.completed {
			k.completed = 2
		}
	}
	if q.priority != nil {
		k.priority = *q.priority
	}
	if tagID != nil {
		k.tagID = *tagID
	}
	if q.pattern != nil {
		k.pattern = *q.pattern
	}
	return k, len(k.pattern) <= maxKnownPattern
}

// dataVersion is the version of a user's tasks and tags: the transaction id
// of its latest change (db/queries/changes.sql: ListVersion), and the
// horizon it was read with.
type dataVersion struct{ xid, horizon int64 }

// settled reports whether any later change must make a greater version: no
// transaction that could still commit one has an xid below the version.
func (v dataVersion) settled() bool { return v.xid < v.horizon }

// etag is the list's weak entity tag at version v: the version and a hash of
// the parameters, so that two lists never share one. While the version is
// not settled, the tag carries a random part too, so that no later request
// can match it.
func (q listQuery) etag(v dataVersion) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%d|%v|%v|%v|%s|%s", q.page, q.limit, deref(q.completed), deref(q.priority), deref(q.pattern), q.tag, q.sort)
	if !v.settled() {
		return fmt.Sprintf(`W/"%d-%x-%s"`, v.xid, h.Sum64(), rand.Text())
	}
	return fmt.Sprintf(`W/"%d-%x"`, v.xid, h.Sum64())
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func listPage(lq listQuery, version dataVersion, total int64, items []tasksapi.Task) tasksapi.ListTasks200JSONResponse {
	if items == nil {
		items = []tasksapi.Task{}
	}
	pages := (total + lq.limit - 1) / lq.limit
	return tasksapi.ListTasks200JSONResponse{
		Body:    tasksapi.TaskList{Items: items, Total: int(total), Page: lq.page, Limit: int(lq.limit), Pages: int(pages)},
		Headers: tasksapi.ListTasks200ResponseHeaders{ETag: lq.etag(version)},
	}
}
