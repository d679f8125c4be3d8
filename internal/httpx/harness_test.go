package httpx_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/api"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/httpx"
	"github.com/todoapp/todo-api/internal/live"
	"github.com/todoapp/todo-api/internal/metrics"
	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/internal/testdb"
	"github.com/todoapp/todo-api/openapi"
)

// testSecret is a 64-hex-character JWT secret used only by tests.
const testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// clock is a settable clock shared by tokens, sessions and rate limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// queryCounter counts the SQL statements the pool sends for requests: not
// the notifications of changes, which the server sends in the background
// for many writes at once (live.Notifier).
// It counts them by name too (the sqlc name, "" for unnamed SQL).
type queryCounter struct {
	n      atomic.Int64
	mu     sync.Mutex
	byName map[string]int
}

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !strings.HasPrefix(d.SQL, "-- name: NotifyChanges ") {
		q.n.Add(1)
		name := ""
		if rest, ok := strings.CutPrefix(d.SQL, "-- name: "); ok {
			name, _, _ = strings.Cut(rest, " ")
		}
		q.mu.Lock()
		if q.byName == nil {
			q.byName = map[string]int{}
		}
		q.byName[name]++
		q.mu.Unlock()
	}
	return ctx
}

// ran is how many times the statement of that name ran so far.
func (q *queryCounter) ran(name string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.byName[name]
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// options of a test server.
type options struct {
	authLimit, refreshLimit int
	window                  time.Duration
	grace                   time.Duration
	bcryptCost              int
	trusted                 string
	databaseURL             string // a database of the test's own (default: a fresh one)
	listenURL               string // where the listener connects (default: the pool's database)
	listenerDown            bool   // it cannot: do not wait for it
	draining                func() bool
	seedKey                 string      // with seedFill: start from a filled template
	seedFill                testdb.Fill // (see testdb.NewSeeded)
	configure               func(*pgxpool.Config)
	connTimeout             time.Duration // the wait for a pool connection
	requestTimeout          time.Duration
	logger                  *slog.Logger
	accessTTL               time.Duration
	ping                    time.Duration // between pings of an idle event stream (0: the default)
	streamsMax              int           // open event streams of the server in all (0: no bound)
}

// app is the real server (router, middleware, handlers) on a fresh database.
type app struct {
	e       *echo.Echo
	pool    *pgxpool.Pool
	clock   *clock
	queries *queryCounter
	tokens  *auth.Tokens
	monitor *store.Monitor
	metrics *metrics.Metrics
	// url is the database's (another app on it is another server instance
	// of one deployment); listener hears of ended sessions.
	url         string
	revocations *live.RevocationCheck
	listener    *store.Listener
	events      *live.Streams
	notifier    *live.Notifier
	tasks       *api.TasksHandler
	// retention prunes with the test's clock and a 30-day change feed.
	retention *store.Retention
}

func newApp(t testing.TB, opt ...func(*options)) *app {
	t.Helper()
	o := options{window: time.Minute, grace: 10 * time.Second, bcryptCost: 4, accessTTL: 15 * time.Minute,
		connTimeout: 10 * time.Second, requestTimeout: 20 * time.Second,
		logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range opt {
		f(&o)
	}
	counter := &queryCounter{}
	var pool *pgxpool.Pool
	monitor, err := store.NewMonitor(o.logger, time.Now)
	require.NoError(t, err)
	trace := func(c *pgxpool.Config) {
		store.AddTracer(c, counter)
		store.AddTracer(c, monitor)
		if o.configure != nil {
			o.configure(c)
		}
	}
	switch {
	case o.databaseURL != "":
		pool = testdb.Connect(t, o.databaseURL, trace)
	case o.seedFill != nil:
		pool = testdb.NewSeeded(t, o.seedKey, o.seedFill, trace)
	default:
		pool = testdb.NewWithConfig(t, trace)
	}
	clk := newClock()
	hasher, err := auth.NewHasher(o.bcryptCost, 2)
	require.NoError(t, err)
	tokens, err := auth.NewTokens([]byte(testSecret), o.accessTTL, 7*24*time.Hour, clk.Now)
	require.NoError(t, err)
	database, err := store.NewDB(pool, o.connTimeout)
	require.NoError(t, err)
	authH, err := api.NewAuthHandler(database, hasher, tokens, true, o.grace, clk.Now)
	require.NoError(t, err)
	m := metrics.New(pool, hasher.Waiting)
	hasher.ObserveWaits(m.BcryptWait)
	authH.OnRefreshReuse(m.RefreshReuse)
	url, listenURL := pool.Config().ConnString(), o.listenURL
	if listenURL == "" {
		listenURL = url
	}
	t.Cleanup(hasher.Close)
	feed, err := api.NewFeed(database)
	require.NoError(t, err)
	rt, err := live.Listen(database, listenURL, o.logger, feed, live.StreamOptions{PerUser: 3, Max: o.streamsMax, Ping: o.ping})
	require.NoError(t, err)
	revocations, listener := rt.Revocations, rt.Listener
	m.ObserveStreams(rt.Streams.Open)
	tasksH, err := api.NewTasksHandler(database, rt.Streams, clk.Now)
	require.NoError(t, err)
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rt.Run(lctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	if (o.databaseURL == "" || o.listenURL != "") && !o.listenerDown { // wait until it listens
		poll(t, listener.Connected, "the listener connects")
	}
	var trusted []*net.IPNet
	if o.trusted != "" {
		_, n, err := net.ParseCIDR(o.trusted)
		require.NoError(t, err)
		trusted = append(trusted, n)
	}
	retention, err := store.NewRetention(database, store.RetentionOptions{ChangesKept: 720 * time.Hour, RateWindow: o.window}, clk.Now)
	require.NoError(t, err)
	e, err := httpx.NewServer(httpx.Deps{
		Logger: o.logger, Pool: pool, Monitor: monitor, RequestTimeout: o.requestTimeout,
		Tokens: tokens, Revocations: revocations, Metrics: m, Draining: o.draining, Auth: authH, Tasks: tasksH, Notifier: rt.Notifier,
		SharedLimits:   store.NewRateCounts(database),
		RateLimits:     httpx.RateLimits(httpx.RateLimitOptions{Auth: o.authLimit, Refresh: o.refreshLimit, Window: o.window, MaxKeys: 1000}, clk.Now),
		CORSOrigins:    []string{"http://localhost:5173"},
		TrustedProxies: trusted,
	})
	require.NoError(t, err)
	return &app{e: e, pool: pool, clock: clk, queries: counter, tokens: tokens, monitor: monitor, metrics: m,
		url: url, revocations: revocations, listener: listener, events: rt.Streams, notifier: rt.Notifier, tasks: tasksH, retention: retention}
}

// response is a finished request.
type response struct {
	*httptest.ResponseRecorder
}

// JSON decodes the body into a map.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &m), "body: %s", r.Body.String())
	return m
}

// JSON2 decodes the body, whatever JSON it is.
func (r response) JSON2(t testing.TB) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(r.Body.Bytes(), &v), "body: %s", r.Body.String())
	return v
}

// Cookie returns the Set-Cookie named name, or nil.
func (r response) Cookie(name string) *http.Cookie {
	for _, c := range r.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// tester is what the request helpers need of a test: a testing.TB, or
// rapid's *rapid.T (which cannot be a testing.TB).
type tester interface {
	Helper()
	Errorf(format string, args ...any)
}

// do sends a request through the whole server. header alternates names and
// values. It never stops the test (only t.Errorf, when the response breaks
// the spec), so it may run on other goroutines.
func (a *app) do(t tester, method, path, contentType, body string, header ...string) response {
	t.Helper()
	return a.serve(t, newRequest(method, path, contentType, body, header...))
}

// newRequest is a request to the server; header alternates names and values.
func newRequest(method, path, contentType, body string, header ...string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return req
}

// serve sends req through the whole server and checks the answer against
// the spec (like do, it never stops the test).
func (a *app) serve(t tester, req *http.Request) response {
	t.Helper()
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	if _, bench := t.(*testing.B); !bench { // benchmarks measure the server alone
		checkContract(t, req, rec)
	}
	return response{rec}
}

// mustJSON encodes v; like do, it never stops the test.
func mustJSON(t tester, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Errorf("encode request body: %v", err)
	}
	return string(b)
}

func (a *app) postJSON(t testing.TB, path string, v any, header ...string) response {
	t.Helper()
	return a.do(t, http.MethodPost, path, "application/json", mustJSON(t, v), header...)
}

func (a *app) register(t testing.TB, email, password string) response {
	t.Helper()
	return a.postJSON(t, "/api/v1/auth/register", map[string]any{"email": email, "password": password})
}

// loginRaw sends a login form; header alternates names and values.
func (a *app) loginRaw(t testing.TB, username, password string, header ...string) response {
	t.Helper()
	form := url.Values{"username": {username}, "password": {password}}
	return a.do(t, http.MethodPost, "/api/v1/auth/login", "application/x-www-form-urlencoded", form.Encode(), header...)
}

// tokensOf returns the access and refresh tokens of a successful login.
func tokensOf(t testing.TB, r response) (access, refresh string) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	c := r.Cookie("refresh_token")
	require.NotNil(t, c)
	return r.JSON(t)["access_token"].(string), c.Value
}

// login registers (when needed) and logs in, returning the access token and
// the refresh token.
func (a *app) login(t testing.TB, email, password string) (access, refresh string) {
	t.Helper()
	if r := a.register(t, email, password); r.Code != http.StatusCreated {
		require.Equal(t, "EMAIL_ALREADY_EXISTS", r.JSON(t)["code"], r.Body.String())
	}
	return tokensOf(t, a.loginRaw(t, email, password))
}

func (a *app) me(t testing.TB, access string) response {
	t.Helper()
	return a.do(t, http.MethodGet, "/api/v1/auth/me", "", "", "Authorization", "Bearer "+access)
}

func (a *app) refresh(t testing.TB, refresh string) response {
	t.Helper()
	var h []string
	if refresh != "" {
		h = []string{"Cookie", "refresh_token=" + refresh}
	}
	return a.do(t, http.MethodPost, "/api/v1/auth/refresh", "", "", h...)
}

// requireError asserts an error response in the contract's shape.
func requireError(t testing.TB, r response, status int, code, detail string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Code, r.Body.String())
	require.Equal(t, "application/json", r.Header().Get("Content-Type"))
	body := r.JSON(t)
	require.Equal(t, code, body["code"], r.Body.String())
	if detail != "" {
		require.Equal(t, detail, body["detail"])
	}
	require.NotEmpty(t, body["detail"])
	for k := range body {
		require.Contains(t, []string{"detail", "code", "field"}, k, "unexpected key in error body")
	}
	return body
}

var contract = sync.OnceValues(func() (routers.Router, error) {
	spec, err := openapi.Merged()
	if err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(spec)
})

// checkContract fails the test when a response to a request the spec
// declares is not one the spec declares: an undeclared status, a missing
// required header, or a body off its schema. Requests to routes outside the
// spec (unknown paths, wrong methods, /docs, /healthz) are not checked.
func checkContract(t tester, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	router, err := contract()
	if err != nil {
		t.Errorf("load the merged spec: %v", err)
		return
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: rec.Code,
		Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true,
			// An event stream is no one JSON document; sync_test.go reads its events.
			ExcludeResponseBody: strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream")},
	}
	in.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, which its spec does not declare: %v\nbody: %s", req.Method, req.URL, rec.Code, err, rec.Body.String())
	}
}

// newChunkedRequest is a register request whose body has no Content-Length.
func newChunkedRequest(body string) (*http.Request, *httptest.ResponseRecorder) {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/register", io.NopCloser(strings.NewReader(body)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	return req, httptest.NewRecorder()
}

// call sends a JSON request (body nil: none) with a Bearer token and any
// other headers (name, value, ...). Like do, it never stops the test.
func (a *app) call(t testing.TB, method, path, token string, body any, header ...string) response {
	t.Helper()
	header = append(header, "Authorization", "Bearer "+token)
	if body == nil {
		return a.do(t, method, path, "", "", header...)
	}
	return a.do(t, method, path, "application/json", mustJSON(t, body), header...)
}

// write sends a request like call and requires the status want: for each
// write a test goes on to rely on. Unlike call it stops the test, so it runs
// on the test's goroutine only.
func (a *app) write(t testing.TB, want int, method, path, token string, body any, header ...string) response {
	t.Helper()
	r := a.call(t, method, path, token, body, header...)
	require.Equal(t, want, r.Code, "%s %s: %s", method, path, r.Body.String())
	return r
}

// user registers and logs in a fresh user, returning its access token.
func (a *app) user(t testing.TB, email string) string {
	t.Helper()
	access, _ := a.login(t, email, "correct-horse")
	return access
}

// createTask creates a task and returns it decoded.
func (a *app) createTask(t testing.TB, token string, body map[string]any) map[string]any {
	t.Helper()
	r := a.call(t, http.MethodPost, "/api/v1/tasks", token, body)
	require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
	return r.JSON(t)
}

// createTag creates a tag and returns its id.
func (a *app) createTag(t testing.TB, token, name string) int {
	t.Helper()
	r := a.call(t, http.MethodPost, "/api/v1/tags", token, map[string]any{"name": name})
	require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
	return int(r.JSON(t)["id"].(float64))
}

// poll calls cond on the test's goroutine until it holds, and fails the
// test if it never does within testdb.Patience, a bound generous enough for
// a loaded machine (what it waits for takes milliseconds normally). It is
// the one way these tests wait for a condition.
func poll(t testing.TB, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	testdb.Poll(t, cond, msgAndArgs...)
}

// lastSeen formats as what it returns when a failure message is written:
// a message of poll's can say the last value its condition saw.
type lastSeen func() string

func (f lastSeen) String() string { return f() }

// patience bounds a wait that only guards against a hang (an event that
// never comes, a stream that never ends).
const patience = testdb.Patience
