package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/mcpapi"
)

// remoteSession is `todo-api mcp` (mcpapi.Remote) against base, over
// in-memory transports.
func remoteSession(t *testing.T, base, email, password string, client *http.Client) *mcp.ClientSession {
	t.Helper()
	rm, err := mcpapi.NewRemote(base, email, password, client)
	require.NoError(t, err)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := mcpapi.NewServer(rm, "test").Connect(context.Background(), st, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "remote-attack", Version: "1"}, nil).Connect(context.Background(), ct, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// TestMCPAttackRemotePathInjection: through `todo-api mcp` (Remote) too, a
// path argument is an integer or nothing: one with a "/" never reaches
// another route (it once did: the URL was rebuilt from the decoded path).
func TestMCPAttackRemotePathInjection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok, _ := a.login(t, "remote@example.com", "correct-horse")
	srv := liveServer(t, a, time.Minute)
	task := a.createTask(t, tok, map[string]any{"title": "tagged"})
	tag := a.createTag(t, tok, "keep")
	path := fmt.Sprintf("/api/v1/tasks/%v", task["id"])
	a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("%s/tags/%d", path, tag), tok, nil)

	s := remoteSession(t, srv, "remote@example.com", "correct-horse", nil)
	// The same call through /mcp (Local) is refused:
	local, err := mcpSession(t, srv, tok)
	require.NoError(t, err)
	injected := fmt.Sprintf("%v/tags/%d", task["id"], tag)
	e := toolError(t, callTool(t, local, "delete_task", map[string]any{"task_id": injected}))
	assert.Equal(t, "VALIDATION_ERROR", e["code"], "Local: refused")

	res := callTool(t, s, "delete_task", map[string]any{"task_id": injected})
	t.Logf("Remote delete_task task_id=%q: isError=%v %s", injected, res.IsError, text(res))
	got := a.write(t, http.StatusOK, http.MethodGet, path, tok, nil).JSON(t)
	assert.Len(t, got["tags"], 1, "delete_task with task_id %q must not untag the task (it reached DELETE %s/tags/%d)", injected, path, tag)
	assert.True(t, res.IsError, "delete_task with a non-integer task_id is a tool error")

	res = callTool(t, s, "get_task", map[string]any{"task_id": fmt.Sprintf("%v/occurrences", task["id"])})
	t.Logf("Remote get_task task_id=%v/occurrences: isError=%v %s", task["id"], res.IsError, text(res))
	assert.True(t, res.IsError, "get_task answered another route")
}

// TestMCPAttackRemoteRedirect: a server that redirects gets neither the
// password nor a token sent on to where it points.
func TestMCPAttackRemoteRedirect(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1024)
		n, _ := r.Body.Read(b)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s auth=%q cookie=%q body=%q", r.Method, r.URL, r.Header.Get("Authorization"), r.Header.Get("Cookie"), b[:n]))
		mu.Unlock()
		http.Error(w, "no", http.StatusTeapot)
	}))
	t.Cleanup(evil.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusPermanentRedirect) //nolint:gosec // the redirect under test
	}))
	t.Cleanup(redirector.Close)
	s := remoteSession(t, redirector.URL, "victim@example.com", "hunter2-secret", nil)
	_, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_tags"})
	t.Logf("call error: %v", err)
	mu.Lock()
	defer mu.Unlock()
	for _, l := range seen {
		t.Logf("other host got: %s", l)
		assert.NotContains(t, l, "hunter2-secret", "the password went to another host")
	}
	if err != nil {
		assert.NotContains(t, err.Error(), "hunter2-secret")
	}
}

// TestMCPAttackRemoteRefreshRace: many calls at once when the access token
// expires: one refresh, no call fails (the refresh token rotates; reuse of
// a rotated one ends the session).
func TestMCPAttackRemoteRefreshRace(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(o *options) { o.accessTTL = time.Minute })
	a.login(t, "race@example.com", "correct-horse")
	srv := liveServer(t, a, time.Minute)
	var logins, refreshes atomic.Int32
	client := &http.Client{Transport: countingTransport{logins: &logins, refreshes: &refreshes}}
	s := remoteSession(t, srv, "race@example.com", "correct-horse", client)
	ok(t, callTool(t, s, "list_tags", nil))
	a.clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_tags"})
			if assert.NoError(t, err) {
				assert.False(t, res.IsError, text(res))
			}
		}()
	}
	wg.Wait()
	t.Logf("logins=%d refreshes=%d", logins.Load(), refreshes.Load())
	assert.Equal(t, int32(1), logins.Load())
	assert.Equal(t, int32(1), refreshes.Load())
}

type countingTransport struct{ logins, refreshes *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/auth/login"):
		c.logins.Add(1)
	case strings.HasSuffix(r.URL.Path, "/auth/refresh"):
		c.refreshes.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}
