package httpx_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/internal/testdb"
)

// holdPool takes every connection of a's pool until the test ends or the
// returned release is called.
func holdPool(t *testing.T, a *app) (release func()) {
	t.Helper()
	var held []*pgxpool.Conn
	for range a.pool.Config().MaxConns {
		c, err := a.pool.Acquire(t.Context())
		require.NoError(t, err)
		held = append(held, c)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			for _, c := range held {
				c.Release()
			}
		})
	}
	t.Cleanup(release)
	return release
}

func TestBusyPool(t *testing.T) {
	t.Parallel()
	t.Run("WaitForAConnectionIsBoundedThen503", func(t *testing.T) {
		a := newApp(t, func(o *options) {
			o.connTimeout = 300 * time.Millisecond
			o.configure = func(c *pgxpool.Config) { c.MaxConns, c.MinConns = 2, 0 }
		})
		tok := a.user(t, "busy@example.com")
		release := holdPool(t, a)

		start := time.Now()
		for _, r := range []response{
			a.call(t, http.MethodGet, "/api/v1/tasks", tok, nil),
			a.call(t, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "x"}),
			a.me(t, tok),
		} {
			requireError(t, r, 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
			assert.Equal(t, "2", r.Header().Get("Retry-After"))
		}
		assert.GreaterOrEqual(t, time.Since(start), 3*300*time.Millisecond, "each waited for the connection timeout")

		r := a.do(t, http.MethodGet, "/readyz", "", "")
		assert.Equal(t, http.StatusOK, r.Code, "a busy pool is not a database down: %s", r.Body.String())
		assert.Equal(t, map[string]any{"status": "ready", "pool": "busy"}, r.JSON(t))

		release()
		assert.Equal(t, http.StatusOK, a.call(t, http.MethodGet, "/api/v1/tasks", tok, nil).Code)
		assert.Equal(t, map[string]any{"status": "ready"}, a.do(t, http.MethodGet, "/readyz", "", "").JSON(t))
	})
	t.Run("RequestTimeoutAnswers503BeforeTheWriteTimeout", func(t *testing.T) {
		a := newApp(t, func(o *options) {
			o.connTimeout = time.Minute // longer than the request may take
			// long enough for the setup's register and login on a loaded machine
			o.requestTimeout = 1500 * time.Millisecond
			o.configure = func(c *pgxpool.Config) { c.MaxConns, c.MinConns = 1, 0 }
		})
		tok := a.user(t, "deadline@example.com")
		holdPool(t, a)
		r := a.call(t, http.MethodGet, "/api/v1/tags", tok, nil)
		requireError(t, r, 503, "SERVICE_UNAVAILABLE", "")
		assert.Equal(t, "2", r.Header().Get("Retry-After"))
	})
}

func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	dbURL := testdb.NewDatabase(t)
	if testdb.ThroughPooler() {
		// A transaction pooler refuses startup parameters: there the timeout
		// is a setting of the database (or role), as deployments set it.
		u, err := url.Parse(dbURL)
		require.NoError(t, err)
		admin, err := pgx.Connect(t.Context(), dbURL)
		require.NoError(t, err)
		_, err = admin.Exec(t.Context(), fmt.Sprintf(`ALTER DATABASE %q SET statement_timeout = '300ms'`, strings.TrimPrefix(u.Path, "/")))
		require.NoError(t, err)
		require.NoError(t, admin.Close(t.Context()))
	}
	a := newApp(t, func(o *options) {
		o.databaseURL = dbURL
		if !testdb.ThroughPooler() {
			o.configure = func(c *pgxpool.Config) { store.SetStatementTimeout(c, 300*time.Millisecond) }
		}
	})
	tok := a.user(t, "locked@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "t"})

	// Another client holds a lock on the tasks table.
	locker, err := pgx.Connect(t.Context(), a.pool.Config().ConnConfig.ConnString())
	require.NoError(t, err)
	t.Cleanup(func() { _ = locker.Close(context.Background()) })
	tx, err := locker.Begin(t.Context())
	require.NoError(t, err)
	_, err = tx.Exec(t.Context(), "LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	r := a.call(t, http.MethodPatch, fmt.Sprint("/api/v1/tasks/", task["id"]), tok, map[string]any{"completed": true})
	requireError(t, r, 503, "SERVICE_UNAVAILABLE", "")
	assert.Equal(t, "2", r.Header().Get("Retry-After"))
	// Routes that do not touch the locked table are unaffected.
	assert.Equal(t, http.StatusOK, a.me(t, tok).Code)

	require.NoError(t, tx.Rollback(t.Context()))
	assert.Equal(t, http.StatusOK, a.call(t, http.MethodPatch, fmt.Sprint("/api/v1/tasks/", task["id"]), tok, map[string]any{"completed": true}).Code)
}

func TestNosniffOnEveryResponse(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	for _, path := range []string{"/healthz", "/readyz", "/docs/", "/openapi.yaml", "/openapi.json", "/no-such-page", "/api/v1/auth/me"} {
		r := a.do(t, http.MethodGet, path, "", "")
		assert.Equal(t, "nosniff", r.Header().Get("X-Content-Type-Options"), path)
	}
}

// syncBuffer is a log destination several goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log lines that contain every one of words.
func (s *syncBuffer) lines(words ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		all := l != ""
		for _, w := range words {
			all = all && strings.Contains(l, w)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

// TestDeletedUsersTokenIsInvalidEverywhere: a user deleted while its access
// token lives (by any means) gets 401 INVALID_TOKEN on every route, never an
// empty 200, a 404 or a 500.
func TestDeletedUsersTokenIsInvalidEverywhere(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "gone@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "t"})
	tag := a.createTag(t, tok, "x")
	_, err := a.pool.Exec(t.Context(), `DELETE FROM users WHERE email = 'gone@example.com'`)
	require.NoError(t, err)

	taskPath := fmt.Sprint("/api/v1/tasks/", task["id"])
	tagPath := fmt.Sprint("/api/v1/tags/", tag)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/api/v1/auth/me", nil},
		{http.MethodGet, "/api/v1/tasks", nil},
		{http.MethodGet, "/api/v1/tasks?q=t&status=pending", nil},
		{http.MethodGet, "/api/v1/tasks?tag=x", nil},
		{http.MethodPost, "/api/v1/tasks", map[string]any{"title": "new"}},
		{http.MethodGet, taskPath, nil},
		{http.MethodGet, "/api/v1/tasks/99999999999", nil},
		{http.MethodPut, taskPath, map[string]any{"title": "new"}},
		{http.MethodPatch, taskPath, map[string]any{"completed": true}},
		{http.MethodPatch, taskPath, map[string]any{}},
		{http.MethodDelete, taskPath, nil},
		{http.MethodPost, taskPath + "/tags/" + fmt.Sprint(tag), nil},
		{http.MethodDelete, taskPath + "/tags/" + fmt.Sprint(tag), nil},
		{http.MethodGet, "/api/v1/tags", nil},
		{http.MethodPost, "/api/v1/tags", map[string]any{"name": "y"}},
		{http.MethodPut, tagPath, map[string]any{"name": "z"}},
		{http.MethodDelete, tagPath, nil},
	} {
		r := a.call(t, c.method, c.path, tok, c.body)
		requireError(t, r, 401, "INVALID_TOKEN", "Invalid authentication token")
		assert.Equal(t, "Bearer", r.Header().Get("WWW-Authenticate"), "%s %s", c.method, c.path)
	}
	var rows int
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM tags)`).Scan(&rows))
	assert.Zero(t, rows, "nothing was written for the deleted user")
}

func TestBodiesAreReadWithoutSilentRepairs(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "utf8@example.com")
	for _, c := range []struct{ path, body, detail string }{
		{"/api/v1/auth/register", "{\"email\": \"a\xffb@example.com\", \"password\": \"correct-horse\"}", "Request body is not valid UTF-8"},
		{"/api/v1/auth/register", `{"email": "a\udcffb@example.com", "password": "correct-horse"}`, ""},
		{"/api/v1/tasks", "{\"title\": \"caf\xe9\"}", "Request body is not valid UTF-8"},
		{"/api/v1/tasks", `{"title": "a\ud83d"}`, ""},
		{"/api/v1/tasks", `{"title": "a\ud83d\u0041"}`, ""},
		{"/api/v1/tasks", `{"title": "x"} {"title": "y"}`, "Request body is not a single valid JSON value"},
		{"/api/v1/tags", "{\"name\": \"\xc0\xaf\"}", "Request body is not valid UTF-8"},
	} {
		r := a.do(t, http.MethodPost, c.path, "application/json", c.body, "Authorization", "Bearer "+tok)
		requireError(t, r, 422, "VALIDATION_ERROR", c.detail)
	}
	// A surrogate pair is a character, and a literal backslash-u is text.
	r := a.do(t, http.MethodPost, "/api/v1/tasks", "application/json", `{"title": "\ud83d\ude00 \\ud800"}`, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
	assert.Equal(t, "\U0001F600 \\ud800", r.JSON(t)["title"])

	var n int
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM tasks) + (SELECT count(*) FROM tags)`).Scan(&n))
	assert.Equal(t, 2, n, "only the test's user and its one valid task were stored")
}

func TestEmailsCannotLookAlike(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	require.Equal(t, http.StatusCreated, a.register(t, "ada@example.com", "correct-horse").Code)
	for _, email := range []string{"ada\u200b@example.com", "\u200bada@example.com", "ada@exa\u200dmple.com", "ad\u00ada@example.com", "ada\ufe0f@example.com", "ada\u2060@example.com"} {
		b := requireError(t, a.register(t, email, "correct-horse"), 400, "INVALID_EMAIL", "Please provide a valid email address")
		assert.Equal(t, "email", b["field"])
	}
	for _, email := range []string{"ADA@EXAMPLE.COM", "ada@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "  Ada@Example.com "} {
		requireError(t, a.register(t, email, "correct-horse"), 400, "EMAIL_ALREADY_EXISTS", "")
	}
	// NFC: a decomposed é is the composed one.
	r := a.register(t, "jose\u0301@b\u00fccher.de", "correct-horse")
	require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
	assert.Equal(t, "jos\u00e9@b\u00fccher.de", r.JSON(t)["email"])
	requireError(t, a.register(t, "JOS\u00c9@xn--bcher-kva.de", "correct-horse"), 400, "EMAIL_ALREADY_EXISTS", "")
	// Login normalises the same way, and an unacceptable address is just
	// wrong credentials.
	assert.Equal(t, http.StatusOK, a.loginRaw(t, "Jose\u0301@XN--BCHER-KVA.DE", "correct-horse").Code)
	assert.Equal(t, http.StatusOK, a.loginRaw(t, "ada@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "correct-horse").Code)
	requireError(t, a.loginRaw(t, "ada\u200b@example.com", "correct-horse"), 401, "INVALID_CREDENTIALS", "")
}

func TestMediaTypesAreCaseInsensitive(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	for i, ct := range []string{"APPLICATION/JSON", "Application/Json; Charset=UTF-8"} {
		r := a.do(t, http.MethodPost, "/api/v1/auth/register", ct, fmt.Sprintf(`{"email": "ct%d@example.com", "password": "correct-horse"}`, i))
		assert.Equal(t, http.StatusCreated, r.Code, "%s: %s", ct, r.Body.String())
	}
	r := a.do(t, http.MethodPost, "/api/v1/auth/login", "Application/X-WWW-Form-Urlencoded", "username=ct0@example.com&password=correct-horse")
	assert.Equal(t, http.StatusOK, r.Code, r.Body.String())
	requireError(t, a.do(t, http.MethodPost, "/api/v1/auth/register", "TEXT/PLAIN", "x"), 415, "UNSUPPORTED_MEDIA_TYPE", "")
}

// TestErrorDetailsSpeakOfTheRequest: a value of the wrong JSON type or a
// number no float64 holds, at any field of any body, whether the validator
// or the handler's decoding meets it (a member repeated with another type
// reaches the decoding), is 422 VALIDATION_ERROR naming the field, in
// words about the request rather than about Go.
func TestErrorDetailsSpeakOfTheRequest(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "details@example.com")
	taskPath := fmt.Sprint("/api/v1/tasks/", a.createTask(t, tok, map[string]any{"title": "t"})["id"])
	tagPath := fmt.Sprint("/api/v1/tags/", a.createTag(t, tok, "t"))
	for i, c := range []struct{ method, path, body, field, detail string }{
		{http.MethodPost, "/api/v1/tasks", `{"title": "x", "completed": 1e999}`, "completed", "completed: value must be a boolean"},
		{http.MethodPost, "/api/v1/tasks", `{"title": 1e999}`, "title", "title: value must be a string"},
		{http.MethodPost, "/api/v1/tasks", `{"title": "x", "completed": -1e400}`, "completed", "completed: value must be a boolean"},
		{http.MethodPost, "/api/v1/tasks", `{"title": "x", "priority": 1e999}`, "priority", "priority: value must be a string"},
		{http.MethodPatch, taskPath, `{"priority": -1e999}`, "priority", "priority: value must be a string"},
		{http.MethodPut, taskPath, `{"title": "x", "priority": 1e999}`, "priority", "priority: value must be a string"},
		{http.MethodPost, "/api/v1/tasks", `{"title": "x", "due_date": 1e999}`, "due_date", "due_date: value must be a string"},
		{http.MethodPost, "/api/v1/tasks", `{"title": 5, "title": "x"}`, "title", "title: value must be a string"},
		{http.MethodPost, "/api/v1/tasks", `{"title": "x", "completed": 1, "completed": true}`, "completed", "completed: value must be a boolean"},
		{http.MethodPost, "/api/v1/tasks", `{"title": "x", "priority": 7, "priority": "low"}`, "priority", "priority: value must be a string"},
		{http.MethodPost, "/api/v1/tasks", `{"title": {"a": 1e999}, "title": "x"}`, "title", "title: value must be a string"},
		{http.MethodPost, "/api/v1/tasks", `{"title": "x", "description": [1], "description": "d"}`, "description", "description: value must be a string"},
		{http.MethodPatch, taskPath, `{"due_date": true, "due_date": null}`, "due_date", "due_date: value must be a string"},
		{http.MethodPost, "/api/v1/tags", `{"name": "x", "color": 1e999}`, "color", "color: value must be a string"},
		{http.MethodPost, "/api/v1/tags", `{"name": 1, "name": "y"}`, "name", "name: value must be a string"},
		{http.MethodPut, tagPath, `{"name": false, "name": "y"}`, "name", "name: value must be a string"},
		{http.MethodPost, "/api/v1/auth/register", `{"email": 1, "email": "z@example.com", "password": "correct-horse"}`, "email", "email: value must be a string"},
		{http.MethodPost, "/api/v1/auth/register", `{"email": "z@example.com", "password": 1e999}`, "password", "password: value must be a string"},
		{http.MethodPatch, "/api/v1/auth/me", `{"name": 1e999}`, "name", "name: value must be a string"},
		{http.MethodPatch, "/api/v1/auth/me", `{"name": 1, "name": "x"}`, "name", "name: value must be a string"},
		{http.MethodPost, "/api/v1/auth/password", `{"current_password": ["x"], "current_password": "x", "new_password": "abcdefghij"}`, "current_password", "current_password: value must be a string"},
		{http.MethodPost, "/api/v1/auth/delete-account", `{"password": 1e999}`, "password", "password: value must be a string"},
	} {
		t.Run(fmt.Sprintf("%sNamed%d", c.field, i), func(t *testing.T) {
			r := a.do(t, c.method, c.path, "application/json", c.body, "Authorization", "Bearer "+tok)
			b := requireError(t, r, 422, "VALIDATION_ERROR", c.detail)
			assert.Equal(t, c.field, b["field"], "%s %s", c.path, c.body)
			for _, internal := range []string{"strconv", "json:", "Go", "parsing", "Unmarshal", "offset", "tasksapi", "authapi", "json.Number"} {
				assert.NotContains(t, b["detail"], internal, "%s %s", c.path, c.body)
			}
		})
	}
	for body, detail := range map[string]string{
		"username=%zz&password=x": `username: a "%" must begin an escape such as %20`,
		"username=a;b&password=x": `username: ";" does not separate parameters; use "&" (or %3B in a value)`,
		"username=a&password=x%2": `password: a "%" must begin an escape such as %20`,
	} {
		r := a.do(t, http.MethodPost, "/api/v1/auth/login", "application/x-www-form-urlencoded", body)
		requireError(t, r, 422, "VALIDATION_ERROR", detail)
	}
}
