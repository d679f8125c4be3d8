package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Attacks on /mcp (internal/mcpapi).

// noCrash requires a call to be a result (no protocol error) and, when a
// tool error, one in the contract's shape that is not INTERNAL_ERROR.
func noCrash(t *testing.T, s *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, string) {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if !assert.NoError(t, err, "%s %v", name, args) {
		return nil, ""
	}
	if res.IsError {
		var body struct{ Detail, Code, Field string }
		assert.NoError(t, json.Unmarshal([]byte(text(res)), &body), "%s %v: %s", name, args, text(res))
		assert.NotEqual(t, "INTERNAL_ERROR", body.Code, "%s %v: %s", name, args, text(res))
		assert.NotEmpty(t, body.Code, "%s %v: %s", name, args, text(res))
		return res, body.Code
	}
	return res, "OK"
}

func TestMCPAttackPathInjection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tokA := a.user(t, "a@example.com")
	tokB := a.user(t, "b@example.com")
	srv := liveServer(t, a, time.Minute)
	s, err := mcpSession(t, srv, tokA)
	require.NoError(t, err)

	mine := a.createTask(t, tokA, map[string]any{"title": "mine"})
	myTag := a.createTag(t, tokA, "mytag")
	a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", mine["id"], myTag), tokA, nil)
	theirs := a.createTask(t, tokB, map[string]any{"title": "theirs"})
	theirTag := a.createTag(t, tokB, "theirtag")
	a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", theirs["id"], theirTag), tokB, nil)
	myID, theirID := int64(mine["id"].(float64)), int64(theirs["id"].(float64))

	values := []any{
		fmt.Sprintf("%d/tags/%d", myID, myTag), fmt.Sprintf("%d%%2Ftags%%2F%d", myID, myTag),
		fmt.Sprintf("%d/tags/%d", theirID, theirTag), "../auth/sessions", "..", ".", "", "/", "//",
		fmt.Sprintf("%d?x=", myID), fmt.Sprintf("%d#", myID), "#", "?", "%", "%00", "\u0000", json.RawMessage(`"\ud800"`), "١",
		fmt.Sprintf("%d;x", myID), fmt.Sprintf("%d\n", myID), fmt.Sprintf(" %d", myID), "{tag_id}", "{task_id}",
		"99999999999999999999", 1.5, -1, 0, 1e3, 1.0, "1e3", nil, true, []any{myID}, map[string]any{"id": myID},
		json.RawMessage(fmt.Sprintf("%d.0", myID)), json.RawMessage("18446744073709551616"), json.RawMessage("-0"),
		strings.Repeat("9", 5000), strings.Repeat("/", 1000), strings.Repeat("../", 300),
	}
	for _, v := range values {
		for _, tool := range []string{"get_task", "update_task", "complete_task", "delete_task", "preview_occurrences"} {
			_, code := noCrash(t, s, tool, map[string]any{"task_id": v})
			t.Logf("%s task_id=%#v: %s", tool, v, code)
		}
		for _, tool := range []string{"add_tag_to_task", "remove_tag_from_task"} {
			_, code := noCrash(t, s, tool, map[string]any{"task_id": v, "tag_id": myTag})
			t.Logf("%s task_id=%#v: %s", tool, v, code)
			_, code = noCrash(t, s, tool, map[string]any{"task_id": myID, "tag_id": v})
			t.Logf("%s tag_id=%#v: %s", tool, v, code)
		}
		// B's data is untouched
		got := a.write(t, http.StatusOK, http.MethodGet, fmt.Sprintf("/api/v1/tasks/%d", theirID), tokB, nil).JSON(t)
		require.Len(t, got["tags"], 1, "after %#v", v)
		require.Equal(t, false, got["completed"])
	}
	// my own task: still there (the values above should not have reached delete on it except with its own id)
	t.Logf("mine after: %s", a.call(t, http.MethodGet, fmt.Sprintf("/api/v1/tasks/%d", myID), tokA, nil).Body.String())
}

func TestMCPAttackQueryInjection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "q@example.com")
	srv := liveServer(t, a, time.Minute)
	s, err := mcpSession(t, srv, tok)
	require.NoError(t, err)
	a.createTask(t, tok, map[string]any{"title": "one"})
	done := a.createTask(t, tok, map[string]any{"title": "two", "completed": true})
	_ = done
	for _, args := range []map[string]any{
		{"q": "x&status=completed"}, {"q": "&status=completed&q="}, {"status": "pending&status=completed"},
		{"sort": "title&limit=1"}, {"tag": "a=b&c"}, {"q": "\u0000"}, {"q": json.RawMessage(`"\ud800"`)}, {"q": "%"}, {"q": "%00"},
		{"q": strings.Repeat("a", 600_000)}, {"q": []any{"a", "b"}}, {"q": map[string]any{"a": 1}}, {"q": 5},
		{"limit": "1; DROP TABLE tasks"}, {"limit": 1e300}, {"limit": 1.5}, {"limit": -1}, {"page": "99999999999999999999"},
		{"limit": nil, "page": nil, "q": nil}, {"tag": ""}, {"q": ""}, {"status": true}, {"priority": []any{}},
	} {
		res, code := noCrash(t, s, "list_tasks", args)
		if res != nil && !res.IsError {
			body := text(res)
			if len(body) > 200 {
				body = body[:200]
			}
			t.Logf("list_tasks %.80v: OK %s", args, body)
		} else {
			t.Logf("list_tasks %.80v: %s", args, code)
		}
	}
}

// rpc posts one raw JSON-RPC body to /mcp.
func rpc(t *testing.T, srv, token, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv+"/mcp", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func call(name, args string) string {
	return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `}}`
}

func TestMCPAttackRawJSONRPC(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "raw@example.com")
	srv := liveServer(t, a, time.Minute)
	show := func(what string, code int, h http.Header, body string) {
		if len(body) > 300 {
			body = body[:300] + "..."
		}
		t.Logf("%s: %d %s %s", what, code, h.Get("Content-Type"), body)
	}
	for _, c := range []struct{ what, body string }{
		{"args array", call("add_task", `[1,2]`)},
		{"args string", call("add_task", `"title"`)},
		{"args number", call("get_task", `1`)},
		{"args null", call("list_tags", `null`)},
		{"args true", call("list_tags", `true`)},
		{"duplicate keys", call("add_task", `{"title":"a","title":"b"}`)},
		{"case key", call("add_task", `{"Title":"a"}`)},
		{"unknown tool", call("drop_tables", `{}`)},
		{"no name", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}`},
		{"params array", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":[1]}`},
		{"batch", `[` + call("list_tags", `{}`) + `,` + call("list_tags", `{}`) + `]`},
		{"empty batch", `[]`},
		{"not json", `{"jsonrpc":`},
		{"nested description", call("add_task", `{"title":"x","description":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`)},
		{"nested deep", call("add_task", `{"title":"x","description":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`)},
		{"nested recurrence", call("add_task", `{"title":"x","recurrence":`+strings.Repeat(`{"a":`, 5000)+`1`+strings.Repeat("}", 5000)+`}`)},
		{"html escapes near limit", call("add_task", `{"title":"x","description":"`+strings.Repeat("<", 1000)+`"}`)},
		{"big title", call("add_task", `{"title":"`+strings.Repeat("<", 900_000)+`"}`)},
		{"body over 1MiB", call("add_task", `{"title":"`+strings.Repeat("a", 1<<20)+`"}`)},
		{"notification tools/call", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"add_task","arguments":{"title":"notified"}}}`},
		{"id object", `{"jsonrpc":"2.0","id":{"a":1},"method":"tools/call","params":{"name":"list_tags","arguments":{}}}`},
		{"huge id", `{"jsonrpc":"2.0","id":"` + strings.Repeat("i", 500_000) + `","method":"tools/list"}`},
		{"meta progress", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"_meta":{"progressToken":1},"name":"list_tags","arguments":{}}}`},
		{"resources/list", `{"jsonrpc":"2.0","id":7,"method":"resources/list"}`},
		{"logging/setLevel", `{"jsonrpc":"2.0","id":7,"method":"logging/setLevel","params":{"level":"debug"}}`},
	} {
		code, h, body := rpc(t, srv, tok, c.body)
		show(c.what, code, h, body)
		assert.Less(t, code, 500, c.what)
		assert.NotContains(t, body, "INTERNAL_ERROR", c.what)
	}
	// the notification: did it add a task?
	t.Logf("tasks after notification: %s", a.call(t, http.MethodGet, "/api/v1/tasks?q=notified", tok, nil).Body.String())

	for _, c := range []struct {
		what   string
		header []string
	}{
		{"text/plain", []string{"Content-Type", "text/plain"}},
		{"form", []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"no accept", []string{"Accept", ""}},
		{"accept json only", []string{"Accept", "application/json"}},
		{"bad protocol version", []string{"MCP-Protocol-Version", "1999-01-01"}},
		{"future protocol version", []string{"MCP-Protocol-Version", "2099-01-01"}},
		{"session id", []string{"Mcp-Session-Id", "abc"}},
		{"foreign host (behind a proxy on loopback)", []string{"Host", "todo.example.com"}},
		{"cross origin", []string{"Origin", "https://evil.example"}},
		{"allowed origin", []string{"Origin", "http://localhost:5173"}},
		{"x-forwarded-for", []string{"X-Forwarded-For", "1.2.3.4"}},
		{"request id weird", []string{"X-Request-Id", "abc def"}},
	} {
		code, h, body := rpc(t, srv, tok, call("list_tags", `{}`), c.header...)
		show(c.what, code, h, body)
		assert.Less(t, code, 500, c.what)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete, http.MethodPut, http.MethodOptions, http.MethodHead, http.MethodPatch} {
		req, _ := http.NewRequest(m, srv+"/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json, text/event-stream")
		if m == http.MethodOptions {
			req.Header.Set("Origin", "http://localhost:5173")
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		show(m+" /mcp", resp.StatusCode, resp.Header, string(b))
		assert.Less(t, resp.StatusCode, 500, m)
	}
	// /mcp is POST only (stateless: no stream to GET, no session to DELETE):
	// other methods get the router's 405, in the contract's shape
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		req, _ := http.NewRequest(m, srv+"/mcp", nil)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), m)
	}
}

func TestMCPAttackTokens(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	srv := liveServer(t, a, time.Minute)
	access, refresh := a.login(t, "tok@example.com", "correct-horse")
	code, _, body := rpc(t, srv, refresh, call("list_tags", `{}`))
	t.Logf("refresh as bearer: %d %s", code, body)
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _, body = rpc(t, srv, "", call("list_tags", `{}`), "Authorization", "Basic "+access)
	assert.Equal(t, http.StatusUnauthorized, code, body)
	code, _, body = rpc(t, srv, "", call("list_tags", `{}`), "Authorization", "bearer   "+access+"  ")
	t.Logf("lowercase, spaces: %d %s", code, body)

	// delete the account; its access token must stop working on /mcp
	s, err := mcpSession(t, srv, access)
	require.NoError(t, err)
	ok(t, callTool(t, s, "add_task", map[string]any{"title": "before"}))
	a.write(t, http.StatusNoContent, http.MethodPost, "/api/v1/auth/delete-account", access, map[string]any{"password": "correct-horse"})
	poll(t, func() bool {
		c, _, _ := rpc(t, srv, access, call("list_tags", `{}`))
		return c == http.StatusUnauthorized
	},
		"a deleted account's token is refused on /mcp")
	// and a token with no session (sid)? issue one directly if the tokens allow it
}

func TestMCPAttackConcurrency(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "conc@example.com")
	srv := liveServer(t, a, time.Minute)
	s, err := mcpSession(t, srv, tok)
	require.NoError(t, err)
	task := a.createTask(t, tok, map[string]any{"title": "shared"})
	tag := a.createTag(t, tok, "t")
	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var name string
			var args map[string]any
			switch i % 6 {
			case 0:
				name, args = "add_task", map[string]any{"title": fmt.Sprint("t", i)}
			case 1:
				name, args = "complete_task", map[string]any{"task_id": task["id"]}
			case 2:
				name, args = "add_tag_to_task", map[string]any{"task_id": task["id"], "tag_id": tag}
			case 3:
				name, args = "remove_tag_from_task", map[string]any{"task_id": task["id"], "tag_id": tag}
			case 4:
				name, args = "update_task", map[string]any{"task_id": task["id"], "title": fmt.Sprint("u", i)}
			case 5:
				name, args = "create_tag", map[string]any{"name": "dup"}
			}
			res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
			switch {
			case err != nil:
				errs <- fmt.Sprintf("%s: protocol error %v", name, err)
			case res.IsError && (strings.Contains(text(res), "INTERNAL_ERROR") || strings.Contains(text(res), "SERVICE_UNAVAILABLE")):
				errs <- fmt.Sprintf("%s: %s", name, text(res))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestMCPAttackLogs: neither the token nor the task's content is logged,
// and the inner request keeps the client's request id.
func TestMCPAttackLogs(t *testing.T) {
	t.Parallel()
	var buf safeBuffer
	a := newApp(t, func(o *options) {
		o.logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tok := a.user(t, "logs@example.com")
	srv := liveServer(t, a, time.Minute)
	s, err := mcpSession(t, srv, tok)
	require.NoError(t, err)
	ok(t, callTool(t, s, "add_task", map[string]any{"title": "secret title"}))
	noCrash(t, s, "get_task", map[string]any{"task_id": "x"})
	code, _, _ := rpc(t, srv, tok, call("list_tags", `{}`), "X-Request-Id", "attack-req-1")
	require.Equal(t, http.StatusOK, code)
	logs := buf.String()
	t.Logf("logs:\n%s", logs)
	assert.NotContains(t, logs, tok)
	assert.NotContains(t, logs, "secret title")
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestMCPAttackEmptyPathArgument: task_id null or "" is missing, like an
// absent one (VALIDATION_ERROR on task_id, not a route's 404), and 1.0 (an
// integer to JSON Schema) is the id 1.
func TestMCPAttackEmptyPathArgument(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "empty@example.com")
	srv := liveServer(t, a, time.Minute)
	s, err := mcpSession(t, srv, tok)
	require.NoError(t, err)
	task := a.createTask(t, tok, map[string]any{"title": "x"})
	for _, v := range []any{nil, ""} {
		for _, tool := range []string{"get_task", "update_task", "delete_task", "complete_task", "preview_occurrences"} {
			e := toolError(t, callTool(t, s, tool, map[string]any{"task_id": v}))
			assert.Equal(t, "VALIDATION_ERROR", e["code"], "%s task_id=%#v: %v", tool, v, e)
			assert.Equal(t, "task_id", e["field"], "%s task_id=%#v: %v", tool, v, e)
		}
	}
	res := callTool(t, s, "get_task", map[string]any{"task_id": json.RawMessage(fmt.Sprintf("%v.0", task["id"]))})
	assert.False(t, res.IsError, "task_id %v.0 is an integer to JSON Schema: %s", task["id"], text(res))
}

// TestMCPAttackHostBehindLoopbackProxy: behind a reverse proxy on the same
// host (nginx, a sidecar: 127.0.0.1 with the public Host), /mcp answers as
// the API does (the SDK's DNS-rebinding guard, which refused it, is off:
// every request needs a bearer token).
func TestMCPAttackHostBehindLoopbackProxy(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "proxy@example.com")
	srv := liveServer(t, a, time.Minute)
	code, h, body := rpc(t, srv, tok, call("list_tags", `{}`), "Host", "todo.example.com")
	assert.Equal(t, http.StatusOK, code, "%s %s", h.Get("Content-Type"), body)
	// the API itself answers the same Host
	req, _ := http.NewRequest(http.MethodGet, srv+"/api/v1/tags", nil)
	req.Host = "todo.example.com"
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestMCPAttackTransportErrorsShape: /mcp's own errors (the transport's)
// have the {"detail","code","field"} body every error of the API has.
func TestMCPAttackTransportErrorsShape(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "shape@example.com")
	srv := liveServer(t, a, time.Minute)
	for _, c := range []struct {
		what, body string
		header     []string
	}{
		{"wrong content type", call("list_tags", `{}`), []string{"Content-Type", "text/plain"}},
		{"no accept", call("list_tags", `{}`), []string{"Accept", ""}},
		{"batch", `[` + call("list_tags", `{}`) + `]`, nil},
		{"not json", `{`, nil},
	} {
		code, h, body := rpc(t, srv, tok, c.body, c.header...)
		assert.Equal(t, "application/json", h.Get("Content-Type"), "%s: %d %s", c.what, code, body)
	}
}
