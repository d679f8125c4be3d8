package httpx_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/events"
	"github.com/todoapp/todo-api/internal/jobs"
	"github.com/todoapp/todo-api/internal/reminders"
	"github.com/todoapp/todo-api/internal/webhook"
)

// scrape reads the app's /metrics.
func (a *app) scrape(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	a.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

// sample is the value of the sample named exactly so (name and labels).
func sample(t *testing.T, metrics, series string) string {
	t.Helper()
	for _, l := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(o *options) { o.authLimit = 2; o.grace = 0 })
	access, refresh := a.login(t, "metrics@example.com", "correct-horse")
	requireError(t, a.loginRaw(t, "metrics@example.com", "wrong-horse"), 401, "INVALID_CREDENTIALS", "")
	requireError(t, a.loginRaw(t, "metrics@example.com", "wrong-horse"), 429, "RATE_LIMIT_EXCEEDED", "")
	before := a.scrape(t)
	for range 3 {
		require.Equal(t, http.StatusOK, a.me(t, access).Code)
	}
	a.do(t, http.MethodGet, "/no/such/route", "", "")
	r := a.refresh(t, refresh)
	require.Equal(t, http.StatusOK, r.Code)
	a.clock.Advance(time.Second)
	requireError(t, a.refresh(t, refresh), 401, "INVALID_TOKEN", "") // a replay: the session is revoked
	m := a.scrape(t)

	for _, family := range []string{
		"todo_http_requests_total", "todo_http_request_duration_seconds", "todo_logins_total",
		"todo_refresh_token_reuse_total", "todo_rate_limited_requests_total", "todo_bcrypt_queue_length",
		"todo_bcrypt_wait_seconds", "todo_db_pool_connections_in_use", "todo_db_pool_connections_idle",
		"todo_db_pool_connections_max", "todo_db_pool_waits_total", "todo_db_pool_wait_seconds_total",
		"go_goroutines", "go_build_info", "process_cpu_seconds_total",
	} {
		assert.Contains(t, m, "# TYPE "+family+" ", family)
	}
	assert.Equal(t, "", sample(t, before, `todo_http_requests_total{method="GET",operation="getCurrentUser",status="200"}`))
	assert.Equal(t, "3", sample(t, m, `todo_http_requests_total{method="GET",operation="getCurrentUser",status="200"}`))
	assert.Equal(t, "3", sample(t, m, `todo_http_request_duration_seconds_count{operation="getCurrentUser",status="200"}`))
	assert.Equal(t, "1", sample(t, m, `todo_http_request_duration_seconds_count{operation="refreshToken",status="200"}`))
	assert.Equal(t, "1", sample(t, m, `todo_http_request_duration_seconds_count{operation="refreshToken",status="401"}`),
		"durations by status: a refused replay apart from the refresh that worked")
	assert.Equal(t, "1", sample(t, m, `todo_http_request_duration_seconds_bucket{operation="unknown",status="404",le="+Inf"}`))
	assert.Equal(t, "1", sample(t, m, `todo_http_requests_total{method="GET",operation="unknown",status="404"}`), "an unknown route is one label value")
	assert.Equal(t, "1", sample(t, m, `todo_logins_total{result="success"}`))
	assert.Equal(t, "1", sample(t, m, `todo_logins_total{result="invalid_credentials"}`))
	assert.Equal(t, "1", sample(t, m, `todo_logins_total{result="rate_limited"}`))
	assert.Equal(t, "1", sample(t, m, `todo_rate_limited_requests_total{operation="loginUser"}`))
	assert.Equal(t, "1", sample(t, m, `todo_refresh_token_reuse_total`))
	assert.Equal(t, "0", sample(t, m, `todo_bcrypt_queue_length`))
	assert.Equal(t, "3", sample(t, m, `todo_bcrypt_wait_seconds_count`), "register and two logins: the third was refused before bcrypt")
}

func TestRequestLogLines(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := newApp(t, func(o *options) { o.logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	access := a.user(t, "logs@example.com")
	var uid string
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT id FROM users WHERE email = 'logs@example.com'`).Scan(&uid))
	r := a.do(t, http.MethodGet, "/api/v1/tasks?q=secret-search", "", "", "Authorization", "Bearer "+access,
		"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")
	require.Equal(t, http.StatusOK, r.Code)

	lines := logs.lines(`"operation":"listTasks"`)
	require.Len(t, lines, 1)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
	assert.Equal(t, uid, line["user_id"])
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", line["trace_id"])
	assert.Equal(t, float64(200), line["status"])
	assert.Equal(t, r.Header().Get("X-Request-Id"), line["request_id"])
	assert.IsType(t, float64(0), line["duration_ms"])
	assert.NotContains(t, lines[0], "secret-search", "no query strings")
	assert.NotContains(t, lines[0], access, "no tokens")

	a.do(t, http.MethodGet, "/healthz", "", "", "traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")
	health := logs.lines(`"operation":"unknown"`, `"path":"/healthz"`)
	require.Len(t, health, 1)
	assert.NotContains(t, health[0], "trace_id", "an all-zero trace id is invalid")
	assert.NotContains(t, health[0], "user_id")
}

func TestReadinessFailsWhileDraining(t *testing.T) {
	t.Parallel()
	var draining bool
	a := newApp(t, func(o *options) { o.draining = func() bool { return draining } })
	assert.Equal(t, http.StatusOK, a.do(t, http.MethodGet, "/readyz", "", "").Code)
	draining = true
	requireError(t, a.do(t, http.MethodGet, "/readyz", "", ""), 503, "SERVICE_UNAVAILABLE", "Shutting down")
	assert.Equal(t, http.StatusOK, a.do(t, http.MethodGet, "/healthz", "", "").Code, "still alive")
	assert.Equal(t, http.StatusCreated, a.register(t, "late@example.com", "correct-horse").Code, "and still serving")
}

// seriesCount is how many samples of the service's own metrics (todo_*) a
// scrape holds: a histogram's buckets count each.
func seriesCount(metrics string) int {
	n := 0
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "todo_") {
			n++
		}
	}
	return n
}

// TestClientInputStaysOutOfMetricsAndLogs: whatever a client puts in the
// method, the path or the headers, the metrics keep the same series and a
// log line stays short and holds none of it.
func TestClientInputStaysOutOfMetricsAndLogs(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := newApp(t, func(o *options) { o.logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	method := func(i int) string { return fmt.Sprintf("MX%06dQ", i) }
	send := func(i int) {
		a.do(t, method(i), "/api/v1/tasks", "", "")
		a.do(t, method(i), "/no/such/route", "", "")
	}
	send(0)
	before := a.scrape(t)
	for i := 1; i <= 200; i++ {
		send(i)
	}
	after := a.scrape(t)
	assert.Equal(t, seriesCount(before), seriesCount(after), "200 new methods added no series")
	assert.NotContains(t, after, method(200))

	long := strings.Repeat("X", 100_000)
	r := a.do(t, "M"+long, "/api/v1/tasks", "", "", "X-Request-Id", long, "traceparent", long, "User-Agent", long)
	assert.LessOrEqual(t, len(r.Header().Get("X-Request-Id")), 64, "a long request id is not echoed")
	r = a.do(t, http.MethodGet, "/"+long, "", "", "X-Request-Id", "req-1:proxy.example_ok")
	requireError(t, r, 404, "NOT_FOUND", "")
	assert.Equal(t, "req-1:proxy.example_ok", r.Header().Get("X-Request-Id"), "a plain one is kept")
	assert.Less(t, len(a.scrape(t)), len(after)+2048, "/metrics did not grow with the method")

	for _, l := range logs.lines(`"msg":"request"`) {
		assert.Less(t, len(l), 1024, "a log line stays short: %.200s", l)
		assert.NotContains(t, l, "MX0", "no method from the client")
		assert.NotContains(t, l, strings.Repeat("X", 300), "no long input from the client (a path is cut)")
	}
	assert.Len(t, logs.lines(`"method":"OTHER"`), 403, "each request with an unknown method is logged, as OTHER")
	assert.Len(t, logs.lines(`"request_id":"req-1:proxy.example_ok"`), 1)
}

// TestDrainingAnswersWithConnectionClose: from the start of the shutdown
// delay, every response ends its connection, so a proxy keeps no idle
// connection for the drain to close under it; the server still serves.
func TestDrainingAnswersWithConnectionClose(t *testing.T) {
	t.Parallel()
	var draining atomic.Bool
	a := newApp(t, func(o *options) { o.draining = draining.Load })
	c := dialRaw(t, a.listen(t))
	c.send(t, "GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
	r := c.response(t)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.False(t, r.Close, "kept alive before the delay")

	draining.Store(true)
	c.send(t, "GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
	r = c.response(t)
	assert.Equal(t, http.StatusOK, r.StatusCode, "still serving")
	assert.True(t, r.Close, "Connection: close")
	c.closed(t)

	access := a.user(t, "drain-close@example.com")
	resp := a.call(t, http.MethodPost, "/api/v1/tasks", access, map[string]any{"title": "during the delay"})
	assert.Equal(t, http.StatusCreated, resp.Code)
	assert.Equal(t, "close", resp.Header().Get("Connection"))

	// A request begun before the delay and answered during it closes its
	// connection too: otherwise it would go back to the proxy's pool, idle
	// for the drain to close.
	draining.Store(false)
	started, proceed := make(chan struct{}), make(chan struct{})
	a.e.GET("/slow", func(c echo.Context) error {
		close(started)
		<-proceed
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	c = dialRaw(t, a.listen(t))
	c.send(t, "GET /slow HTTP/1.1\r\nHost: api\r\n\r\n")
	<-started
	draining.Store(true)
	close(proceed)
	r = c.response(t)
	assert.Equal(t, http.StatusOK, r.StatusCode)
	assert.True(t, r.Close, "Connection: close on a response written during the delay")
	c.closed(t)
}

// The event log's and the jobs' metrics: the outbox's pending events and
// the oldest's age read from the database at each scrape, River's waiting
// jobs by queue, and the counters the relay, the deliveries and the
// reminders keep.
func TestEventAndReminderMetrics(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.metrics.ObserveOutbox(events.Pending(a.pool))
	a.metrics.ObserveJobs(jobs.Waiting(a.pool, webhook.Queue, reminders.Queue))
	_, err := a.pool.Exec(t.Context(), "UPDATE event_settings SET nats = true") // no relay runs here
	require.NoError(t, err)
	tok := a.user(t, "metrics-events@example.com")
	a.createTask(t, tok, map[string]any{"title": "one"})
	a.createTag(t, tok, "two")
	time.Sleep(20 * time.Millisecond) // the oldest event gets an age (not a wait for a condition)
	a.metrics.EventsPublished(3)
	a.metrics.EventDead()
	a.metrics.ReminderFired(1500 * time.Millisecond)
	a.metrics.ReminderMissed()
	a.metrics.WebhookDelivery("refused", 10*time.Millisecond)
	m := a.scrape(t)
	assert.Equal(t, "2", sample(t, m, "todo_events_pending"))
	age, err := strconv.ParseFloat(sample(t, m, "todo_events_oldest_age_seconds"), 64)
	require.NoError(t, err)
	assert.Greater(t, age, 0.0)
	assert.Equal(t, "0", sample(t, m, `todo_jobs_waiting{queue="reminders"}`))
	assert.Equal(t, "0", sample(t, m, `todo_jobs_waiting{queue="webhooks"}`))
	assert.Equal(t, "3", sample(t, m, "todo_events_published_total"))
	assert.Equal(t, "1", sample(t, m, "todo_events_dead_total"))
	assert.Equal(t, "0", sample(t, m, "todo_event_publish_errors_total"))
	assert.Equal(t, "1", sample(t, m, `todo_reminder_lateness_seconds_bucket{le="2"}`))
	assert.Equal(t, "0", sample(t, m, `todo_reminder_lateness_seconds_bucket{le="1"}`))
	assert.Equal(t, "1", sample(t, m, "todo_reminders_missed_total"))
	assert.Equal(t, "1", sample(t, m, `todo_webhook_delivery_duration_seconds_count{result="refused"}`))
}
