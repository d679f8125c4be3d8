package httpx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Versions, ETags and conditional requests (openapi/tasks-api.yaml).

func etagOf(t testing.TB, r response) string {
	t.Helper()
	tag := r.Header().Get("ETag")
	require.NotEmpty(t, tag, "no ETag: %d %s", r.Code, r.Body.String())
	return tag
}

func TestVersionsCountEveryChange(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "versions@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "v"})
	path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
	tag := a.createTag(t, tok, "home")
	version := func() (float64, string) {
		r := a.call(t, http.MethodGet, path, tok, nil)
		require.Equal(t, http.StatusOK, r.Code)
		return r.JSON(t)["version"].(float64), etagOf(t, r)
	}
	v, et := version()
	assert.Equal(t, float64(1), v)
	assert.Equal(t, `"1"`, et)

	steps := []struct {
		what string
		do   func() response
	}{
		{"PATCH", func() response { return a.call(t, http.MethodPatch, path, tok, map[string]any{"completed": true}) }},
		{"PUT", func() response { return a.call(t, http.MethodPut, path, tok, map[string]any{"title": "w"}) }},
		{"tag on", func() response { return a.call(t, http.MethodPost, fmt.Sprintf("%s/tags/%d", path, tag), tok, nil) }},
		{"tag renamed", func() response {
			return a.call(t, http.MethodPut, fmt.Sprintf("/api/v1/tags/%d", tag), tok, map[string]any{"name": "house"})
		}},
		{"tag off", func() response { return a.call(t, http.MethodDelete, fmt.Sprintf("%s/tags/%d", path, tag), tok, nil) }},
		{"tag on again", func() response { return a.call(t, http.MethodPost, fmt.Sprintf("%s/tags/%d", path, tag), tok, nil) }},
		{"tag deleted", func() response { return a.call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tags/%d", tag), tok, nil) }},
	}
	for i, s := range steps {
		r := s.do()
		require.Less(t, r.Code, 300, "%s: %s", s.what, r.Body.String())
		v, et := version()
		assert.Equal(t, float64(i+2), v, s.what)
		assert.Equal(t, strconv.Quote(strconv.Itoa(i+2)), et, s.what)
		if r.Code != http.StatusNoContent && s.what != "tag renamed" {
			assert.Equal(t, et, etagOf(t, r), "%s: the write's ETag is the new version", s.what)
		}
	}
	// What does not change the task leaves its version alone.
	a.write(t, http.StatusOK, http.MethodPatch, path, tok, map[string]any{})
	other := a.createTag(t, tok, "other") // not on the task
	a.write(t, http.StatusOK, http.MethodPut, fmt.Sprintf("/api/v1/tags/%d", other), tok, map[string]any{"name": "other2"})
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("%s/tags/%d", path, other), tok, nil)
	v, _ = version()
	assert.Equal(t, float64(len(steps)+1), v)

	// A tag's own version.
	r := a.call(t, http.MethodPut, fmt.Sprintf("/api/v1/tags/%d", other), tok, map[string]any{"name": "other3"})
	assert.Equal(t, float64(3), r.JSON(t)["version"])
	assert.Equal(t, `"3"`, etagOf(t, r))
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	// target is a subtest's own user, with a task and a tag at version 1
	// and the path of the link between them (not made).
	type target struct{ tok, path, tagPath, link string }
	fresh := func(t *testing.T, name string) target {
		t.Helper()
		tok := a.user(t, name+"@example.com")
		task := a.createTask(t, tok, map[string]any{"title": "original"})
		tag := a.createTag(t, tok, "t")
		path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
		return target{tok: tok, path: path, tagPath: fmt.Sprintf("/api/v1/tags/%d", tag), link: fmt.Sprintf("%s/tags/%d", path, tag)}
	}
	stale := func(t *testing.T, r response, current string) {
		t.Helper()
		requireError(t, r, http.StatusPreconditionFailed, "PRECONDITION_FAILED", "The resource was modified by another request")
		assert.Equal(t, current, r.Header().Get("ETag"))
	}
	unchanged := func(t *testing.T, x target, version float64) {
		t.Helper()
		r := a.call(t, http.MethodGet, x.path, x.tok, nil)
		require.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, "original", r.JSON(t)["title"])
		assert.Equal(t, version, r.JSON(t)["version"])
		assert.Empty(t, r.JSON(t)["tags"])
	}

	t.Run("StaleWritesChangeNothing", func(t *testing.T) {
		x := fresh(t, "ifmatch-stale")
		for _, w := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPatch, x.path, map[string]any{"title": "lost"}},
			{http.MethodPatch, x.path, map[string]any{}},
			{http.MethodPut, x.path, map[string]any{"title": "lost"}},
			{http.MethodDelete, x.path, nil},
			{http.MethodPost, x.link, nil},
			{http.MethodDelete, x.link, nil},
		} {
			for _, h := range []string{`"2"`, `"0"`, `W/"1"`, `"2", "3"`, `"x"`} {
				stale(t, a.call(t, w.method, w.path, x.tok, w.body, "If-Match", h), `"1"`)
			}
		}
		unchanged(t, x, 1)
		stale(t, a.call(t, http.MethodPut, x.tagPath, x.tok, map[string]any{"name": "lost"}, "If-Match", `"7"`), `"1"`)
		stale(t, a.call(t, http.MethodDelete, x.tagPath, x.tok, nil, "If-Match", `"7"`), `"1"`)
		tags := a.call(t, http.MethodGet, "/api/v1/tags", x.tok, nil)
		assert.Contains(t, tags.Body.String(), `"name":"t"`)
	})

	t.Run("MatchingWritesGoAhead", func(t *testing.T) {
		x := fresh(t, "ifmatch-matching")
		r := a.call(t, http.MethodPatch, x.path, x.tok, map[string]any{"priority": "high"}, "If-Match", `"9", "1"`)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		assert.Equal(t, `"2"`, etagOf(t, r))
		r = a.call(t, http.MethodPost, x.link, x.tok, nil, "If-Match", `"2"`)
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		assert.Equal(t, `"3"`, etagOf(t, r))
		r = a.call(t, http.MethodDelete, x.link, x.tok, nil, "If-Match", `*`)
		require.Equal(t, http.StatusNoContent, r.Code, r.Body.String())
		r = a.call(t, http.MethodPut, x.tagPath, x.tok, map[string]any{"name": "u"}, "If-Match", `"1"`)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		r = a.call(t, http.MethodPut, x.path, x.tok, map[string]any{"title": "again"}, "If-Match", `"4"`)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		r = a.call(t, http.MethodDelete, x.path, x.tok, nil, "If-Match", `"5"`)
		require.Equal(t, http.StatusNoContent, r.Code, r.Body.String())
		r = a.call(t, http.MethodDelete, x.tagPath, x.tok, nil, "If-Match", `"2"`)
		require.Equal(t, http.StatusNoContent, r.Code, r.Body.String())
	})

	t.Run("MissingIsStill404", func(t *testing.T) {
		x := fresh(t, "ifmatch-missing")
		a.write(t, http.StatusNoContent, http.MethodDelete, x.path, x.tok, nil)
		a.write(t, http.StatusNoContent, http.MethodDelete, x.tagPath, x.tok, nil)
		requireError(t, a.call(t, http.MethodPatch, x.path, x.tok, map[string]any{"title": "x"}, "If-Match", `"1"`), 404, "TASK_NOT_FOUND", "")
		requireError(t, a.call(t, http.MethodDelete, x.tagPath, x.tok, nil, "If-Match", `"1"`), 404, "TAG_NOT_FOUND", "")
	})

	t.Run("MalformedIs422", func(t *testing.T) {
		tok := a.user(t, "ifmatch@example.com")
		other := a.createTask(t, tok, map[string]any{"title": "o"})
		r := a.call(t, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", other["id"]), tok, map[string]any{"title": "x"}, "If-Match", `1`)
		body := requireError(t, r, http.StatusUnprocessableEntity, "VALIDATION_ERROR", "")
		assert.Equal(t, "If-Match", body["field"])
	})
}

// TestConcurrentEditsOneWins: two devices edit the same version at once;
// exactly one edit lands, the other is told.
func TestConcurrentEditsOneWins(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "race@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "race"})
	path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = a.call(t, http.MethodPatch, path, tok, map[string]any{"title": fmt.Sprint("edit ", i)}, "If-Match", `"1"`).Code
		})
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			won++
		default:
			assert.Equal(t, http.StatusPreconditionFailed, c)
		}
	}
	assert.Equal(t, 1, won, "codes: %v", codes)
	r := a.call(t, http.MethodGet, path, tok, nil)
	assert.Equal(t, float64(2), r.JSON(t)["version"])
}

func TestIfNoneMatch(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "ifnonematch@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "cached"})
	path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])

	t.Run("Task", func(t *testing.T) {
		before := a.queries.n.Load()
		r := a.call(t, http.MethodGet, path, tok, nil, "If-None-Match", `"1"`)
		assert.Equal(t, http.StatusNotModified, r.Code)
		assert.Empty(t, r.Body.String())
		assert.Equal(t, `"1"`, r.Header().Get("ETag"))
		assert.Equal(t, int64(1), a.queries.n.Load()-before, "a 304 of a task costs one statement")
		assert.Equal(t, http.StatusNotModified, a.call(t, http.MethodGet, path, tok, nil, "If-None-Match", `W/"1"`).Code)
		assert.Equal(t, http.StatusNotModified, a.call(t, http.MethodGet, path, tok, nil, "If-None-Match", `*`).Code)
		assert.Equal(t, http.StatusOK, a.call(t, http.MethodGet, path, tok, nil, "If-None-Match", `"2"`).Code)
		a.write(t, http.StatusOK, http.MethodPatch, path, tok, map[string]any{"completed": true})
		r = a.call(t, http.MethodGet, path, tok, nil, "If-None-Match", `"1"`)
		assert.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, true, r.JSON(t)["completed"])
	})

	t.Run("List", func(t *testing.T) {
		list := "/api/v1/tasks?sort=title"
		et := settledListETag(t, a, tok, list)
		before := a.queries.n.Load()
		r := a.call(t, http.MethodGet, list, tok, nil, "If-None-Match", et)
		assert.Equal(t, http.StatusNotModified, r.Code)
		assert.Empty(t, r.Body.String())
		assert.Equal(t, int64(1), a.queries.n.Load()-before, "a 304 of the list costs one statement, not the list")
		other := a.call(t, http.MethodGet, "/api/v1/tasks?sort=-title", tok, nil)
		assert.NotEqual(t, et, etagOf(t, other), "another list, another ETag")
		assert.Equal(t, http.StatusOK, a.call(t, http.MethodGet, "/api/v1/tasks?sort=-title", tok, nil, "If-None-Match", et).Code)

		// Any change of a task or tag of the user changes it; another user's does not.
		someoneElse := a.user(t, "someone@example.com")
		a.createTask(t, someoneElse, map[string]any{"title": "elsewhere"})
		assert.Equal(t, http.StatusNotModified, a.call(t, http.MethodGet, list, tok, nil, "If-None-Match", et).Code)
		a.createTag(t, tok, "new tag")
		r = a.call(t, http.MethodGet, list, tok, nil, "If-None-Match", et)
		assert.Equal(t, http.StatusOK, r.Code)
		assert.NotEqual(t, et, etagOf(t, r))
		et = settledListETag(t, a, tok, list)
		assert.Equal(t, http.StatusNotModified, a.call(t, http.MethodGet, list, tok, nil, "If-None-Match", et).Code)
	})
}

// settledListETag reads list until its ETag is settled: one a later request
// can match (no random part). It is, once no transaction older than the
// user's latest change still runs: other tests' transactions on the same
// server may hold it back a while.
func settledListETag(t *testing.T, a *app, tok, list string) string {
	t.Helper()
	settledTag := regexp.MustCompile(`^W/"\d+-[0-9a-f]+"$`)
	var et string
	poll(t, func() bool {
		r := a.call(t, http.MethodGet, list, tok, nil)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		et = etagOf(t, r)
		return settledTag.MatchString(et)
	}, "the list's ETag never settled (last: %s)", lastSeen(func() string { return et }))
	return et
}

// Retry-safe creates.

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "idem@example.com")
	count := func(t *testing.T, tok string) int {
		t.Helper()
		r := a.call(t, http.MethodGet, "/api/v1/tasks", tok, nil)
		return int(r.JSON(t)["total"].(float64))
	}
	body := map[string]any{"title": "once", "priority": "high"}
	// keyUsed is a new user whose first task was created with body under
	// key-1, and that first answer: each subtest about a used key has its own.
	keyUsed := func(t *testing.T, name string) (tok string, first response) {
		t.Helper()
		tok = a.user(t, name+"@example.com")
		first = a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", "key-1")
		require.Equal(t, http.StatusCreated, first.Code, first.Body.String())
		return tok, first
	}

	t.Run("ReplayAnswersTheFirstResponse", func(t *testing.T) {
		tok, first := keyUsed(t, "idem-replay")
		assert.Empty(t, first.Header().Get("Idempotent-Replayed"))
		assert.Equal(t, `"1"`, first.Header().Get("ETag"))
		// The task changes meanwhile; the replay is still the first answer.
		a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", first.JSON(t)["id"]), tok, map[string]any{"title": "changed"})
		for range 3 {
			again := a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", "key-1")
			require.Equal(t, http.StatusCreated, again.Code)
			assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
			assert.Equal(t, first.Body.String(), again.Body.String())
			assert.Equal(t, `"1"`, again.Header().Get("ETag"))
		}
		assert.Equal(t, 1, count(t, tok))
	})

	t.Run("OtherBodyOrOperationIsAMismatch", func(t *testing.T) {
		tok, _ := keyUsed(t, "idem-mismatch")
		r := a.call(t, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": "twice"}, "Idempotency-Key", "key-1")
		body := requireError(t, r, http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_MISMATCH", "Idempotency-Key was already used with a different request")
		assert.Equal(t, "Idempotency-Key", body["field"])
		r = a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "once"}, "Idempotency-Key", "key-1")
		requireError(t, r, http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_MISMATCH", "")
		assert.Equal(t, 1, count(t, tok))
	})

	t.Run("KeysBelongToTheirUser", func(t *testing.T) {
		keyUsed(t, "idem-owner")
		other := a.user(t, "idem-other@example.com")
		r := a.call(t, http.MethodPost, "/api/v1/tasks", other, body, "Idempotency-Key", "key-1")
		require.Equal(t, http.StatusCreated, r.Code)
		assert.Empty(t, r.Header().Get("Idempotent-Replayed"))
	})

	t.Run("MalformedKeys", func(t *testing.T) {
		for _, k := range []string{"has space", "é", string(make([]byte, 256))} {
			r := a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", k)
			requireError(t, r, http.StatusBadRequest, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1-255 visible ASCII characters")
		}
		long := a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "k"}, "Idempotency-Key", fmt.Sprintf("%0255d", 7))
		assert.Equal(t, http.StatusCreated, long.Code, "255 characters is allowed")
	})

	t.Run("ConcurrentRetriesCreateOneRow", func(t *testing.T) {
		before := count(t, tok)
		const n = 12
		codes := make([]int, n)
		bodies := make([]string, n)
		replayed := make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := a.call(t, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": "burst"}, "Idempotency-Key", "burst")
				codes[i], bodies[i], replayed[i] = r.Code, r.Body.String(), r.Header().Get("Idempotent-Replayed") == "true"
			})
		}
		wg.Wait()
		fresh, first := 0, ""
		for i, c := range codes {
			switch {
			case c == http.StatusCreated && !replayed[i]:
				fresh++
				first = bodies[i]
			case c == http.StatusConflict:
				assert.Contains(t, bodies[i], "IDEMPOTENCY_KEY_IN_PROGRESS")
			default:
				assert.Equal(t, http.StatusCreated, c, bodies[i])
			}
		}
		require.Equal(t, 1, fresh, "codes %v", codes)
		for i, c := range codes {
			if c == http.StatusCreated {
				assert.Equal(t, first, bodies[i], "every 201 is the first one")
			}
		}
		assert.Equal(t, before+1, count(t, tok))
	})

	t.Run("InProgressIs409", func(t *testing.T) {
		// Hold the key the way a running request does.
		conn, err := a.pool.Acquire(context.Background())
		require.NoError(t, err)
		defer conn.Release()
		tx, err := conn.Begin(context.Background())
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(context.Background()) }()
		var uid string
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'idem@example.com'`).Scan(&uid))
		_, err = tx.Exec(context.Background(), `SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || 'held', 0))`, uid)
		require.NoError(t, err)
		r := a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", "held")
		requireError(t, r, http.StatusConflict, "IDEMPOTENCY_KEY_IN_PROGRESS", "A request with this Idempotency-Key is in progress")
		require.NoError(t, tx.Rollback(context.Background()))
		assert.Equal(t, http.StatusCreated, a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", "held").Code)
	})

	t.Run("KeyAndRowAreOneTransaction", func(t *testing.T) {
		// Make recording the key fail after the task was inserted: the
		// task must go too, and a retry must create it once.
		ctx := context.Background()
		_, err := a.pool.Exec(ctx, `ALTER TABLE idempotency_keys ADD CONSTRAINT test_refuse CHECK (key <> 'doomed')`)
		require.NoError(t, err)
		before := count(t, tok)
		r := a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", "doomed")
		assert.Equal(t, http.StatusInternalServerError, r.Code)
		assert.Equal(t, before, count(t, tok), "no task without its key")
		_, err = a.pool.Exec(ctx, `ALTER TABLE idempotency_keys DROP CONSTRAINT test_refuse`)
		require.NoError(t, err)
		r = a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", "doomed")
		assert.Equal(t, http.StatusCreated, r.Code)
		r = a.call(t, http.MethodPost, "/api/v1/tasks", tok, body, "Idempotency-Key", "doomed")
		assert.Equal(t, "true", r.Header().Get("Idempotent-Replayed"))
		assert.Equal(t, before+1, count(t, tok))
	})

	t.Run("KeysExpireAfterADay", func(t *testing.T) {
		ctx := context.Background()
		first := a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "daily"}, "Idempotency-Key", "day-old")
		require.Equal(t, http.StatusCreated, first.Code)
		n, err := a.retention.PruneIdempotencyKeys(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "a fresh key stays")
		_, err = a.pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'day-old'`)
		require.NoError(t, err)
		n, err = a.retention.PruneIdempotencyKeys(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		// The key is free again: the same request is a new one (the name is taken now).
		r := a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "daily"}, "Idempotency-Key", "day-old")
		requireError(t, r, http.StatusBadRequest, "TAG_ALREADY_EXISTS", "")
	})

	t.Run("FailedRequestsAreNotKept", func(t *testing.T) {
		a.createTag(t, tok, "taken")
		r := a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "taken"}, "Idempotency-Key", "tag-1")
		requireError(t, r, http.StatusBadRequest, "TAG_ALREADY_EXISTS", "")
		r = a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "taken"}, "Idempotency-Key", "tag-1")
		requireError(t, r, http.StatusBadRequest, "TAG_ALREADY_EXISTS", "")
	})
}

// The change feed.

// change is one Change of the feed.
type change struct {
	Entity  string          `json:"entity"`
	ID      int             `json:"id"`
	Op      string          `json:"op"`
	Version int             `json:"version"`
	Data    json.RawMessage `json:"data"`
}

type changeList struct {
	Changes []change `json:"changes"`
	Cursor  string   `json:"cursor"`
	HasMore bool     `json:"has_more"`
}

func (a *app) changes(t testing.TB, tok, query string) changeList {
	t.Helper()
	r := a.call(t, http.MethodGet, "/api/v1/changes"+query, tok, nil)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	var l changeList
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &l))
	return l
}

// replica is a client's copy of a user's tasks and tags, built from the feed.
type replica map[string]string // "task 3" -> its JSON

// apply applies one change; like do, it never stops the test, so it may run
// on another goroutine.
func (r replica) apply(t tester, c change) {
	t.Helper()
	key := fmt.Sprint(c.Entity, " ", c.ID)
	switch c.Op {
	case "upsert":
		if string(c.Data) == "null" {
			t.Errorf("the upsert of %s carries no data", key)
		}
		r[key] = canonical(t, c.Data)
	case "delete":
		if string(c.Data) != "null" {
			t.Errorf("the delete of %s carries data: %s", key, c.Data)
		}
		delete(r, key)
	default:
		t.Errorf("unknown op %q", c.Op)
	}
}

// canonical is raw JSON re-encoded with sorted keys.
func canonical(t tester, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("not JSON: %s", raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// settled waits until every change committed so far is below the feed's
// horizon: until no transaction older than them still runs (other tests'
// transactions on the same server may hold it back a while). The feed
// shows a change once it is.
func (a *app) settled(t testing.TB) {
	t.Helper()
	var last int64
	require.NoError(t, a.pool.QueryRow(context.Background(),
		`SELECT greatest((SELECT max(xid) FROM changes), (SELECT max(changes_floor) FROM users), 0)`).Scan(&last))
	poll(t, func() bool {
		var horizon int64
		err := a.pool.QueryRow(context.Background(), `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&horizon)
		return err == nil && horizon > last
	}, "the feed's horizon never passed the changes")
}

// sameState fails the test for each entity on which the copy differs from
// the server.
func sameState(t testing.TB, server, local replica) {
	t.Helper()
	for k, v := range server {
		assert.Equal(t, v, local[k], "%s on the server and in the copy", k)
	}
	for k := range local {
		_, ok := server[k]
		assert.True(t, ok, "%s is in the copy only", k)
	}
}

// serverState is what the API lists for the user, in the replica's form.
func (a *app) serverState(t testing.TB, tok string) replica {
	t.Helper()
	out := replica{}
	for page := 1; ; page++ {
		r := a.call(t, http.MethodGet, fmt.Sprintf("/api/v1/tasks?limit=100&page=%d", page), tok, nil)
		require.Equal(t, http.StatusOK, r.Code)
		var l struct{ Items []json.RawMessage }
		require.NoError(t, json.Unmarshal(r.Body.Bytes(), &l))
		for _, it := range l.Items {
			var id struct{ ID int }
			require.NoError(t, json.Unmarshal(it, &id))
			out[fmt.Sprint("task ", id.ID)] = canonical(t, it)
		}
		if len(l.Items) < 100 {
			break
		}
	}
	r := a.call(t, http.MethodGet, "/api/v1/tags", tok, nil)
	var tags []json.RawMessage
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &tags))
	for _, it := range tags {
		var id struct{ ID int }
		require.NoError(t, json.Unmarshal(it, &id))
		out[fmt.Sprint("tag ", id.ID)] = canonical(t, it)
	}
	return out
}

// catchUp applies every change after cursor, page by page, and returns the
// new cursor.
func (a *app) catchUp(t testing.TB, tok, cursor string, rep replica, limit int) string {
	t.Helper()
	for {
		l := a.changes(t, tok, fmt.Sprintf("?since=%s&limit=%d", cursor, limit))
		for _, c := range l.Changes {
			rep.apply(t, c)
		}
		cursor = l.Cursor
		if !l.HasMore {
			return cursor
		}
	}
}

func TestChangeFeed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "feed@example.com")

	start := a.changes(t, tok, "")
	assert.Empty(t, start.Changes, "without since: no changes, the current cursor")
	assert.NotEmpty(t, start.Cursor)
	rep := replica{} // the client lists everything (nothing yet) after taking the cursor

	keep := a.createTask(t, tok, map[string]any{"title": "keep"})
	gone := a.createTask(t, tok, map[string]any{"title": "gone"})
	tag := a.createTag(t, tok, "doomed")
	a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", keep["id"], tag), tok, nil)
	a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", keep["id"]), tok, map[string]any{"completed": true})
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v", gone["id"]), tok, nil)

	a.settled(t)
	l := a.changes(t, tok, "?since="+start.Cursor)
	assert.False(t, l.HasMore)
	var seen []string
	for _, c := range l.Changes {
		seen = append(seen, fmt.Sprint(c.Entity, " ", c.Op, " v", c.Version))
	}
	// Each entity once, at its latest change, in the order of those changes.
	assert.Equal(t, []string{"tag upsert v1", "task upsert v3", "task delete v1"}, seen)
	cursor := a.catchUp(t, tok, start.Cursor, rep, 100)
	sameState(t, a.serverState(t, tok), rep)
	assert.Empty(t, a.changes(t, tok, "?since="+cursor).Changes, "nothing after the latest cursor")

	// Deleting a tag: the tag's delete and an upsert of each task that carried it.
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tags/%d", tag), tok, nil)
	a.settled(t)
	l = a.changes(t, tok, "?since="+cursor)
	require.Len(t, l.Changes, 2)
	ops := map[string]change{}
	for _, c := range l.Changes {
		ops[c.Entity+" "+c.Op] = c
	}
	require.Contains(t, ops, "tag delete")
	require.Contains(t, ops, "task upsert")
	assert.Contains(t, string(ops["task upsert"].Data), `"tags":[]`)
	cursor = a.catchUp(t, tok, cursor, rep, 100)
	sameState(t, a.serverState(t, tok), rep)

	t.Run("Pages", func(t *testing.T) {
		for i := range 7 {
			a.createTask(t, tok, map[string]any{"title": fmt.Sprint("p", i)})
		}
		a.settled(t)
		first := a.changes(t, tok, "?since="+cursor+"&limit=3")
		assert.Len(t, first.Changes, 3)
		assert.True(t, first.HasMore)
		rep2 := replica{}
		for k, v := range rep {
			rep2[k] = v
		}
		a.catchUp(t, tok, cursor, rep2, 3)
		sameState(t, a.serverState(t, tok), rep2)
		capped := a.changes(t, tok, "?since=0&limit=5000")
		assert.Len(t, capped.Changes, 10, "above 1000 is 1000: all ten entities")
	})

	t.Run("BadCursors", func(t *testing.T) {
		for _, c := range []string{"abc", "-1", "01", "1.5", "99999999999999999999", "12.user.3", "12.task.0", "12.task", "12..3", "12.task.03"} {
			r := a.call(t, http.MethodGet, "/api/v1/changes?since="+c, tok, nil)
			body := requireError(t, r, http.StatusBadRequest, "INVALID_CURSOR", "Cursor is not valid")
			assert.Equal(t, "since", body["field"])
		}
		r := a.call(t, http.MethodGet, "/api/v1/changes?since=999999999999", tok, nil) // a transaction yet to come
		requireError(t, r, http.StatusGone, "CURSOR_EXPIRED", "Cursor is too old; list everything again")
		requireError(t, a.call(t, http.MethodGet, "/api/v1/changes?limit=0", tok, nil), 400, "INVALID_PAGINATION", "")
	})

	t.Run("PrunedCursorsExpire", func(t *testing.T) {
		old := a.changes(t, tok, "")
		doomed := a.createTask(t, tok, map[string]any{"title": "pruned"})
		a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v", doomed["id"]), tok, nil)
		a.pruneDeletions(t)
		requireError(t, a.call(t, http.MethodGet, "/api/v1/changes?since="+old.Cursor, tok, nil), 410, "CURSOR_EXPIRED", "")
		a.settled(t) // (a retention of 30 days keeps pruned deletions far below the horizon)
		fresh := a.changes(t, tok, "")
		assert.Empty(t, a.changes(t, tok, "?since="+fresh.Cursor).Changes, "a new cursor works")
	})

	// A list's version is its user's latest change: pruning that change (a
	// deletion) must not bring back the version of the list before it.
	t.Run("PrunedDeletionKeepsTheListVersion", func(t *testing.T) {
		gone := a.createTask(t, tok, map[string]any{"title": "deleted, then pruned"})
		a.createTask(t, tok, map[string]any{"title": "latest before the deletion"})
		list := "/api/v1/tasks?limit=100"
		et := settledListETag(t, a, tok, list)
		a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v", gone["id"]), tok, nil)
		a.pruneDeletions(t)
		a.settled(t)
		r := a.call(t, http.MethodGet, list, tok, nil, "If-None-Match", et)
		assert.Equal(t, http.StatusOK, r.Code, "the list changed since that ETag")
		assert.NotContains(t, r.Body.String(), "deleted, then pruned")
	})

}

// pruneDeletions ages every deletion in the feed past the 30-day retention
// and prunes them.
func (a *app) pruneDeletions(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	_, err := a.pool.Exec(ctx, `UPDATE changes SET changed_at = now() - interval '31 days' WHERE op = 'delete'`)
	require.NoError(t, err)
	pruned, err := a.retention.PruneChanges(ctx)
	require.NoError(t, err)
	require.Positive(t, pruned)
}

// TestChangesPageCostsTwoStatements runs alone (not in parallel): another
// test's transaction could hold changes back and cost a second read.
func TestChangesPageCostsTwoStatements(t *testing.T) {
	a := newApp(t)
	tok := a.user(t, "cost@example.com")
	cursor := a.changes(t, tok, "").Cursor
	tag := a.createTag(t, tok, "t")
	for i := range 120 {
		task := a.createTask(t, tok, map[string]any{"title": fmt.Sprint("task ", i)})
		a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tag), tok, nil)
	}
	a.settled(t)
	before := a.queries.n.Load()
	l := a.changes(t, tok, "?since="+cursor+"&limit=100")
	assert.Len(t, l.Changes, 100)
	assert.True(t, l.HasMore)
	assert.Equal(t, int64(2), a.queries.n.Load()-before, "the page with its rows, then the tags of its tasks")
	for _, c := range l.Changes {
		if c.Entity == "task" {
			assert.Contains(t, string(c.Data), `"tags":[{`, "a task's data carries its tags")
		}
	}
}

// TestChangeFeedUnderConcurrentWriters: writers create, edit, tag and delete
// at once while a reader follows the feed; whatever order the transactions
// commit in, the reader's copy ends equal to the server's, and no version of
// an entity ever goes backwards.
func TestChangeFeedUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "writers@example.com")
	cursor := a.changes(t, tok, "").Cursor
	tags := []int{a.createTag(t, tok, "a"), a.createTag(t, tok, "b")}

	stop := make(chan struct{})
	var readerDone sync.WaitGroup
	rep := replica{}
	versions := map[string]int{}
	readerDone.Go(func() { // never stops the test from here: assert, not require
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := a.call(t, http.MethodGet, "/api/v1/changes?since="+cursor+"&limit=7", tok, nil)
			var l changeList
			if !assert.Equal(t, http.StatusOK, r.Code, r.Body.String()) || !assert.NoError(t, json.Unmarshal(r.Body.Bytes(), &l)) {
				return
			}
			for _, c := range l.Changes {
				key := fmt.Sprint(c.Entity, " ", c.ID)
				assert.GreaterOrEqual(t, c.Version, versions[key], "%s went back", key)
				versions[key] = c.Version
				rep.apply(t, c)
			}
			cursor = l.Cursor
		}
	})
	var writers sync.WaitGroup
	for w := range 6 {
		writers.Go(func() { // assert, not require: not the test's goroutine
			for i := range 15 {
				r := a.call(t, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": fmt.Sprint("w", w, "-", i)})
				var task struct{ ID int }
				if !assert.Equal(t, http.StatusCreated, r.Code, r.Body.String()) || !assert.NoError(t, json.Unmarshal(r.Body.Bytes(), &task)) {
					return
				}
				path := fmt.Sprintf("/api/v1/tasks/%d", task.ID)
				assert.Equal(t, http.StatusOK, a.call(t, http.MethodPatch, path, tok, map[string]any{"completed": i%2 == 0}).Code)
				assert.Equal(t, http.StatusCreated, a.call(t, http.MethodPost, fmt.Sprintf("%s/tags/%d", path, tags[i%2]), tok, nil).Code)
				if i%3 == 0 {
					assert.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, path, tok, nil).Code)
				}
			}
		})
	}
	writers.Wait()
	a.write(t, http.StatusOK, http.MethodPut, fmt.Sprintf("/api/v1/tags/%d", tags[0]), tok, map[string]any{"name": "renamed"})
	close(stop)
	readerDone.Wait()
	a.settled(t)
	a.catchUp(t, tok, cursor, rep, 50)
	state := a.serverState(t, tok)
	assert.Len(t, state, 6*15-6*5+2, "every write went through")
	sameState(t, state, rep)
}

// Live events.

// sse is an open event stream.
type sse struct {
	events chan sseEvent
	cancel context.CancelFunc
}

type sseEvent struct {
	id, event, data, comment string
	at                       time.Time // when it was read off the wire
}

// refused is the answer to a GET /events that did not open a stream.
type refused struct {
	StatusCode int
	Header     http.Header
}

// openEvents opens GET /events on srv with token and extra headers; the
// stream's events arrive on the channel, which closes when the stream ends.
// When the server answers anything but 200, the stream is nil.
func openEvents(t testing.TB, srv, token, query string, header ...string) (*sse, refused) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv+"/api/v1/events"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed here when refused, else by the reading goroutine
	require.NoError(t, err)
	answer := refused{StatusCode: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		cancel()
		return nil, answer
	}
	s := &sse{events: make(chan sseEvent, 1000), cancel: cancel}
	go func() {
		defer close(s.events)
		defer resp.Body.Close()
		readEvents(resp.Body, s.events)
	}()
	t.Cleanup(func() { cancel() })
	return s, answer
}

// next waits for the next event that is not a comment. Its bound only
// guards against a hang: a test that holds the server to a time measures
// it (delivered).
func (s *sse) next(t testing.TB) sseEvent {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case e, ok := <-s.events:
			require.True(t, ok, "the stream ended")
			if e.comment != "" {
				continue
			}
			return e
		case <-deadline:
			t.Fatalf("no event within %s", patience)
		}
	}
}

// ended waits for the stream to end; like next's, its bound only guards
// against a hang.
func (s *sse) ended(t testing.TB) {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("the stream did not end within %s", patience)
		}
	}
}

func decodeChange(t testing.TB, e sseEvent) change {
	t.Helper()
	assert.Equal(t, "change", e.event)
	var c change
	require.NoError(t, json.Unmarshal([]byte(e.data), &c))
	return c
}

// A cursor is the user's own: other users' writes never move it, so it
// cannot count them.
func TestCursorsMoveOnlyWithTheirUsersChanges(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	watcher, writer := a.user(t, "watcher@example.com"), a.user(t, "writer@example.com")
	a.createTask(t, watcher, map[string]any{"title": "mine"})
	var first changeList
	poll(t, func() bool { first = a.changes(t, watcher, "?since=0"); return len(first.Changes) == 1 }, "the user's task in the feed")
	start := a.changes(t, watcher, "")

	for i := range 5 {
		a.createTask(t, writer, map[string]any{"title": fmt.Sprint("theirs ", i)})
	}
	// Their transactions have ended: a horizon-based cursor would be past them now.
	assert.Equal(t, start.Cursor, a.changes(t, watcher, "").Cursor, "a new reader's cursor")
	again := a.changes(t, watcher, "?since="+first.Cursor)
	assert.Empty(t, again.Changes)
	assert.Equal(t, first.Cursor, again.Cursor, "a reader's cursor after a page without changes")
	assert.Equal(t, start.Cursor, first.Cursor, "the cursor after the user's last change is where a new reader starts")

	a.createTask(t, watcher, map[string]any{"title": "mine too"})
	var next changeList
	poll(t, func() bool { next = a.changes(t, watcher, "?since="+first.Cursor); return len(next.Changes) == 1 })
	assert.NotEqual(t, first.Cursor, next.Cursor, "the user's own change moves it")
}

// A page of the feed is bounded by its size, not only by its count: a tag
// on many tasks with many tags each, renamed, makes every one of those tasks
// a big change, and the pages end early with has_more.
func TestChangesPagesAreBoundedBySize(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "heavy@example.com")
	before := a.changes(t, tok, "").Cursor
	ctx := t.Context()
	var uid string
	require.NoError(t, a.pool.QueryRow(ctx, `SELECT id FROM users WHERE email = 'heavy@example.com'`).Scan(&uid))
	const tasks, tags = 200, 100
	_, err := a.pool.Exec(ctx, `
		WITH g AS (INSERT INTO tags (user_id, name) SELECT $1, 'tag number ' || i FROM generate_series(1, $3::int) AS i RETURNING id),
		     t AS (INSERT INTO tasks (user_id, title, description)
		           SELECT $1, 'task ' || i, repeat('d', 500) FROM generate_series(1, $2::int) AS i RETURNING id)
		INSERT INTO task_tag_link (user_id, task_id, tag_id) SELECT $1, t.id, g.id FROM t, g`, uid, tasks, tags)
	require.NoError(t, err)
	a.settled(t) // the feed shows them once no older transaction runs

	seen := map[string]bool{}
	pages, cursor := 0, before
	for {
		r := a.call(t, http.MethodGet, "/api/v1/changes?limit=1000&since="+cursor, tok, nil)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		assert.Less(t, r.Body.Len(), 1<<20+64<<10, "page %d: about 1 MiB at most (one change past it)", pages)
		var l changeList
		require.NoError(t, json.Unmarshal(r.Body.Bytes(), &l))
		for _, c := range l.Changes {
			seen[fmt.Sprint(c.Entity, c.ID)] = true
		}
		pages, cursor = pages+1, l.Cursor
		if !l.HasMore {
			break
		}
		require.Less(t, pages, 100, "the pages never end")
	}
	assert.Len(t, seen, tasks+tags, "every task and tag, once the pages are read")
	assert.Greater(t, pages, 2, "%d tasks of %d tags each do not fit in 1 MiB", tasks, tags)
}
