package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/internal/testdb"
)

const testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var binary string

// TestMain builds the binary exactly as `make build` (and the Dockerfile) do:
// static, CGO disabled.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "todo-api-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "todo-api")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output safely while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logged is the value of key in the first JSON log line whose message is
// msg, or fails the test.
func logged(t *testing.T, logs *syncBuffer, msg, key string) string {
	t.Helper()
	for _, l := range strings.Split(logs.String(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) == nil && line["msg"] == msg {
			v, ok := line[key].(string)
			require.True(t, ok, "%s in: %s", key, l)
			return v
		}
	}
	require.Failf(t, "no such log line", "%q; logs:\n%s", msg, logs.String())
	return ""
}

// bcryptsStarted is how many password hashes and checks the server at
// metrics has started: the count of its bcrypt waits, each observed as its
// computation starts.
func bcryptsStarted(t *testing.T, metrics string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, metrics, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "todo_bcrypt_wait_seconds_count "); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err, l)
			return n
		}
	}
	return 0
}

func command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	// Metrics on a port of their own per server: tests run side by side.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "METRICS_ADDR=127.0.0.1:0", "SHUTDOWN_DELAY=0s"}, env...)
	return cmd
}

func TestServeHealthcheckAndGracefulShutdown(t *testing.T) {
	t.Parallel()
	dbURL := testdb.NewDatabase(t)
	port := freePort(t)
	env := []string{"DATABASE_URL=" + dbURL, "JWT_SECRET_KEY=" + testSecret, "PORT=" + strconv.Itoa(port), "BCRYPT_COST=4"}

	var logs syncBuffer
	srv := command(env, "serve")
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })

	testdb.Poll(t, func() bool { return command(env, "healthcheck").Run() == nil }, "healthcheck never passed; logs:\n%s", &logs)
	out, err := command(env, "healthcheck", "-ready").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "/readyz: 200 OK")

	// A real round trip; then check the log holds none of its secrets.
	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1/auth", port)
	const password = "pa55word-for-the-log-check"
	resp, err := http.Post(base+"/register", "application/json", strings.NewReader(`{"email":"log@example.com","password":"`+password+`"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, err = http.PostForm(base+"/login", url.Values{"username": {"log@example.com"}, "password": {password}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cookie := resp.Cookies()[0].Value
	assertSmugglingRefused(t, fmt.Sprintf("127.0.0.1:%d", port))

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.Wait(), "SIGTERM drains and exits 0; logs:\n%s", logs.String())
	assert.Error(t, command(env, "healthcheck").Run(), "healthcheck fails when nothing listens")

	text := logs.String()
	assert.Contains(t, text, `"msg":"request"`)
	assert.Contains(t, text, `"request_id"`)
	assert.Contains(t, text, `"msg":"stopped"`)
	for _, secret := range []string{password, testSecret, cookie, dbURL} {
		assert.NotContains(t, text, secret)
	}
}

// assertSmugglingRefused sends, over a connection of its own, a request
// with both Content-Length and Transfer-Encoding whose chunked body ends at
// once, followed by another request: the first is answered 400, and the
// connection closed without an answer to the second.
func assertSmugglingRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	body := "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"
	_, err = fmt.Fprintf(c, "POST /api/v1/tasks HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(body), body)
	require.NoError(t, err)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.True(t, resp.Close, "Connection: close")
	_, _ = io.Copy(io.Discard, resp.Body)
	rest, err := io.ReadAll(r)
	assert.NoError(t, err, "the connection was closed")
	assert.Empty(t, string(rest), "the request in the body was not answered")
}

func TestServeRefusesBadConfigBeforeListening(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	cmd := command([]string{"JWT_SECRET_KEY=tooshort", "CORS_ORIGINS=*", "PORT=" + strconv.Itoa(port)}, "serve")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	text := string(out)
	assert.Contains(t, text, "DATABASE_URL is required")
	assert.Contains(t, text, "openssl rand -hex 32")
	assert.Contains(t, text, "CORS_ORIGINS must not contain '*'")
	assert.NotContains(t, text, "listening")
}

func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=" + testdb.NewEmptyDatabase(t)}
	run := func(args ...string) string {
		out, err := command(env, args...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	latest, err := store.LatestVersion()
	require.NoError(t, err)
	require.Greater(t, latest, uint(1))
	assert.Contains(t, run("migrate", "version"), "schema version 0")
	assert.Contains(t, run("migrate", "up"), fmt.Sprintf("schema version %d (latest %d)", latest, latest))
	assert.Contains(t, run("migrate", "down", "1"), fmt.Sprintf("schema version %d", latest-1))
	assert.Contains(t, run("migrate", "down", "all"), "schema version 0")
	assert.Contains(t, run("migrate", "up"), fmt.Sprintf("schema version %d", latest))

	cmd := command(env, "migrate", "sideways")
	out, _ := cmd.CombinedOutput()
	assert.Equal(t, 2, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), "usage: todo-api")
}

func TestServeWarnsWhenSchemaIsBehind(t *testing.T) {
	t.Parallel()
	// Without the schema its listener cannot load the ended sessions, and
	// the start waits DB_CONNECTION_TIMEOUT for it before serving anyway:
	// a second here rather than the default half-minute.
	env := []string{"DATABASE_URL=" + testdb.NewEmptyDatabase(t), "JWT_SECRET_KEY=" + testSecret, "PORT=" + strconv.Itoa(freePort(t)),
		"DB_CONNECTION_TIMEOUT=1"}
	var logs syncBuffer
	srv := command(env, "serve")
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	testdb.Poll(t, func() bool { return strings.Contains(logs.String(), `"msg":"listening"`) }, "it never listened; logs:\n%s", &logs)
	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.Wait())
	assert.Contains(t, logs.String(), "database schema is behind this binary; run: todo-api migrate up")
	assert.Contains(t, logs.String(), `"msg":"listening"`, "it warns, and serves anyway")
}

// TestSIGTERMDrainsInFlightRequests: a login still hashing when SIGTERM
// arrives gets its answer, and then the process exits 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	// Cost 14 makes one bcrypt take about a second: long enough to be in flight.
	env := []string{"DATABASE_URL=" + testdb.NewDatabase(t), "JWT_SECRET_KEY=" + testSecret,
		"PORT=" + strconv.Itoa(port), "BCRYPT_COST=14"}
	var logs syncBuffer
	srv := command(env, "serve")
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	testdb.Poll(t, func() bool { return command(env, "healthcheck").Run() == nil }, "healthcheck never passed; logs:\n%s", &logs)
	metrics := "http://" + logged(t, &logs, "metrics", "addr") + "/metrics"
	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1/auth", port)
	resp, err := http.Post(base+"/register", "application/json", strings.NewReader(`{"email":"drain@example.com","password":"correct-horse"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	status, sent := make(chan int, 1), make(chan struct{})
	go func() {
		form := url.Values{"username": {"drain@example.com"}, "password": {"correct-horse"}}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
		resp, err := http.DefaultClient.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	// SIGTERM while the login is being served: once its password check has
	// started (the register's hash was the first), which alone takes about
	// a second.
	<-sent
	testdb.Poll(t, func() bool { return bcryptsStarted(t, metrics) >= 2 }, "the login's password check never started; logs:\n%s", &logs)
	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, http.StatusOK, <-status, "the in-flight login finished; logs:\n%s", logs.String())
	require.NoError(t, srv.Wait(), "exit 0 after draining")
	text := logs.String()
	assert.Less(t, strings.Index(text, "shutting down"), strings.Index(text, `"path":"/api/v1/auth/login"`),
		"the login completed after the shutdown began")
}

// TestShutdownDelayAnswersWithConnectionClose: after SIGTERM, during
// SHUTDOWN_DELAY, a connection kept alive from before is still served, and
// its response closes it, so no idle connection is left for the drain to
// close just as a proxy reuses it.
func TestShutdownDelayAnswersWithConnectionClose(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	env := []string{"DATABASE_URL=" + testdb.NewDatabase(t), "JWT_SECRET_KEY=" + testSecret,
		"PORT=" + strconv.Itoa(port), "SHUTDOWN_DELAY=5s"}
	var logs syncBuffer
	srv := command(env, "serve")
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	for i := 0; command(env, "healthcheck").Run() != nil; i++ {
		require.Less(t, i, 200, "never healthy; logs:\n%s", logs.String())
		time.Sleep(25 * time.Millisecond)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	kept, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer kept.Close()
	require.NoError(t, kept.SetDeadline(time.Now().Add(20*time.Second)))
	r := bufio.NewReader(kept)
	healthz := func() (status int, closes bool) {
		t.Helper()
		_, err := io.WriteString(kept, "GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(r, nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Close
	}
	status, closes := healthz()
	require.Equal(t, http.StatusOK, status)
	require.False(t, closes, "kept alive before SIGTERM")

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	// The delay has begun once /readyz answers 503 (on connections of its own).
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; ; i++ {
		require.Less(t, i, 200, "/readyz never answered 503; logs:\n%s", logs.String())
		resp, err := client.Get("http://" + addr + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	status, closes = healthz()
	assert.Equal(t, http.StatusOK, status, "still serving during the delay")
	assert.True(t, closes, "Connection: close during the delay")
	rest, err := io.ReadAll(r)
	assert.NoError(t, err, "the server closed the connection after that response")
	assert.Empty(t, string(rest))
	require.NoError(t, srv.Wait(), "exit 0; logs:\n%s", logs.String())
}

func TestGCDefaultsYieldToTheEnvironment(t *testing.T) {
	before := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(before); debug.SetMemoryLimit(limit) })

	tuneGC(func(string) string { return "" })
	assert.Equal(t, defaultGOGC, debug.SetGCPercent(100))
	assert.Equal(t, int64(defaultMemoryGoal), debug.SetMemoryLimit(math.MaxInt64))

	tuneGC(func(k string) string { return map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}[k] })
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC set: left alone")
	assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(math.MaxInt64), "GOMEMLIMIT set: left alone")
}
