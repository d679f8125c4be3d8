package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/store"
)

// Everything about GET /tasks lives here: its parameters, the orders and
// their statements, the totals. Its defaults (page 1, limit 20, status all,
// sort -created_at) are the spec's: the request validator fills them in.

// maxPageSize is the largest page; a larger limit is treated as this.
const maxPageSize = 100

// listStatement lists a page in one order. The statements take the same
// parameters, so one struct converts to each.
type listStatement func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error)

// sortOrders is every `sort` value the list accepts and its statement; each
// order has an index that yields it (db/migrations), ending in id.
var sortOrders = map[string]listStatement{
	"created_at": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
		return q.ListTasksCreatedAsc(ctx, db.ListTasksCreatedAscParams(p))
	},
	"-created_at": (*db.Queries).ListTasksCreatedDesc,
	"due_date": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
		return q.ListTasksDueAsc(ctx, db.ListTasksDueAscParams(p))
	},
	"-due_date": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
		return q.ListTasksDueDesc(ctx, db.ListTasksDueDescParams(p))
	},
	"priority": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
		return q.ListTasksPriorityAsc(ctx, db.ListTasksPriorityAscParams(p))
	},
	"-priority": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
		return q.ListTasksPriorityDesc(ctx, db.ListTasksPriorityDescParams(p))
	},
	"title": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
		return q.ListTasksTitleAsc(ctx, db.ListTasksTitleAscParams(p))
	},
	"-title": func(q *db.Queries, ctx context.Context, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
		return q.ListTasksTitleDesc(ctx, db.ListTasksTitleDescParams(p))
	},
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
// total. It costs at most three statements whatever the page size: the total
// (with the tag lookup when there is a `tag`), the page and the page's tags;
// with an If-None-Match that still holds, one. Its weak ETag is the user's
// change number, read before the page (a change committed meanwhile makes a
// later number, so a 304 never hides one), with the list's parameters.
func (h *TasksHandler) ListTasks(ctx context.Context, req tasksapi.ListTasksRequestObject) (tasksapi.ListTasksResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	lq, err := parseListQuery(req.Params)
	if err != nil {
		return nil, err
	}
	if req.Params.IfNoneMatch != nil {
		v, err := h.q.ListVersion(ctx, uid)
		switch {
		case store.IsNotFound(err):
			return nil, apperr.InvalidToken
		case err != nil:
			return nil, fmt.Errorf("list version: %w", err)
		}
		if tag := lq.etag(dataVersion{v.ListVersion, v.Horizon}); noneMatch(req.Params.IfNoneMatch, tag) {
			return tasksapi.ListTasks304Response{Headers: tasksapi.ListTasks304ResponseHeaders{ETag: tag}}, nil
		}
	}
	filter := db.ListTasksCreatedDescParams{UserID: uid, Completed: lq.completed, Priority: lq.priority,
		Pattern: lq.pattern, PageLimit: int32(lq.limit), PageOffset: lq.offset()}

	total, version, err := h.total(ctx, lq, &filter)
	if err != nil {
		return nil, err
	}
	if int64(filter.PageOffset) >= total { // also: an unknown tag, which matches nothing
		return listPage(lq, version, total, nil), nil
	}

	rows, err := lq.list(h.q, ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	tags, err := h.tagsOf(ctx, rows)
	if err != nil {
		return nil, err
	}
	items := make([]tasksapi.Task, len(rows))
	for i, t := range rows {
		items[i] = toTask(t, tags[t.ID])
	}
	return listPage(lq, version, total, items), nil
}

// total returns the exact number of tasks the list's filters match, from the
// counters when they can answer, and the version of the user's data. With a `tag` filter it resolves the tag into filter.TagID; the
// user's having no such tag makes the total 0. A user that is gone is
// INVALID_TOKEN.
func (h *TasksHandler) total(ctx context.Context, lq listQuery, filter *db.ListTasksCreatedDescParams) (total int64, version dataVersion, err error) {
	count := db.CountTasksParams{UserID: filter.UserID, Completed: lq.completed, Priority: lq.priority, Pattern: lq.pattern}
	if lq.tag != "" {
		id, name := tagRef(lq.tag)
		tag, err := h.q.ResolveTag(ctx, db.ResolveTagParams{UserID: filter.UserID, ID: id, Name: name})
		switch {
		case store.IsNotFound(err):
			return 0, version, apperr.InvalidToken
		case err != nil:
			return 0, version, fmt.Errorf("resolve tag: %w", err)
		}
		version = dataVersion{tag.ListVersion, tag.Horizon}
		if tag.ID == nil {
			return 0, version, nil
		}
		filter.TagID, count.TagID = tag.ID, tag.ID
		if lq.completed == nil && lq.priority == nil && lq.pattern == nil {
			return int64(*tag.TaskCount), version, nil
		}
	}
	var r db.CountTasksRow
	if count.TagID != nil || lq.pattern != nil {
		r, err = h.q.CountTasks(ctx, count)
	} else {
		var c db.CountTasksFromCountersRow
		c, err = h.q.CountTasksFromCounters(ctx, db.CountTasksFromCountersParams{UserID: filter.UserID,
			Completed: lq.completed, Priority: lq.priority})
		r = db.CountTasksRow(c)
	}
	switch {
	case store.IsNotFound(err):
		return 0, version, apperr.InvalidToken
	case err != nil:
		return 0, version, fmt.Errorf("count tasks: %w", err)
	}
	if count.TagID == nil { // else the tag lookup's came first
		version = dataVersion{r.ListVersion, r.Horizon}
	}
	return r.Total, version, nil
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
