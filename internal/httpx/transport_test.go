package httpx_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/api"
	"github.com/todoapp/todo-api/internal/httpx"
	"github.com/todoapp/todo-api/internal/live"
	"github.com/todoapp/todo-api/openapi"
)

func TestErrorsHaveTheContractShape(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	t.Run("UnknownRoute", func(t *testing.T) {
		requireError(t, a.do(t, "GET", "/api/v1/nope", "", ""), 404, "NOT_FOUND", "")
		requireError(t, a.do(t, "GET", "/nope", "", ""), 404, "NOT_FOUND", "")
	})
	t.Run("WrongMethod", func(t *testing.T) {
		requireError(t, a.do(t, "DELETE", "/api/v1/auth/me", "", ""), 405, "METHOD_NOT_ALLOWED", "")
		requireError(t, a.do(t, "GET", "/api/v1/auth/login", "", ""), 405, "METHOD_NOT_ALLOWED", "")
	})
	t.Run("BodyOverLimit", func(t *testing.T) {
		big := `{"email":"big@example.com","password":"` + strings.Repeat("a", httpx.MaxBodyBytes) + `"}`
		requireError(t, a.do(t, "POST", "/api/v1/auth/register", "application/json", big), 413, "PAYLOAD_TOO_LARGE", "")
	})
	t.Run("BodyOverLimitWithoutContentLength", func(t *testing.T) {
		req, rec := newChunkedRequest(strings.Repeat("a", httpx.MaxBodyBytes+10))
		a.e.ServeHTTP(rec, req)
		requireError(t, response{rec}, 413, "PAYLOAD_TOO_LARGE", "")
	})
	t.Run("PanicIsA500WithoutDetails", func(t *testing.T) {
		b := newApp(t)
		b.e.GET("/boom", func(echo.Context) error { panic("secret internal state") })
		r := b.do(t, "GET", "/boom", "", "")
		requireError(t, r, 500, "INTERNAL_ERROR", "Internal server error")
		assert.NotContains(t, r.Body.String(), "secret")
	})
	t.Run("HandlerErrorIsA500WithoutDetails", func(t *testing.T) {
		b := newApp(t)
		b.e.GET("/fail", func(echo.Context) error { return errors.New("pq: password=hunter2") })
		r := b.do(t, "GET", "/fail", "", "")
		requireError(t, r, 500, "INTERNAL_ERROR", "Internal server error")
		assert.NotContains(t, r.Body.String(), "hunter2")
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	t.Run("PreflightFromAllowedOrigin", func(t *testing.T) {
		r := a.do(t, "OPTIONS", "/api/v1/auth/refresh", "", "", "Origin", "http://localhost:5173",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,authorization")
		assert.Equal(t, http.StatusNoContent, r.Code)
		assert.Equal(t, "http://localhost:5173", r.Header().Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "true", r.Header().Get("Access-Control-Allow-Credentials"))
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			assert.Contains(t, r.Header().Get("Access-Control-Allow-Methods"), m)
		}
		assert.Contains(t, strings.ToLower(r.Header().Get("Access-Control-Allow-Headers")), "authorization")
	})
	t.Run("OtherOriginGetsNoGrant", func(t *testing.T) {
		r := a.do(t, "GET", "/healthz", "", "", "Origin", "http://evil.example")
		assert.Empty(t, r.Header().Get("Access-Control-Allow-Origin"))
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("SixthIs429UntilTheWindowEnds", func(t *testing.T) {
		a := newApp(t, func(o *options) { o.authLimit, o.refreshLimit = 5, 10 })
		for i := range 5 {
			assert.Equal(t, http.StatusCreated, a.register(t, "rl"+strconv.Itoa(i)+"@example.com", "correct-horse").Code, "request %d", i+1)
		}
		a.clock.Advance(20 * time.Second)
		r := a.register(t, "rl6@example.com", "correct-horse")
		requireError(t, r, 429, "RATE_LIMIT_EXCEEDED", "Too many authentication attempts. Please try again later")
		assert.Equal(t, "40", r.Header().Get("Retry-After"))
		// Login has its own budget.
		assert.Equal(t, http.StatusOK, a.loginRaw(t, "rl0@example.com", "correct-horse").Code)
		a.clock.Advance(40 * time.Second)
		assert.Equal(t, http.StatusCreated, a.register(t, "rl7@example.com", "correct-horse").Code)
	})
	t.Run("RefreshAllowsTen", func(t *testing.T) {
		a := newApp(t, func(o *options) { o.authLimit, o.refreshLimit = 5, 10 })
		for range 10 {
			requireError(t, a.refresh(t, "x"), 401, "INVALID_TOKEN", "")
		}
		r := a.refresh(t, "x")
		requireError(t, r, 429, "RATE_LIMIT_EXCEEDED", "")
		assert.Equal(t, "60", r.Header().Get("Retry-After"))
	})
	t.Run("PerClientIP", func(t *testing.T) {
		a := newApp(t, func(o *options) { o.authLimit = 1 })
		assert.Equal(t, http.StatusUnauthorized, a.loginRaw(t, "x@example.com", "p").Code)
		assert.Equal(t, http.StatusTooManyRequests, a.loginRaw(t, "x@example.com", "p").Code)
		// X-Forwarded-For from an untrusted peer is ignored.
		r := a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "username=x&password=p", "X-Forwarded-For", "203.0.113.9")
		assert.Equal(t, http.StatusTooManyRequests, r.Code)
	})
	t.Run("IPv6KeyedBySlash64", func(t *testing.T) {
		a := newApp(t, func(o *options) { o.authLimit = 2; o.trusted = "192.0.2.0/24" })
		login := func(ip string) int {
			return a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "username=x&password=p", "X-Forwarded-For", ip).Code
		}
		// Two addresses of one /64 share its budget...
		assert.Equal(t, http.StatusUnauthorized, login("2001:db8:1:2::1"))
		assert.Equal(t, http.StatusUnauthorized, login("2001:db8:1:2:ffff:ffff:ffff:ffff"))
		assert.Equal(t, http.StatusTooManyRequests, login("2001:db8:1:2::3"))
		// ...another /64 has its own, and IPv4 stays per address.
		assert.Equal(t, http.StatusUnauthorized, login("2001:db8:1:3::1"))
		assert.Equal(t, http.StatusUnauthorized, login("203.0.113.1"))
		assert.Equal(t, http.StatusUnauthorized, login("203.0.113.2"))
	})
	t.Run("TrustedProxyForwardsClientIP", func(t *testing.T) {
		// httptest requests come from 192.0.2.1.
		a := newApp(t, func(o *options) { o.authLimit = 1; o.trusted = "192.0.2.0/24" })
		for _, ip := range []string{"203.0.113.1", "203.0.113.2"} {
			r := a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "username=x&password=p", "X-Forwarded-For", ip)
			assert.Equal(t, http.StatusUnauthorized, r.Code, ip)
		}
		r := a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "username=x&password=p", "X-Forwarded-For", "203.0.113.1")
		assert.Equal(t, http.StatusTooManyRequests, r.Code)
	})
}

func TestEveryOperationDeclaresItsSecurity(t *testing.T) {
	t.Parallel()
	public := map[string]bool{}
	for _, s := range openapi.Specs {
		spec, err := s.Parsed()
		require.NoError(t, err)
		for _, item := range spec.Paths.Map() {
			for _, op := range item.Operations() {
				require.NotNil(t, op.Security, "%s must declare security (`security: []` when public)", op.OperationID)
				if httpx.IsPublic(op) {
					public[op.OperationID] = true
				}
			}
		}
	}
	// Exactly these are public; everything else needs a Bearer token.
	assert.Equal(t, map[string]bool{"registerUser": true, "loginUser": true, "refreshToken": true, "logoutUser": true}, public)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := a.do(t, "GET", "/healthz", "", "")
	assert.Equal(t, http.StatusOK, r.Code)
	r = a.do(t, "GET", "/readyz", "", "")
	assert.Equal(t, http.StatusOK, r.Code)
	assert.Equal(t, "ready", r.JSON(t)["status"])
	r = a.do(t, "GET", "/openapi.yaml", "", "")
	assert.Equal(t, http.StatusOK, r.Code)
	assert.Contains(t, r.Body.String(), "operationId: registerUser")
	assert.Contains(t, r.Body.String(), "operationId: listTasks")
	r = a.do(t, "GET", "/openapi.json", "", "")
	assert.Equal(t, http.StatusOK, r.Code)
	assert.Contains(t, r.Body.String(), `"operationId":"listTasks"`)
}

func TestDocs(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := a.do(t, "GET", "/docs", "", "")
	assert.Equal(t, http.StatusMovedPermanently, r.Code)
	assert.Equal(t, "/docs/", r.Header().Get("Location"))
	r = a.do(t, "GET", "/docs/", "", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.Contains(t, r.Body.String(), `<div id="swagger-ui">`)
	for _, asset := range []string{"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "init.js"} {
		assert.Equal(t, http.StatusOK, a.do(t, "GET", "/docs/"+asset, "", "").Code, asset)
	}
	requireError(t, a.do(t, "GET", "/docs/missing.js", "", ""), 404, "NOT_FOUND", "")

	// ReDoc, over the merged document, from the binary.
	r = a.do(t, "GET", "/redoc", "", "")
	assert.Equal(t, http.StatusMovedPermanently, r.Code)
	assert.Equal(t, "/redoc/", r.Header().Get("Location"))
	r = a.do(t, "GET", "/redoc/", "", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.Contains(t, r.Body.String(), `<redoc spec-url="/openapi.json">`)
	assert.Contains(t, r.Header().Get("Content-Security-Policy"), "connect-src 'self'", "no telemetry to another host")
	r = a.do(t, "GET", "/redoc/redoc.standalone.js", "", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.Contains(t, r.Header().Get("Content-Type"), "javascript", "a module script needs a JavaScript type")
	assert.Greater(t, r.Body.Len(), 1_000_000)

	r = a.do(t, "GET", "/openapi/specs.json", "", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.JSONEq(t, `[{"url":"/openapi.yaml","name":"Todo API (all operations)"},{"url":"/openapi/auth-api.yaml","name":"Authentication"},{"url":"/openapi/tasks-api.yaml","name":"Tasks and tags"}]`, r.Body.String())
	r = a.do(t, "GET", "/openapi/auth-api.yaml", "", "")
	require.Equal(t, http.StatusOK, r.Code)
	assert.Equal(t, string(openapi.AuthAPI), r.Body.String())
}

// recordingTB notes a failure instead of failing the test.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(string, ...any) { r.failed = true }
func (r *recordingTB) Helper()               {}

// TestContractCheckCatchesDrift: the check every test request goes through
// rejects what the spec does not declare.
func TestContractCheckCatchesDrift(t *testing.T) {
	t.Parallel()
	user := `{"id":"3f2b8e4e-1c1a-4c1e-9a51-1d1b1a1f1e10","email":"a@example.com","name":null,"created_at":"2026-01-01T00:00:00Z"}`
	cases := []struct {
		name   string
		status int
		header map[string]string
		body   string
		ok     bool
	}{
		{"Declared", 200, nil, user, true},
		{"UndeclaredStatus", 418, nil, `{"detail":"x","code":"TEAPOT"}`, false},
		{"BodyMissingAField", 200, nil, `{"id":"3f2b8e4e-1c1a-4c1e-9a51-1d1b1a1f1e10","email":"a@example.com","created_at":"2026-01-01T00:00:00Z"}`, false},
		{"ErrorWithoutRequiredHeader", 401, nil, `{"detail":"Authentication required","code":"MISSING_TOKEN"}`, false},
		{"ErrorWithItsHeader", 401, map[string]string{"WWW-Authenticate": "Bearer"}, `{"detail":"Authentication required","code":"MISSING_TOKEN"}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json")
			for k, v := range c.header {
				rec.Header().Set(k, v)
			}
			rec.WriteHeader(c.status)
			_, _ = rec.WriteString(c.body)
			tb := &recordingTB{TB: t}
			checkContract(tb, req, rec)
			assert.Equal(t, !c.ok, tb.failed)
		})
	}
}

func TestOtherEchoErrorsGetMachineCodes(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.e.GET("/forbidden", func(echo.Context) error { return echo.NewHTTPError(http.StatusForbidden, "no entry") })
	a.e.GET("/teapot", func(echo.Context) error { return echo.NewHTTPError(http.StatusTeapot) })
	requireError(t, a.do(t, "GET", "/forbidden", "", ""), 403, "FORBIDDEN", "no entry")
	requireError(t, a.do(t, "GET", "/teapot", "", ""), 418, "IM_A_TEAPOT", "I'm a teapot")
}

func TestRateLimitForAnUnknownOperationIsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	_, err := httpx.NewServer(httpx.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Pool: a.pool,
		Monitor: a.monitor, RequestTimeout: time.Second, Tokens: a.tokens, Revocations: a.revocations, Metrics: a.metrics, Auth: &api.AuthHandler{}, Tasks: &api.TasksHandler{},
		Notifier: &live.Notifier{}, RateLimits: map[string]*httpx.RateLimiter{"loginuser": nil}})
	require.ErrorContains(t, err, `unknown operation "loginuser"`)
}

// TestRateLimitIsSharedByReplicas: two servers on one database enforce one
// limit: the 6th login from an address is 429 whichever server gets it.
func TestRateLimitIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(o *options) { o.authLimit = 5 })
	b := newApp(t, func(o *options) { o.authLimit = 5; o.databaseURL = a.url; o.listenURL = a.url })
	servers := []*app{a, b, b, a, b}
	for i, s := range servers {
		assert.Equal(t, http.StatusUnauthorized, s.loginRaw(t, "x@example.com", "p").Code, "login %d", i+1)
	}
	for _, s := range []*app{a, b} {
		r := s.loginRaw(t, "x@example.com", "p")
		requireError(t, r, 429, "RATE_LIMIT_EXCEEDED", "")
		assert.NotEmpty(t, r.Header().Get("Retry-After"))
	}
	var rows int
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT count FROM rate_limits WHERE key = 'loginUser 192.0.2.1'`).Scan(&rows))
	assert.Equal(t, 7, rows, "neither server had seen five itself: both asked the shared count")
}

// TestLimitedLoginStatements: a limited login costs one statement more than
// an unlimited one: the shared count.
func TestLimitedLoginStatements(t *testing.T) {
	t.Parallel()
	for limit, want := range map[int]int64{0: 2, 5: 3} {
		a := newApp(t, func(o *options) { o.authLimit = limit })
		require.Equal(t, http.StatusCreated, a.register(t, "count-login@example.com", "correct-horse").Code)
		before := a.queries.n.Load()
		require.Equal(t, http.StatusOK, a.loginRaw(t, "count-login@example.com", "correct-horse").Code)
		assert.Equal(t, want, a.queries.n.Load()-before, "limit %d: credentials, session (and the count)", limit)
	}
}

// TestHeadAnswersAsGet: wherever GET is answered, HEAD is too (RFC 9110
// 9.3.2), with the GET's status and headers and no body: authentication,
// validation and 405 included.
func TestHeadAnswersAsGet(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := newApp(t, func(o *options) { o.logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	tok := a.user(t, "head@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "t"})
	bearer := []string{"Authorization", "Bearer " + tok}
	same := []string{"Content-Type", "Content-Length", "Cache-Control", "ETag", "WWW-Authenticate", "Location", "Allow",
		"Content-Security-Policy", "X-Content-Type-Options"}
	for _, c := range []struct {
		name, path string
		header     []string
		status     int
	}{
		{"Health", "/healthz", nil, 200},
		{"Readiness", "/readyz", nil, 200},
		{"SwaggerUI", "/docs/", nil, 200},
		{"SwaggerUIAsset", "/docs/swagger-ui.css", nil, 200},
		{"DocsRedirect", "/docs", nil, 301},
		{"ReDoc", "/redoc/", nil, 200},
		{"MergedSpec", "/openapi.yaml", nil, 200},
		{"MergedSpecJSON", "/openapi.json", nil, 200},
		{"SpecFile", "/openapi/tasks-api.yaml", nil, 200},
		{"TaskList", "/api/v1/tasks", bearer, 200},
		{"Task", fmt.Sprint("/api/v1/tasks/", task["id"]), bearer, 200},
		{"Tags", "/api/v1/tags", bearer, 200},
		{"Me", "/api/v1/auth/me", bearer, 200},
		{"Sessions", "/api/v1/auth/sessions", bearer, 200},
		{"Changes", "/api/v1/changes", bearer, 200},
		{"UnauthenticatedIs401", "/api/v1/tasks", nil, 401},
		{"MalformedQueryIs422", "/api/v1/tasks?page=two", bearer, 422},
		{"NoGETIs405", "/api/v1/auth/login", nil, 405},
		{"UnknownRouteIs404", "/nope", nil, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The list's ETag differs from one request to the next while its
			// version is not settled (another test's transaction holds the
			// feed's horizon back): ask again until the pair can agree.
			var get, head response
			poll(t, func() bool {
				get = a.do(t, http.MethodGet, c.path, "", "", c.header...)
				head = a.do(t, http.MethodHead, c.path, "", "", c.header...)
				return get.Header().Get("ETag") == head.Header().Get("ETag")
			}, "GET and HEAD of %s never carried one ETag", c.path)
			assert.Equal(t, c.status, get.Code)
			assert.Equal(t, get.Code, head.Code)
			assert.Zero(t, head.Body.Len(), "no body")
			for _, h := range same {
				assert.Equal(t, get.Header().Values(h), head.Header().Values(h), h)
			}
		})
	}
	t.Run("EventStreamEndsAfterItsHeader", func(t *testing.T) {
		done := make(chan response, 1)
		go func() { done <- a.do(t, http.MethodHead, "/api/v1/events", "", "", bearer...) }()
		select {
		case r := <-done:
			assert.Equal(t, http.StatusOK, r.Code)
			assert.Equal(t, "text/event-stream", r.Header().Get("Content-Type"))
			assert.Zero(t, r.Body.Len())
		case <-time.After(10 * time.Second):
			t.Fatal("HEAD /api/v1/events kept streaming")
		}
	})
	t.Run("NoBodyOnTheWire", func(t *testing.T) {
		c := dialRaw(t, a.listen(t))
		c.send(t, "HEAD /openapi.json HTTP/1.1\r\nHost: api\r\n\r\nGET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
		head, err := http.ReadResponse(c.r, &http.Request{Method: http.MethodHead})
		require.NoError(t, err)
		require.NoError(t, head.Body.Close())
		assert.Equal(t, http.StatusOK, head.StatusCode)
		next := c.response(t) // parses only if the HEAD sent no body
		assert.Equal(t, http.StatusOK, next.StatusCode)
		assert.JSONEq(t, `{"status":"ok"}`, next.Body)
	})
	// Three HEADs of the list (200, 401, 422; the 200 maybe asked more than
	// once, see above), each logged as HEAD of the GET's operation.
	heads := logs.lines(`"method":"HEAD"`, `"operation":"listTasks"`)
	require.GreaterOrEqual(t, len(heads), 3, "logged as HEAD, of the GET's operation")
	for _, status := range []string{`"status":200`, `"status":401`, `"status":422`} {
		assert.NotEmpty(t, logs.lines(`"method":"HEAD"`, `"operation":"listTasks"`, status), status)
	}
	assert.Contains(t, heads[0], `"bytes":0`)
}
