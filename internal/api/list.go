package api

import (
	"context"
	"fmt"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/store"
)

// ListTasks returns a page of the user's tasks with their tags and the exact
// total. It costs at most four statements whatever the page size: the tag
// lookup (with `tag`), the total, the page and the page's tags.
func (h *TasksHandler) ListTasks(ctx context.Context, req tasksapi.ListTasksRequestObject) (tasksapi.ListTasksResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	lq, err := parseListQuery(p.Page, p.Limit, p.Q, p.Status, p.Priority, p.Tag, p.Sort)
	if err != nil {
		return nil, err
	}
	filter := db.ListTasksCreatedDescParams{UserID: uid, Completed: lq.completed, Priority: lq.priority,
		Pattern: lq.pattern, PageLimit: int32(lq.limit), PageOffset: lq.offset()}

	total, err := h.total(ctx, lq, &filter)
	if err != nil {
		return nil, err
	}
	if total == 0 { // none, or no user any more
		if err := h.missing(ctx, nil); err != nil {
			return nil, err
		}
	}
	if int64(filter.PageOffset) >= total { // also: an unknown tag, which matches nothing
		return listPage(lq, total, nil), nil
	}

	rows, err := h.listRows(ctx, lq.sort, filter)
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
	return listPage(lq, total, items), nil
}

// total returns the exact number of tasks the list's filters match, from the
// counters when they can answer. With a `tag` filter it resolves the tag into
// filter.TagID; the user's having no such tag makes the total 0.
func (h *TasksHandler) total(ctx context.Context, lq listQuery, filter *db.ListTasksCreatedDescParams) (total int64, err error) {
	count := db.CountTasksParams{UserID: filter.UserID, Completed: lq.completed, Priority: lq.priority, Pattern: lq.pattern}
	if lq.tag != "" {
		id, name := tagRef(lq.tag)
		tag, err := h.q.ResolveTag(ctx, db.ResolveTagParams{UserID: filter.UserID, ID: id, Name: name})
		if store.IsNotFound(err) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("resolve tag: %w", err)
		}
		filter.TagID, count.TagID = &tag.ID, &tag.ID
		if lq.completed == nil && lq.priority == nil && lq.pattern == nil {
			return int64(tag.TaskCount), nil
		}
	}
	if count.TagID != nil || lq.pattern != nil {
		total, err = h.q.CountTasks(ctx, count)
	} else {
		total, err = h.q.CountTasksFromCounters(ctx, db.CountTasksFromCountersParams{UserID: filter.UserID,
			Completed: lq.completed, Priority: lq.priority})
	}
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return total, nil
}

// listRows runs the statement of the requested order. The statements take
// the same parameters, so one struct converts to each.
func (h *TasksHandler) listRows(ctx context.Context, sort string, p db.ListTasksCreatedDescParams) ([]db.Task, error) {
	switch sort {
	case "created_at":
		return h.q.ListTasksCreatedAsc(ctx, db.ListTasksCreatedAscParams(p))
	case "-created_at":
		return h.q.ListTasksCreatedDesc(ctx, p)
	case "due_date":
		return h.q.ListTasksDueAsc(ctx, db.ListTasksDueAscParams(p))
	case "-due_date":
		return h.q.ListTasksDueDesc(ctx, db.ListTasksDueDescParams(p))
	case "priority":
		return h.q.ListTasksPriorityAsc(ctx, db.ListTasksPriorityAscParams(p))
	case "-priority":
		return h.q.ListTasksPriorityDesc(ctx, db.ListTasksPriorityDescParams(p))
	case "title":
		return h.q.ListTasksTitleAsc(ctx, db.ListTasksTitleAscParams(p))
	case "-title":
		return h.q.ListTasksTitleDesc(ctx, db.ListTasksTitleDescParams(p))
	}
	return nil, fmt.Errorf("unknown sort %q", sort) // parseListQuery admits only the above
}

func listPage(lq listQuery, total int64, items []tasksapi.Task) tasksapi.ListTasks200JSONResponse {
	if items == nil {
		items = []tasksapi.Task{}
	}
	pages := (total + int64(lq.limit) - 1) / int64(lq.limit)
	return tasksapi.ListTasks200JSONResponse{Items: items, Total: int(total), Page: lq.page, Limit: lq.limit, Pages: int(pages)}
}
