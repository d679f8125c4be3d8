package httpx_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTags(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "tags@example.com")
	post := func(t *testing.T, tok string, body map[string]any) response {
		t.Helper()
		return a.call(t, http.MethodPost, "/api/v1/tags", tok, body)
	}

	t.Run("CreateListUpdateDelete", func(t *testing.T) {
		tok := a.user(t, "tags-list@example.com") // a list of its own tags only
		r := post(t, tok, map[string]any{"name": "  errands ", "color": "#FF5733"})
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		tag := r.JSON(t)
		assert.Equal(t, "errands", tag["name"])
		assert.Equal(t, "#FF5733", tag["color"])
		assert.Len(t, tag, 4)
		assert.Equal(t, float64(1), tag["version"])
		id := tag["id"]

		r = post(t, tok, map[string]any{"name": "alpha"})
		require.Equal(t, http.StatusCreated, r.Code)
		assert.Nil(t, r.JSON(t)["color"])

		list := a.call(t, http.MethodGet, "/api/v1/tags", tok, nil)
		require.Equal(t, http.StatusOK, list.Code)
		assert.Regexp(t, `^\[\{"color":null,"id":\d+,"name":"alpha","version":1\},\{"color":"#FF5733","id":\d+,"name":"errands","version":1\}\]`, list.Body.String())

		path := fmt.Sprintf("/api/v1/tags/%v", id)
		r = a.call(t, http.MethodPut, path, tok, map[string]any{"name": "chores"})
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		assert.Equal(t, "chores", r.JSON(t)["name"])
		assert.Nil(t, r.JSON(t)["color"], "PUT is a full replace: the colour left out is cleared")

		assert.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, path, tok, nil).Code)
		requireError(t, a.call(t, http.MethodDelete, path, tok, nil), 404, "TAG_NOT_FOUND", "Tag not found")
		requireError(t, a.call(t, http.MethodPut, path, tok, map[string]any{"name": "x"}), 404, "TAG_NOT_FOUND", "")
	})
	t.Run("Duplicates", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, post(t, tok, map[string]any{"name": "dup"}).Code)
		b := requireError(t, post(t, tok, map[string]any{"name": " dup "}), 400, "TAG_ALREADY_EXISTS", "A tag with this name already exists")
		assert.Equal(t, "name", b["field"])
		other := post(t, tok, map[string]any{"name": "other"}).JSON(t)
		requireError(t, a.call(t, http.MethodPut, fmt.Sprintf("/api/v1/tags/%v", other["id"]), tok, map[string]any{"name": "dup"}), 400, "TAG_ALREADY_EXISTS", "")
		// Renaming a tag to its own name is fine; another user may use the name.
		assert.Equal(t, http.StatusOK, a.call(t, http.MethodPut, fmt.Sprintf("/api/v1/tags/%v", other["id"]), tok, map[string]any{"name": "other", "color": "#000000"}).Code)
		assert.Equal(t, http.StatusCreated, a.call(t, http.MethodPost, "/api/v1/tags", a.user(t, "tags2@example.com"), map[string]any{"name": "dup"}).Code)
	})
	t.Run("NameBoundary", func(t *testing.T) {
		assert.Equal(t, http.StatusCreated, post(t, tok, map[string]any{"name": strings.Repeat("n", 50)}).Code)
		b := requireError(t, post(t, tok, map[string]any{"name": strings.Repeat("m", 51)}), 400, "INVALID_TAG_NAME", "Tag name is required and must be 1-50 characters")
		assert.Equal(t, "name", b["field"])
		requireError(t, post(t, tok, map[string]any{"name": "  "}), 400, "INVALID_TAG_NAME", "")
		b = requireError(t, post(t, tok, map[string]any{"color": "#FFFFFF"}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "name", b["field"])
	})
	t.Run("Color", func(t *testing.T) {
		for _, c := range []string{"FF5733", "#FF573", "#FF57333", "#GG5733", "red", ""} {
			b := requireError(t, post(t, tok, map[string]any{"name": "c" + c, "color": c}), 400, "INVALID_COLOR", "Color must be a valid hex color (e.g., #FF5733)")
			assert.Equal(t, "color", b["field"])
		}
		assert.Equal(t, http.StatusCreated, post(t, tok, map[string]any{"name": "lower", "color": "#ab12cd"}).Code)
	})
}

func TestTagLinks(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "links@example.com")
	tag := a.createTag(t, tok, "b-tag")
	tag2 := a.createTag(t, tok, "a-tag")
	// taskWith is a new task of each subtest's own, with these tags on.
	taskWith := func(t *testing.T, tags ...int) map[string]any {
		t.Helper()
		task := a.createTask(t, tok, map[string]any{"title": "linked"})
		for _, tg := range tags {
			a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tg), tok, nil)
		}
		return task
	}

	t.Run("LinkIsIdempotent", func(t *testing.T) {
		task := taskWith(t)
		link := fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tag)
		a.clock.Advance(time.Second)
		r := a.call(t, http.MethodPost, link, tok, nil)
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		got := r.JSON(t)
		assert.Len(t, got["tags"], 1)
		assert.NotEqual(t, task["updated_at"], got["updated_at"], "a new tag is a modification")
		r = a.call(t, http.MethodPost, link, tok, nil)
		assert.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, got["updated_at"], r.JSON(t)["updated_at"], "an existing link changes nothing")
		r = a.call(t, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tag2), tok, nil)
		require.Equal(t, http.StatusCreated, r.Code)
		names := []string{}
		for _, tg := range r.JSON(t)["tags"].([]any) {
			names = append(names, tg.(map[string]any)["name"].(string))
		}
		assert.Equal(t, []string{"a-tag", "b-tag"}, names, "tags by name")
	})
	t.Run("UnlinkIsIdempotent", func(t *testing.T) {
		task := taskWith(t, tag, tag2)
		link := fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tag)
		assert.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, link, tok, nil).Code)
		assert.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, link, tok, nil).Code)
		got := a.call(t, http.MethodGet, fmt.Sprintf("/api/v1/tasks/%v", task["id"]), tok, nil).JSON(t)
		assert.Len(t, got["tags"], 1)
	})
	t.Run("MissingTaskOrTag", func(t *testing.T) {
		task := taskWith(t)
		requireError(t, a.call(t, http.MethodPost, fmt.Sprintf("/api/v1/tasks/999999/tags/%d", tag), tok, nil), 404, "TASK_NOT_FOUND", "")
		requireError(t, a.call(t, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/999999", task["id"]), tok, nil), 404, "TAG_NOT_FOUND", "Tag not found")
		requireError(t, a.call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/999999/tags/%d", tag), tok, nil), 404, "TASK_NOT_FOUND", "")
		requireError(t, a.call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v/tags/999999", task["id"]), tok, nil), 404, "TAG_NOT_FOUND", "")
	})
	t.Run("DeletingATagKeepsItsTasks", func(t *testing.T) {
		doomed := a.createTag(t, tok, "c-tag") // the subtest's own: the others keep theirs
		task := taskWith(t, doomed)
		require.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tags/%d", doomed), tok, nil).Code)
		r := a.call(t, http.MethodGet, fmt.Sprintf("/api/v1/tasks/%v", task["id"]), tok, nil)
		require.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, []any{}, r.JSON(t)["tags"])
	})
}

// TestIsolation: another user's task or tag is a 404 on every route, and
// lists never show it.
func TestIsolation(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice, bob := a.user(t, "alice@example.com"), a.user(t, "bob@example.com")
	task := a.createTask(t, alice, map[string]any{"title": "alice's secret"})
	tag := a.createTag(t, alice, "alice-tag")
	bobTask := a.createTask(t, bob, map[string]any{"title": "bob's"})
	bobTag := a.createTag(t, bob, "bob-tag")
	taskPath := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
	tagPath := fmt.Sprintf("/api/v1/tags/%d", tag)

	for _, c := range []struct {
		method, path string
		body         any
		code         string
	}{
		{http.MethodGet, taskPath, nil, "TASK_NOT_FOUND"},
		{http.MethodPut, taskPath, map[string]any{"title": "mine now"}, "TASK_NOT_FOUND"},
		{http.MethodPatch, taskPath, map[string]any{"completed": true}, "TASK_NOT_FOUND"},
		{http.MethodDelete, taskPath, nil, "TASK_NOT_FOUND"},
		{http.MethodPut, tagPath, map[string]any{"name": "mine"}, "TAG_NOT_FOUND"},
		{http.MethodDelete, tagPath, nil, "TAG_NOT_FOUND"},
		{http.MethodPost, fmt.Sprintf("%s/tags/%d", taskPath, bobTag), nil, "TASK_NOT_FOUND"},
		{http.MethodDelete, fmt.Sprintf("%s/tags/%d", taskPath, bobTag), nil, "TASK_NOT_FOUND"},
		{http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", bobTask["id"], tag), nil, "TAG_NOT_FOUND"},
		{http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", bobTask["id"], tag), nil, "TAG_NOT_FOUND"},
	} {
		requireError(t, a.call(t, c.method, c.path, bob, c.body), 404, c.code, "")
	}
	p := a.list(t, bob, "/api/v1/tasks")
	assert.Equal(t, 1, p.total)
	assert.Equal(t, "bob's", p.items[0]["title"])
	assert.Equal(t, 0, a.list(t, bob, query("tag", "alice-tag")).total)
	assert.Equal(t, 0, a.list(t, bob, query("tag", fmt.Sprint(tag))).total, "by id too")
	assert.Equal(t, 0, a.list(t, bob, query("q", "secret")).total)
	assert.NotContains(t, a.call(t, http.MethodGet, "/api/v1/tags", bob, nil).Body.String(), "alice-tag")

	// Alice's data is untouched.
	got := a.call(t, http.MethodGet, taskPath, alice, nil)
	require.Equal(t, http.StatusOK, got.Code)
	assert.Equal(t, "alice's secret", got.JSON(t)["title"])
	assert.Equal(t, false, got.JSON(t)["completed"])
	assert.Equal(t, http.StatusOK, a.call(t, http.MethodPut, tagPath, alice, map[string]any{"name": "alice-tag"}).Code)
}

func TestTasksNeedAToken(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/tasks"}, {http.MethodPost, "/api/v1/tasks"}, {http.MethodGet, "/api/v1/tasks/1"},
		{http.MethodPut, "/api/v1/tasks/1"}, {http.MethodPatch, "/api/v1/tasks/1"}, {http.MethodDelete, "/api/v1/tasks/1"},
		{http.MethodPost, "/api/v1/tasks/1/tags/1"}, {http.MethodDelete, "/api/v1/tasks/1/tags/1"},
		{http.MethodGet, "/api/v1/tags"}, {http.MethodPost, "/api/v1/tags"}, {http.MethodPut, "/api/v1/tags/1"}, {http.MethodDelete, "/api/v1/tags/1"},
	} {
		r := a.do(t, c.method, c.path, "", "")
		requireError(t, r, 401, "MISSING_TOKEN", "")
		assert.Equal(t, "Bearer", r.Header().Get("WWW-Authenticate"), c.path)
	}
}
