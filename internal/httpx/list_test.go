package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/seed"
	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/internal/testdb"
)

// page is a decoded list response.
type page struct {
	ids                        []int
	total, pageN, limit, pages int
	items                      []map[string]any
}

func (a *app) list(t testing.TB, tok, path string) page {
	t.Helper()
	r := a.call(t, http.MethodGet, path, tok, nil)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	body := r.JSON(t)
	p := page{total: int(body["total"].(float64)), pageN: int(body["page"].(float64)),
		limit: int(body["limit"].(float64)), pages: int(body["pages"].(float64))}
	for _, it := range body["items"].([]any) {
		m := it.(map[string]any)
		p.items = append(p.items, m)
		p.ids = append(p.ids, int(m["id"].(float64)))
	}
	return p
}

func TestListPaginationMetadata(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	for _, n := range []int{0, 5, 50} {
		tok := a.user(t, fmt.Sprintf("meta%d@example.com", n))
		for i := range n {
			a.createTask(t, tok, map[string]any{"title": fmt.Sprintf("task %d", i)})
		}
		p := a.list(t, tok, "/api/v1/tasks")
		assert.Equal(t, n, p.total, "n=%d", n)
		assert.Equal(t, 1, p.pageN)
		assert.Equal(t, 20, p.limit)
		assert.Equal(t, (n+19)/20, p.pages)
		assert.Len(t, p.ids, min(n, 20))
		if n == 50 {
			last := a.list(t, tok, query("page", "3"))
			assert.Len(t, last.ids, 10)
			beyond := a.list(t, tok, query("page", "4"))
			assert.Empty(t, beyond.ids)
			assert.Equal(t, 50, beyond.total)
			capped := a.list(t, tok, query("limit", "500"))
			assert.Equal(t, 100, capped.limit, "above 100 is treated as 100")
			assert.Len(t, capped.ids, 50)
			assert.Equal(t, 1, capped.pages)
			seven := a.list(t, tok, query("limit", "7", "page", "8"))
			assert.Equal(t, 8, seven.pages)
			assert.Len(t, seven.ids, 1)
		}
	}
	tok := a.user(t, "meta0@example.com")
	for _, q := range [][]string{{"page", "0"}, {"page", "-1"}, {"limit", "0"}, {"limit", "-5"}} {
		b := requireError(t, a.call(t, http.MethodGet, query(q...), tok, nil), 400, "INVALID_PAGINATION", "Page and limit must be positive integers")
		assert.Equal(t, q[0], b["field"])
	}
	b := requireError(t, a.call(t, http.MethodGet, query("page", "two"), tok, nil), 422, "VALIDATION_ERROR", "")
	assert.Equal(t, "page", b["field"])
}

// seedFilterSet makes a user with tasks of known attributes, for filters.
func seedFilterSet(t *testing.T, a *app) (tok string, work, home int) {
	t.Helper()
	tok = a.user(t, "filters@example.com")
	work, home = a.createTag(t, tok, "work"), a.createTag(t, tok, "home")
	specs := []struct {
		title, desc, priority string
		done                  bool
		tags                  []int
	}{
		{"Write report", "quarterly numbers", "high", false, []int{work}},
		{"Review PR", "", "medium", true, []int{work}},
		{"Buy milk", "two litres of MILK", "low", false, []int{home}},
		{"Fix sink", "call the plumber about the report", "high", true, []int{home, work}},
		{"100% done?", "under_score", "medium", false, nil},
	}
	for _, s := range specs {
		body := map[string]any{"title": s.title, "priority": s.priority, "completed": s.done}
		if s.desc != "" {
			body["description"] = s.desc
		}
		task := a.createTask(t, tok, body)
		for _, tg := range s.tags {
			require.Equal(t, http.StatusCreated, a.call(t, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tg), tok, nil).Code)
		}
	}
	return tok, work, home
}

func titles(p page) []string {
	var out []string
	for _, it := range p.items {
		out = append(out, it["title"].(string))
	}
	sort.Strings(out)
	return out
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok, work, _ := seedFilterSet(t, a)
	cases := []struct {
		name  string
		query []string
		want  []string
	}{
		{"All", nil, []string{"100% done?", "Buy milk", "Fix sink", "Review PR", "Write report"}},
		{"StatusAll", []string{"status", "all"}, []string{"100% done?", "Buy milk", "Fix sink", "Review PR", "Write report"}},
		{"Pending", []string{"status", "pending"}, []string{"100% done?", "Buy milk", "Write report"}},
		{"Completed", []string{"status", "completed"}, []string{"Fix sink", "Review PR"}},
		{"PriorityHigh", []string{"priority", "high"}, []string{"Fix sink", "Write report"}},
		{"TagByName", []string{"tag", "work"}, []string{"Fix sink", "Review PR", "Write report"}},
		{"TagByID", []string{"tag", fmt.Sprint(work)}, []string{"Fix sink", "Review PR", "Write report"}},
		{"UnknownTag", []string{"tag", "nope"}, nil},
		{"SearchTitleCaseInsensitive", []string{"q", "MILK"}, []string{"Buy milk"}},
		{"SearchTitleOrDescription", []string{"q", "report"}, []string{"Fix sink", "Write report"}},
		{"SearchEmptyIsNoFilter", []string{"q", ""}, []string{"100% done?", "Buy milk", "Fix sink", "Review PR", "Write report"}},
		{"SearchPercentIsLiteral", []string{"q", "0%"}, []string{"100% done?"}},
		{"SearchUnderscoreIsLiteral", []string{"q", "r_s"}, []string{"100% done?"}},
		{"SearchNoMatch", []string{"q", "zebra"}, nil},
		{"PendingHigh", []string{"status", "pending", "priority", "high"}, []string{"Write report"}},
		{"CompletedWork", []string{"status", "completed", "tag", "work"}, []string{"Fix sink", "Review PR"}},
		{"WorkHighSearch", []string{"tag", "work", "priority", "high", "q", "report"}, []string{"Fix sink", "Write report"}},
		{"AllFour", []string{"tag", "work", "priority", "high", "q", "plumber", "status", "completed"}, []string{"Fix sink"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := a.list(t, tok, query(c.query...))
			assert.Equal(t, c.want, titles(p))
			assert.Equal(t, len(c.want), p.total, "the total matches the filter")
		})
	}
	t.Run("BadValues", func(t *testing.T) {
		requireError(t, a.call(t, http.MethodGet, query("status", "done"), tok, nil), 400, "INVALID_STATUS", "Status must be one of: all, pending, completed")
		requireError(t, a.call(t, http.MethodGet, query("priority", "urgent"), tok, nil), 400, "INVALID_PRIORITY", "Priority must be low, medium, or high")
		requireError(t, a.call(t, http.MethodGet, query("sort", "name"), tok, nil), 400, "INVALID_SORT_FIELD", "Sort field must be one of: due_date, priority, created_at, title")
		requireError(t, a.call(t, http.MethodGet, query("sort", "--title"), tok, nil), 400, "INVALID_SORT_FIELD", "")
	})
}

func TestListSorts(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "sorts@example.com")
	specs := []struct{ title, priority, due string }{
		{"banana", "low", "2026-03-01T00:00:00Z"},
		{"Apple", "high", ""},
		{"cherry", "medium", "2026-01-01T00:00:00Z"},
		{"apple", "high", "2026-02-01T00:00:00Z"},
		{"Date", "low", ""},
	}
	for _, s := range specs {
		body := map[string]any{"title": s.title, "priority": s.priority}
		if s.due != "" {
			body["due_date"] = s.due
		}
		a.createTask(t, tok, body)
	}
	// ids are 1..5 in creation order.
	cases := map[string][]int{
		"created_at":  {1, 2, 3, 4, 5},
		"-created_at": {5, 4, 3, 2, 1},
		"":            {5, 4, 3, 2, 1}, // the default: newest first
		"due_date":    {3, 4, 1, 2, 5}, // nulls last, ties by id
		"-due_date":   {5, 2, 1, 4, 3}, // the exact reverse
		"priority":    {2, 4, 3, 1, 5}, // high, medium, low
		"-priority":   {5, 1, 3, 4, 2},
		"title":       {2, 4, 1, 3, 5}, // apple, apple, banana, cherry, date
		"-title":      {5, 3, 1, 4, 2},
	}
	for sortKey, want := range cases {
		t.Run("Sort"+sortKey, func(t *testing.T) {
			p := a.list(t, tok, query("sort", sortKey))
			// ids are per database, so compare against the first id.
			first := a.list(t, tok, query("sort", "created_at")).ids[0]
			var rel []int
			for _, id := range p.ids {
				rel = append(rel, id-first+1)
			}
			assert.Equal(t, want, rel)
		})
	}
}

// TestStatusListsInDueDateOrder: a list filtered by status alone in due-date
// order has statements of its own (ListByStatusDue*); their pages are the
// general statement's (the same filter with a priority that every task has),
// with nulls, ties by id, paging and tags alike.
func TestStatusListsInDueDateOrder(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "status-due@example.com")
	tag := a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "errand"})
	require.Equal(t, http.StatusCreated, tag.Code, tag.Body.String())
	for i := range 23 {
		body := map[string]any{"title": fmt.Sprintf("task %d", i), "priority": "medium"}
		if i%5 != 0 {
			body["due_date"] = fmt.Sprintf("2026-0%d-01T00:00:00Z", 1+i%3) // ties, and nulls
		}
		if i%4 == 0 {
			body["tags"] = []string{"errand"}
		}
		task := a.createTask(t, tok, body)
		if i%3 == 0 {
			r := a.call(t, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", task["id"]), tok, map[string]any{"completed": true})
			require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		}
	}
	for _, status := range []string{"pending", "completed"} {
		for _, key := range []string{"due_date", "-due_date"} {
			want := a.list(t, tok, query("status", status, "sort", key, "priority", "medium", "limit", "100"))
			require.NotEmpty(t, want.ids)
			var got []map[string]any
			for pg := 1; pg <= want.total/4+1; pg++ {
				p := a.list(t, tok, query("status", status, "sort", key, "limit", "4", "page", fmt.Sprint(pg)))
				assert.Equal(t, want.total, p.total, "%s %s", status, key)
				got = append(got, p.items...)
			}
			assert.Equal(t, want.items, got, "%s by %s: pages concatenate to the general statement's list", status, key)
			for _, it := range got {
				assert.Equal(t, status == "completed", it["completed"], "%s by %s: task %v", status, key, it["id"])
			}
		}
	}
}

func TestPagingVisitsEveryTaskOnce(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "paging@example.com")
	// Many ties: 3 priorities, 4 due dates (one null), 5 titles.
	for i := range 37 {
		body := map[string]any{"title": []string{"a", "B", "c", "D", "e"}[i%5], "priority": []string{"low", "medium", "high"}[i%3]}
		if i%4 != 0 {
			body["due_date"] = fmt.Sprintf("2026-0%d-01T00:00:00Z", i%4)
		}
		a.createTask(t, tok, body)
	}
	for _, s := range []string{"created_at", "due_date", "priority", "title"} {
		for _, key := range []string{s, "-" + s} {
			seen := map[int]int{}
			var order []int
			for pg := 1; ; pg++ {
				p := a.list(t, tok, query("sort", key, "limit", "6", "page", fmt.Sprint(pg)))
				if len(p.ids) == 0 {
					break
				}
				for _, id := range p.ids {
					seen[id]++
					order = append(order, id)
				}
			}
			assert.Len(t, seen, 37, key)
			for id, n := range seen {
				assert.Equal(t, 1, n, "%s: task %d seen %d times", key, id, n)
			}
			all := a.list(t, tok, query("sort", key, "limit", "100")).ids
			assert.Equal(t, all, order, "%s: pages concatenate to the single-page order", key)
		}
	}
}

func TestListCostsConstantStatements(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "n1@example.com")
	tag := a.createTag(t, tok, "t")
	for i := range 30 {
		task := a.createTask(t, tok, map[string]any{"title": fmt.Sprintf("task %d", i)})
		a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tag), tok, nil)
	}
	cost := func(q ...string) int64 {
		before := a.queries.n.Load()
		a.list(t, tok, query(q...))
		return a.queries.n.Load() - before
	}
	for i, limit := range []string{"1", "10", "30"} {
		assert.Equal(t, int64(2), cost("limit", limit), "count, then the page with its tags (limit %s)", limit)
		assert.Equal(t, int64(2), cost("limit", limit, "status", "pending", "priority", "medium"), "counters answer status+priority")
		assert.Equal(t, int64(2), cost("limit", limit, "tag", "t"), "the tag's own count")
		search := []string{"task", "ask", "tas"}[i] // a new search each time: a known total would not be counted
		assert.Equal(t, int64(3), cost("limit", limit, "tag", "t", "q", search), "tag, count, page")
	}
	assert.Equal(t, int64(1), cost("page", "99"), "past the end: only the count")
}

func TestListTotalsStayExact(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "exact@example.com")
	other := a.user(t, "other-exact@example.com")
	tag := a.createTag(t, tok, "x")
	var ids []any
	for i := range 12 {
		task := a.createTask(t, tok, map[string]any{"title": fmt.Sprint(i), "priority": []string{"low", "medium", "high"}[i%3]})
		ids = append(ids, task["id"])
		a.createTask(t, other, map[string]any{"title": "noise"})
	}
	for _, id := range ids[:6] {
		a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", id, tag), tok, nil)
	}
	a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", ids[0]), tok, map[string]any{"completed": true, "priority": "high"})
	a.write(t, http.StatusOK, http.MethodPut, fmt.Sprintf("/api/v1/tasks/%v", ids[1]), tok, map[string]any{"title": "r", "completed": true})
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v", ids[2]), tok, nil)
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", ids[3], tag), tok, nil)

	// Every filter combination agrees with counting the rows themselves.
	for _, status := range []string{"", "pending", "completed"} {
		for _, pr := range []string{"", "low", "medium", "high"} {
			for _, tg := range []string{"", "x"} {
				q := []string{"status", status, "priority", pr, "tag", tg, "limit", "100"}
				p := a.list(t, tok, query(q...))
				assert.Equal(t, len(p.ids), p.total, "%v", q)
			}
		}
	}
	assert.Equal(t, 11, a.list(t, tok, "/api/v1/tasks").total)
	assert.Equal(t, 4, a.list(t, tok, query("tag", "x")).total)
	// Deleting the tag drops its links; deleting the user drops everything.
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tags/%d", tag), tok, nil)
	assert.Equal(t, 11, a.list(t, tok, "/api/v1/tasks").total)
	var stray int
	_, err := a.pool.Exec(t.Context(), `DELETE FROM users WHERE email = 'exact@example.com'`)
	require.NoError(t, err)
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT count(*) FROM task_counts c JOIN users u ON u.id = c.user_id WHERE u.email = 'exact@example.com'`).Scan(&stray))
	assert.Zero(t, stray)
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT count(*) FROM task_search s WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = s.task_id)`).Scan(&stray))
	assert.Zero(t, stray, "the search text of deleted tasks is gone with them")
	assert.Equal(t, 12, a.list(t, other, "/api/v1/tasks").total)
}

// TestSearchNewlines: the search runs on one text per task, the title and the
// description joined by a newline; a search that contains a newline still
// matches only within the title or within the description.
func TestSearchNewlines(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "newlines@example.com")
	a.createTask(t, tok, map[string]any{"title": "ends with abc", "description": "def starts it"})
	a.createTask(t, tok, map[string]any{"title": "two\nlines", "description": "one\nMore line"})
	tag := a.createTag(t, tok, "t")
	for _, p := range a.list(t, tok, query("limit", "100")).ids {
		a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%d/tags/%d", p, tag), tok, nil)
	}
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"abc\ndef", nil}, // would span the title and the description
		{"c\nd", nil},     // the same, shorter than a trigram
		{"two\nlines", []string{"two\nlines"}},
		{"ONE\nmore", []string{"two\nlines"}}, // within the description, any case
		{"lines\none", nil},
		{"abc", []string{"ends with abc"}},
		{"def", []string{"ends with abc"}},
	} {
		for _, extra := range [][]string{nil, {"tag", "t"}, {"status", "pending"}} {
			p := a.list(t, tok, query(append([]string{"q", c.q}, extra...)...))
			assert.Equal(t, c.want, titles(p), "q=%q %v", c.q, extra)
			assert.Equal(t, len(c.want), p.total, "q=%q %v", c.q, extra)
		}
	}
}

// TestSearchTotalsAreRemembered: a search's total is counted once per version
// of the user's data: showing or paging through the same search again costs
// the version and the page, and any change of the user's tasks or
// tags has it counted again.
func TestSearchTotalsAreRemembered(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "remembered@example.com")
	other := a.user(t, "remembered-other@example.com")
	var ids []any
	for i := range 30 {
		ids = append(ids, a.createTask(t, tok, map[string]any{"title": fmt.Sprint("meeting ", i)})["id"])
		a.createTask(t, other, map[string]any{"title": "meeting elsewhere"})
	}
	a.createTask(t, tok, map[string]any{"title": "something else"})
	search := query("q", "MEET", "limit", "10")

	// Once a count has been made at a settled version (no older transaction
	// still running anywhere), the next request is answered without one.
	a.settled(t)
	poll(t, func() bool {
		counts := a.queries.ran("CountSearch")
		before := a.queries.n.Load()
		p := a.list(t, tok, search)
		require.Equal(t, 30, p.total)
		return a.queries.ran("CountSearch") == counts && a.queries.n.Load()-before == 2
	}, "the total was never remembered")
	counts := a.queries.ran("CountSearch")
	p := a.list(t, tok, query("q", "MEET", "limit", "10", "page", "3"))
	assert.Equal(t, 30, p.total, "another page of the same search")
	assert.Len(t, p.ids, 10)
	assert.Equal(t, counts, a.queries.ran("CountSearch"), "paging does not count again")
	assert.Equal(t, 30, a.list(t, other, search).total, "each user has their own total")

	// The remembered total is used as long as the data version holds: a
	// change made behind the service's back (no new version) shows it.
	_, err := a.pool.Exec(t.Context(), `UPDATE tasks SET title = 'renamed' WHERE id = $1`, ids[0])
	require.NoError(t, err)
	assert.Equal(t, 30, a.list(t, tok, search).total, "remembered")

	// Any change through the service makes a new version: counted again.
	a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", ids[1]), tok, map[string]any{"completed": true})
	assert.Equal(t, 29, a.list(t, tok, search).total)
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v", ids[2]), tok, nil)
	assert.Equal(t, 28, a.list(t, tok, search).total)
	a.createTask(t, tok, map[string]any{"title": "a new meeting"})
	assert.Equal(t, 29, a.list(t, tok, search).total)
	a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", ids[3]), tok, map[string]any{"title": "moved"})
	assert.Equal(t, 28, a.list(t, tok, search).total)
	a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", ids[3]), tok, map[string]any{"description": "a meeting after all"})
	assert.Equal(t, 29, a.list(t, tok, search).total, "found in the description")

	// With a tag and a status the total is remembered by those filters too.
	tag := a.createTag(t, tok, "w")
	for _, id := range ids[4:9] {
		a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", id, tag), tok, nil)
	}
	a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", ids[4]), tok, map[string]any{"completed": true})
	for range 3 {
		assert.Equal(t, 5, a.list(t, tok, query("q", "meet", "tag", "w")).total)
		assert.Equal(t, 4, a.list(t, tok, query("q", "meet", "tag", "w", "status", "pending")).total)
		assert.Equal(t, 2, a.list(t, tok, query("q", "meet", "status", "completed")).total)
	}
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", ids[5], tag), tok, nil)
	assert.Equal(t, 4, a.list(t, tok, query("q", "meet", "tag", "w")).total)
	assert.Equal(t, 3, a.list(t, tok, query("q", "meet", "tag", "w", "status", "pending")).total)
}

// TestPagePastTheEndIsEmpty: a page past the last one is 200 with no items,
// whatever its number (offsets near the int64 top once wrapped around).
func TestPagePastTheEndIsEmpty(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "far@example.com")
	for range 3 {
		a.createTask(t, tok, map[string]any{"title": "t"})
	}
	for _, q := range []string{"page=2&limit=3", "page=1000000", "page=461168601842738792", "page=9223372036854775807&limit=100",
		"page=9223372036854775807&limit=1", "page=4611686018427387904&limit=2"} {
		p := a.list(t, tok, "/api/v1/tasks?"+q)
		assert.Empty(t, p.items, q)
		assert.Equal(t, 3, p.total, q)
	}
}

// sqlCapture keeps the last list statement the pool ran, with its arguments.
type sqlCapture struct {
	mu   sync.Mutex
	sql  string
	args []any
}

func (c *sqlCapture) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(d.SQL, "-- name: List") {
		c.mu.Lock()
		c.sql, c.args = d.SQL, d.Args
		c.mu.Unlock()
	}
	return ctx
}

func (c *sqlCapture) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestListPlansUseTheirIndexes: the list statements, planned for their
// parameters as the server sends them, walk an index, never the whole table;
// so do the plans PostgreSQL may keep of the statements the server prepares
// (a list filtered by nothing, or by status alone in due-date order): their
// generic plans, checked too, walk the order's index. The plans are logged
// (go test -v).
func TestListPlansUseTheirIndexes(t *testing.T) {
	t.Parallel()
	user := seed.Options{Email: "plans@example.com", Password: "plans-password", Tasks: 10_000, Tags: 20, Seed: 2}
	capture := &sqlCapture{}
	a := newApp(t, func(o *options) {
		o.seedKey = fmt.Sprintf("plans-%d-%d-%d", user.Tasks, user.Tags, user.Seed)
		o.seedFill = func(ctx context.Context, pool *pgxpool.Pool) error {
			if _, err := seed.HeavyUser(ctx, pool, user); err != nil {
				return err
			}
			_, err := seed.HeavyUser(ctx, pool, seed.Options{Email: "other@example.com", Password: "other-password", Tasks: 10_000, Tags: 20, Seed: 3})
			return err
		}
		o.configure = func(c *pgxpool.Config) { store.AddTracer(c, capture) }
	})
	r := a.loginRaw(t, user.Email, user.Password)
	require.Equal(t, http.StatusOK, r.Code)
	tok := r.JSON(t)["access_token"].(string)
	kept := map[string]string{ // the generic plan's index
		"default":              "idx_tasks_user_id",
		"by title":             "idx_tasks_user_title",
		"pending by due":       "idx_tasks_user_completed",
		"completed by -due":    "idx_tasks_user_completed",
		"by due, any status":   "idx_tasks_user_due_date",
		"pending, by priority": "", // planned for its values
	}
	for name, q := range map[string]string{
		"default":              "/api/v1/tasks",
		"by title":             "/api/v1/tasks?sort=title",
		"pending by due":       "/api/v1/tasks?status=pending&sort=due_date",
		"completed by -due":    "/api/v1/tasks?status=completed&sort=-due_date",
		"by due, any status":   "/api/v1/tasks?sort=due_date",
		"pending, by priority": "/api/v1/tasks?status=pending&sort=priority",
		"search":               "/api/v1/tasks?q=passport",
		"search, common":       "/api/v1/tasks?q=ing&status=pending",
		"by tag, by title":     "/api/v1/tasks?tag=1&sort=title",
	} {
		capture.mu.Lock()
		capture.sql = ""
		capture.mu.Unlock()
		require.Equal(t, http.StatusOK, a.call(t, http.MethodGet, q, tok, nil).Code, name)
		capture.mu.Lock()
		sql, args := capture.sql, capture.args
		capture.mu.Unlock()
		if sql == "" {
			continue // nothing on that page: the list statement did not run
		}
		rows, err := a.pool.Query(t.Context(), "EXPLAIN "+sql, args...)
		require.NoError(t, err)
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		text := strings.Join(plan, "\n")
		t.Logf("%s (%s, through a pooler: %v):\n%s", name, q, testdb.ThroughPooler(), text)
		assert.NotContains(t, text, "Seq Scan on tasks", name)
		if strings.HasPrefix(name, "search") {
			assert.NotContains(t, text, "SubPlan", name) // a join, not a sub-plan of every match
		}
		assert.Contains(t, text, "Index", name)
		if index := kept[name]; index != "" {
			text := genericPlan(t, a.pool, sql, args)
			t.Logf("%s, generic plan:\n%s", name, text)
			assert.Regexp(t, `Index Scan (Backward )?using `+index+` on tasks t\b`, text, name)
			assert.NotContains(t, text, "Seq Scan on tasks", name)
			assert.NotContains(t, text, "Bitmap Heap Scan on tasks", name)
		}
	}
}

// genericPlan is the plan PostgreSQL would keep of a statement: prepared and
// explained with plan_cache_mode = force_generic_plan, in a transaction (so
// on one server connection, through a pooler too) that is rolled back.
func genericPlan(t *testing.T, pool *pgxpool.Pool, sql string, args []any) string {
	t.Helper()
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(t.Context(), "SET LOCAL plan_cache_mode = force_generic_plan")
	require.NoError(t, err)
	_, err = tx.Exec(t.Context(), "PREPARE generic_plan_of_list AS "+sql)
	require.NoError(t, err)
	// EXECUTE's arguments are literals: a utility statement takes no
	// parameters. Each one is quoted text, or NULL, cast by EXECUTE to its
	// parameter's type.
	literals := make([]string, len(args))
	for i, arg := range args {
		v := reflect.ValueOf(arg)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				literals[i] = "NULL"
				continue
			}
			v = v.Elem()
		}
		literals[i] = "'" + strings.ReplaceAll(fmt.Sprint(v.Interface()), "'", "''") + "'"
	}
	rows, err := tx.Query(t.Context(), "EXPLAIN EXECUTE generic_plan_of_list("+strings.Join(literals, ", ")+")")
	require.NoError(t, err)
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	_, err = tx.Exec(t.Context(), "DEALLOCATE generic_plan_of_list")
	require.NoError(t, err)
	return strings.Join(plan, "\n")
}

// TestListPageCarriesTags: the page and its tags come from one statement, a
// row per task and tag; each task gets its own tags, by name, and a task
// without tags an empty list, in the page's order.
func TestListPageCarriesTags(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "page-tags@example.com")
	names := []string{"zeta", "alpha", "mid"}
	tagIDs := map[string]int{}
	for _, n := range names {
		tagIDs[n] = a.createTag(t, tok, n)
	}
	var ids []any
	for i := range 4 {
		ids = append(ids, a.createTask(t, tok, map[string]any{"title": fmt.Sprint("task ", i)})["id"])
	}
	tag := func(task any, name string) {
		r := a.call(t, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task, tagIDs[name]), tok, nil)
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
	}
	tag(ids[0], "zeta")
	tag(ids[0], "alpha")
	tag(ids[0], "mid")
	tag(ids[2], "mid")
	want := map[string][]string{"task 0": {"alpha", "mid", "zeta"}, "task 1": {}, "task 2": {"mid"}, "task 3": {}}
	for _, order := range []string{"created_at", "-created_at", "title", "-title"} {
		p := a.list(t, tok, query("sort", order, "limit", "3"))
		require.Len(t, p.items, 3, order)
		var inOrder []string
		for _, it := range p.items {
			got := []string{}
			for _, g := range it["tags"].([]any) {
				got = append(got, g.(map[string]any)["name"].(string))
			}
			assert.Equal(t, want[it["title"].(string)], got, "%s: %s", order, it["title"])
			inOrder = append(inOrder, it["title"].(string))
		}
		if order == "created_at" || order == "title" {
			assert.Equal(t, []string{"task 0", "task 1", "task 2"}, inOrder, "the page's order")
		}
	}
}

// TestUnparseableQueryIs422: a query string that does not parse (a ";",
// which Go's parser drops with its parameter, or a bad %-escape) is
// refused as any other malformed query value is, not answered without the
// parameter.
func TestUnparseableQueryIs422(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "query@example.com")
	for q, field := range map[string]string{
		"sort=foo;drop":           "sort",
		"q=%zz":                   "q",
		"status=pending&x;y=1":    "",
		"page=1&limit=%":          "limit",
		";":                       "",
		"sort=title&priority=a;b": "priority",
	} {
		r := a.call(t, http.MethodGet, "/api/v1/tasks?"+q, tok, nil)
		b := requireError(t, r, 422, "VALIDATION_ERROR", "")
		if field == "" {
			assert.NotContains(t, b, "field", q)
		} else {
			assert.Equal(t, field, b["field"], q)
			assert.True(t, strings.HasPrefix(b["detail"].(string), field+": "), "%s: %s", q, b["detail"])
		}
	}
	requireError(t, a.do(t, http.MethodGet, "/api/v1/tasks?sort=foo;drop", "", ""), 401, "MISSING_TOKEN", "")
	requireError(t, a.call(t, http.MethodGet, "/api/v1/changes?since=x;y", tok, nil), 422, "VALIDATION_ERROR", "")
	assert.Equal(t, http.StatusOK, a.call(t, http.MethodGet, "/api/v1/tasks?q=a%3Bb%25", tok, nil).Code, "escaped, they are text")
}
