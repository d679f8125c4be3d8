package httpx_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateTask(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "create@example.com")

	t.Run("Defaults", func(t *testing.T) {
		task := a.createTask(t, tok, map[string]any{"title": "  Buy milk  "})
		assert.Equal(t, "Buy milk", task["title"], "trimmed")
		assert.Nil(t, task["description"])
		assert.Equal(t, false, task["completed"])
		assert.Equal(t, "medium", task["priority"])
		assert.Nil(t, task["due_date"])
		assert.Equal(t, []any{}, task["tags"])
		assert.NotEmpty(t, task["user_id"])
		assert.Equal(t, task["created_at"], task["updated_at"])
		for _, k := range []string{"id", "title", "description", "completed", "priority", "due_date", "user_id", "created_at", "updated_at", "tags"} {
			assert.Contains(t, task, k)
		}
	})
	t.Run("AllFields", func(t *testing.T) {
		task := a.createTask(t, tok, map[string]any{"title": "Pay rent", "description": "By transfer", "completed": true,
			"priority": "high", "due_date": "2020-01-31T09:30:00+01:00"})
		assert.Equal(t, "By transfer", task["description"])
		assert.Equal(t, true, task["completed"])
		assert.Equal(t, "high", task["priority"])
		assert.Equal(t, "2020-01-31T08:30:00Z", task["due_date"], "past dates allowed, returned in UTC")
	})
	t.Run("UserIDComesFromTheToken", func(t *testing.T) {
		me := a.me(t, tok).JSON(t)
		task := a.createTask(t, tok, map[string]any{"title": "mine", "user_id": "00000000-0000-0000-0000-000000000001"})
		assert.Equal(t, me["id"], task["user_id"])
	})
}

func TestTaskValidation(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "valid@example.com")
	post := func(t *testing.T, body map[string]any) response {
		t.Helper()
		return a.call(t, http.MethodPost, "/api/v1/tasks", tok, body)
	}

	t.Run("TitleBoundary", func(t *testing.T) {
		assert.Equal(t, http.StatusCreated, post(t, map[string]any{"title": strings.Repeat("t", 200)}).Code)
		assert.Equal(t, http.StatusCreated, post(t, map[string]any{"title": strings.Repeat("é", 200)}).Code, "characters, not bytes")
		b := requireError(t, post(t, map[string]any{"title": strings.Repeat("t", 201)}), 400, "INVALID_TITLE", "Title is required and must be 1-200 characters")
		assert.Equal(t, "title", b["field"])
		requireError(t, post(t, map[string]any{"title": ""}), 400, "INVALID_TITLE", "")
		requireError(t, post(t, map[string]any{"title": "   \t "}), 400, "INVALID_TITLE", "")
	})
	t.Run("MissingTitleIsStructural", func(t *testing.T) {
		b := requireError(t, post(t, map[string]any{"priority": "low"}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "title", b["field"])
	})
	t.Run("DescriptionBoundary", func(t *testing.T) {
		assert.Equal(t, http.StatusCreated, post(t, map[string]any{"title": "d", "description": strings.Repeat("d", 1000)}).Code)
		requireError(t, post(t, map[string]any{"title": "d", "description": strings.Repeat("d", 1001)}), 400, "DESCRIPTION_TOO_LONG", "Description cannot exceed 1000 characters")
	})
	t.Run("Priority", func(t *testing.T) {
		for _, p := range []string{"urgent", "HIGH", ""} {
			requireError(t, post(t, map[string]any{"title": "p", "priority": p}), 400, "INVALID_PRIORITY", "Priority must be low, medium, or high")
		}
		requireError(t, post(t, map[string]any{"title": "p", "priority": 3}), 422, "VALIDATION_ERROR", "")
	})
	t.Run("DueDate", func(t *testing.T) {
		for _, d := range []string{"tomorrow", "2026-13-01T00:00:00Z", "2026-02-30T10:00:00Z", "01/02/2026", ""} {
			requireError(t, post(t, map[string]any{"title": "d", "due_date": d}), 400, "INVALID_DUE_DATE", "Due date must be a valid ISO 8601 datetime")
		}
		for _, d := range []string{"2026-12-01T17:00:00Z", "2026-12-01T17:00:00.123456+05:30", "2026-12-01T17:00:00"} {
			assert.Equal(t, http.StatusCreated, post(t, map[string]any{"title": "d", "due_date": d}).Code, d)
		}
	})
	t.Run("WrongTypesAre422", func(t *testing.T) {
		b := requireError(t, post(t, map[string]any{"title": 5}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "title", b["field"])
		b = requireError(t, post(t, map[string]any{"title": "x", "completed": "yes"}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "completed", b["field"])
		requireError(t, a.do(t, http.MethodPost, "/api/v1/tasks", "application/json", "{", "Authorization", "Bearer "+tok), 422, "VALIDATION_ERROR", "")
	})
	t.Run("NonIntegerIDIs422", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete} {
			b := requireError(t, a.call(t, m, "/api/v1/tasks/abc", tok, map[string]any{"title": "x"}), 422, "VALIDATION_ERROR", "")
			assert.Equal(t, "task_id", b["field"], m)
		}
		b := requireError(t, a.call(t, http.MethodPost, "/api/v1/tasks/1/tags/x", tok, nil), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "tag_id", b["field"])
		requireError(t, a.call(t, http.MethodGet, "/api/v1/tasks/99999999999", tok, nil), 404, "TASK_NOT_FOUND", "Task not found")
	})
	t.Run("AnonymousBadIDIs401", func(t *testing.T) {
		requireError(t, a.do(t, http.MethodGet, "/api/v1/tasks/abc", "", ""), 401, "MISSING_TOKEN", "")
	})
}

func TestUpdateTask(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "update@example.com")
	full := map[string]any{"title": "Full", "description": "desc", "completed": true, "priority": "high", "due_date": "2030-01-01T00:00:00Z"}

	t.Run("PutReplacesAndResetsOmitted", func(t *testing.T) {
		task := a.createTask(t, tok, full)
		path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
		a.clock.Advance(time.Second)
		r := a.call(t, http.MethodPut, path, tok, map[string]any{"title": "Replaced"})
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		got := r.JSON(t)
		assert.Equal(t, "Replaced", got["title"])
		assert.Nil(t, got["description"])
		assert.Equal(t, false, got["completed"])
		assert.Equal(t, "medium", got["priority"])
		assert.Nil(t, got["due_date"])
		assert.Equal(t, task["created_at"], got["created_at"])
		assert.NotEqual(t, task["updated_at"], got["updated_at"])
		assert.Equal(t, a.clock.Now().UTC().Format(time.RFC3339Nano), got["updated_at"], "task times come from the service's clock")
		b := requireError(t, a.call(t, http.MethodPut, path, tok, map[string]any{"description": "no title"}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "title", b["field"])
		requireError(t, a.call(t, http.MethodPut, path, tok, map[string]any{"title": " "}), 400, "INVALID_TITLE", "")
	})
	t.Run("PatchChangesOnlyWhatIsSent", func(t *testing.T) {
		task := a.createTask(t, tok, full)
		path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
		a.clock.Advance(time.Second)
		r := a.call(t, http.MethodPatch, path, tok, map[string]any{"completed": false})
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		got := r.JSON(t)
		assert.Equal(t, false, got["completed"])
		for _, k := range []string{"title", "description", "priority", "due_date", "created_at"} {
			assert.Equal(t, task[k], got[k], k)
		}
		assert.NotEqual(t, task["updated_at"], got["updated_at"], "updated_at moves on every change")

		got = a.call(t, http.MethodPatch, path, tok, map[string]any{"description": nil, "due_date": nil}).JSON(t)
		assert.Nil(t, got["description"], "explicit null clears")
		assert.Nil(t, got["due_date"])
		assert.Equal(t, "Full", got["title"])

		got = a.call(t, http.MethodPatch, path, tok, map[string]any{"completed": true, "title": " New ", "priority": "low"}).JSON(t)
		assert.Equal(t, true, got["completed"])
		assert.Equal(t, "New", got["title"])
		assert.Equal(t, "low", got["priority"])

		before := got["updated_at"]
		got = a.call(t, http.MethodPatch, path, tok, map[string]any{}).JSON(t)
		assert.Equal(t, before, got["updated_at"], "an empty patch changes nothing")
	})
	t.Run("PatchValidates", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/tasks/%v", a.createTask(t, tok, full)["id"])
		requireError(t, a.call(t, http.MethodPatch, path, tok, map[string]any{"title": ""}), 400, "INVALID_TITLE", "")
		requireError(t, a.call(t, http.MethodPatch, path, tok, map[string]any{"priority": "meh"}), 400, "INVALID_PRIORITY", "")
		requireError(t, a.call(t, http.MethodPatch, path, tok, map[string]any{"due_date": "soon"}), 400, "INVALID_DUE_DATE", "")
		requireError(t, a.call(t, http.MethodPatch, path, tok, map[string]any{"description": strings.Repeat("x", 1001)}), 400, "DESCRIPTION_TOO_LONG", "")
		b := requireError(t, a.call(t, http.MethodPatch, path, tok, map[string]any{"title": nil}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "title", b["field"])
		requireError(t, a.call(t, http.MethodPatch, "/api/v1/tasks/424242", tok, map[string]any{"completed": true}), 404, "TASK_NOT_FOUND", "")
	})
}

func TestDeleteTaskKeepsTags(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "del@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "doomed"})
	tag := a.createTag(t, tok, "keep")
	path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
	require.Equal(t, http.StatusCreated, a.call(t, http.MethodPost, fmt.Sprintf("%s/tags/%d", path, tag), tok, nil).Code)

	r := a.call(t, http.MethodDelete, path, tok, nil)
	assert.Equal(t, http.StatusNoContent, r.Code)
	assert.Empty(t, r.Body.String())
	requireError(t, a.call(t, http.MethodGet, path, tok, nil), 404, "TASK_NOT_FOUND", "Task not found")
	requireError(t, a.call(t, http.MethodDelete, path, tok, nil), 404, "TASK_NOT_FOUND", "")
	var links int
	require.NoError(t, a.pool.QueryRow(t.Context(), "SELECT count(*) FROM task_tag_link").Scan(&links))
	assert.Zero(t, links, "the link went with the task")
	assert.Equal(t, http.StatusOK, a.call(t, http.MethodGet, "/api/v1/tags", tok, nil).Code)
	assert.Contains(t, a.call(t, http.MethodGet, "/api/v1/tags", tok, nil).Body.String(), `"name":"keep"`, "the tag stays")
}

// query builds a list URL.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "/api/v1/tasks?" + v.Encode()
}

// TestNULIsRefused: text with a NUL character, which PostgreSQL cannot
// store, is refused by the schema: a 422 naming the field, or the field's
// own 400 where it has one; never a 500.
func TestNULIsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "nul@example.com")
	for field, r := range map[string]response{
		"q":           a.call(t, http.MethodGet, "/api/v1/tasks?q=a%00b", tok, nil),
		"tag":         a.call(t, http.MethodGet, "/api/v1/tasks?tag=a%00b", tok, nil),
		"description": a.call(t, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": "t", "description": "a\u0000b"}),
		"name":        a.postJSON(t, "/api/v1/auth/register", map[string]any{"email": "nul2@example.com", "password": "correct-horse", "name": "a\u0000"}),
	} {
		b := requireError(t, r, 422, "VALIDATION_ERROR", "")
		assert.Equal(t, field, b["field"])
	}
	requireError(t, a.call(t, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": "a\u0000b"}), 400, "INVALID_TITLE", "")
	requireError(t, a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "a\u0000b"}), 400, "INVALID_TAG_NAME", "")
	// An address with a NUL is no address: wrong credentials, like any other.
	requireError(t, a.loginRaw(t, "a\u0000@example.com", "correct-horse"), 401, "INVALID_CREDENTIALS", "")
	assert.Equal(t, 0, a.list(t, tok, "/api/v1/tasks").total, "nothing was stored")
}

// TestOneTaskCostsOneStatement: reading, patching or replacing a task is one
// statement, its tags included.
func TestOneTaskCostsOneStatement(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "one-statement@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "tagged"})
	path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
	for _, name := range []string{"b", "a"} {
		tag := a.createTag(t, tok, name)
		a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("%s/tags/%d", path, tag), tok, nil)
	}
	for _, c := range []struct {
		method string
		body   any
	}{
		{http.MethodGet, nil},
		{http.MethodPatch, map[string]any{"completed": true}},
		{http.MethodPut, map[string]any{"title": "replaced", "priority": "high"}},
	} {
		before := a.queries.n.Load()
		r := a.call(t, c.method, path, tok, c.body)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		assert.Equal(t, int64(1), a.queries.n.Load()-before, c.method)
		tags := r.JSON(t)["tags"].([]any)
		require.Len(t, tags, 2, c.method)
		assert.Equal(t, "a", tags[0].(map[string]any)["name"], "%s: by name", c.method)
		assert.Equal(t, "b", tags[1].(map[string]any)["name"], c.method)
		assert.Nil(t, tags[0].(map[string]any)["color"], c.method)
	}
}
