package httpx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// The MCP tools (internal/mcpapi, generated from the x-mcp-tool operations
// of openapi/*.yaml), through the official Go SDK's client over Streamable
// HTTP against the real server.

// bearer adds a bearer token to every request of an HTTP client.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpSession connects the SDK's client to srv's /mcp with token.
func mcpSession(t testing.TB, srv, token string) (*mcp.ClientSession, error) {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "todo-api-tests", Version: "1"}, nil)
	s, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: srv + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{token}}, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

// callTool calls a tool; a protocol error stops the test.
func callTool(t testing.TB, s *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err, name)
	return res
}

// ok requires a successful call and returns its structured content.
func ok(t testing.TB, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	require.False(t, res.IsError, "a tool error: %s", text(res))
	out, _ := res.StructuredContent.(map[string]any)
	return out
}

// text is a result's text content.
func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, isText := c.(*mcp.TextContent); isText {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// toolError requires a tool error and returns its contract body.
func toolError(t testing.TB, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	require.True(t, res.IsError, "not an error: %s", text(res))
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(text(res)), &body), text(res))
	return body
}

var wantTools = []string{"add_tag_to_task", "add_task", "complete_task", "create_tag", "delete_task", "get_task",
	"list_tags", "list_tasks", "preview_occurrences", "remove_tag_from_task", "update_task"}

func TestMCPTools(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "agent@example.com")
	srv := liveServer(t, a, time.Minute)
	s, err := mcpSession(t, srv, tok)
	require.NoError(t, err)

	listed, err := s.ListTools(context.Background(), nil)
	require.NoError(t, err)
	var names []string
	for _, tool := range listed.Tools {
		names = append(names, tool.Name)
		assert.NotEmpty(t, tool.Description, tool.Name)
		schema, _ := json.Marshal(tool.InputSchema)
		assert.NotContains(t, string(schema), "user_id", "%s: the user is always the token's", tool.Name)
		assert.Contains(t, string(schema), `"additionalProperties":false`, tool.Name)
	}
	sort.Strings(names)
	assert.Equal(t, wantTools, names)

	task := ok(t, callTool(t, s, "add_task", map[string]any{"title": "Gym", "due_date": "2027-01-04T09:00:00+01:00",
		"recurrence": map[string]any{"rule": "FREQ=WEEKLY;BYDAY=MO,TH", "timezone": "Europe/Berlin"}}))
	id := task["id"]
	require.NotNil(t, id)
	path := fmt.Sprintf("/api/v1/tasks/%v", id)
	t.Run("a tool answers what the route answers", func(t *testing.T) {
		got := ok(t, callTool(t, s, "get_task", map[string]any{"task_id": id}))
		assert.JSONEq(t, a.write(t, http.StatusOK, http.MethodGet, path, tok, nil).Body.String(), mustJSON(t, got))
		res := callTool(t, s, "get_task", map[string]any{"task_id": id})
		assert.JSONEq(t, mustJSON(t, got), text(res), "the text content is the same JSON")
	})
	t.Run("list_tasks with filters", func(t *testing.T) {
		a.createTask(t, tok, map[string]any{"title": "not this one"})
		list := ok(t, callTool(t, s, "list_tasks", map[string]any{"q": "gym", "status": "pending", "sort": "due_date", "limit": 5}))
		assert.Equal(t, float64(1), list["total"])
		assert.Equal(t, id, list["items"].([]any)[0].(map[string]any)["id"])
	})
	t.Run("tags", func(t *testing.T) {
		tag := ok(t, callTool(t, s, "create_tag", map[string]any{"name": "fitness", "color": "#00AA00"}))
		tags := ok(t, callTool(t, s, "list_tags", nil))
		assert.Len(t, tags["tags"], 1, "a list that is not an object comes as {tags: [...]}")
		linked := ok(t, callTool(t, s, "add_tag_to_task", map[string]any{"task_id": id, "tag_id": tag["id"]}))
		assert.Len(t, linked["tags"], 1)
		res := callTool(t, s, "remove_tag_from_task", map[string]any{"task_id": id, "tag_id": tag["id"]})
		require.False(t, res.IsError, text(res))
		assert.JSONEq(t, `{"done": true}`, text(res))
	})
	t.Run("update, preview, complete, delete", func(t *testing.T) {
		updated := ok(t, callTool(t, s, "update_task", map[string]any{"task_id": id, "priority": "high", "description": nil}))
		assert.Equal(t, "high", updated["priority"])
		preview := ok(t, callTool(t, s, "preview_occurrences", map[string]any{"task_id": id, "limit": 2}))
		assert.Equal(t, []any{"2027-01-07T09:00:00+01:00", "2027-01-11T09:00:00+01:00"}, preview["occurrences"])
		done := ok(t, callTool(t, s, "complete_task", map[string]any{"task_id": id}))
		next := done["next"].(map[string]any)
		assert.Equal(t, "2027-01-07T08:00:00Z", next["due_date"])
		again := ok(t, callTool(t, s, "complete_task", map[string]any{"task_id": id}))
		assert.Equal(t, next["id"], again["next"].(map[string]any)["id"], "safe to call twice")
		require.False(t, callTool(t, s, "delete_task", map[string]any{"task_id": next["id"]}).IsError)
		e := toolError(t, callTool(t, s, "get_task", map[string]any{"task_id": next["id"]}))
		assert.Equal(t, "TASK_NOT_FOUND", e["code"])
	})
	t.Run("errors are tool errors with the contract's code, detail and field", func(t *testing.T) {
		for _, c := range []struct {
			tool  string
			args  map[string]any
			code  string
			field string
		}{
			{"add_task", map[string]any{"title": ""}, "INVALID_TITLE", "title"},
			{"add_task", map[string]any{"title": "x", "recurrence": map[string]any{"rule": "FREQ=HOURLY"}, "due_date": "2027-01-01T00:00:00Z"}, "INVALID_RECURRENCE", "recurrence"},
			{"add_task", map[string]any{"title": "x", "user_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}, "VALIDATION_ERROR", "user_id"},
			{"add_task", map[string]any{}, "VALIDATION_ERROR", "title"},
			{"get_task", map[string]any{}, "VALIDATION_ERROR", "task_id"},
			{"get_task", map[string]any{"task_id": "seven"}, "VALIDATION_ERROR", "task_id"},
			{"get_task", map[string]any{"task_id": 999999}, "TASK_NOT_FOUND", ""},
			{"list_tasks", map[string]any{"sort": "size"}, "INVALID_SORT_FIELD", "sort"},
			{"create_tag", map[string]any{"name": "x", "color": "green"}, "INVALID_COLOR", "color"},
		} {
			e := toolError(t, callTool(t, s, c.tool, c.args))
			assert.Equal(t, c.code, e["code"], "%s %v", c.tool, c.args)
			assert.NotEmpty(t, e["detail"], "%s %v", c.tool, c.args)
			if c.field != "" {
				assert.Equal(t, c.field, e["field"], "%s %v", c.tool, c.args)
			}
		}
	})
	t.Run("another user's task is not found", func(t *testing.T) {
		other, err := mcpSession(t, srv, a.user(t, "other-agent@example.com"))
		require.NoError(t, err)
		assert.Equal(t, "TASK_NOT_FOUND", toolError(t, callTool(t, other, "get_task", map[string]any{"task_id": id}))["code"])
	})
}

func TestMCPNeedsAValidToken(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	srv := liveServer(t, a, time.Minute)
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	post := func(token string) (int, http.Header) {
		req, err := http.NewRequest(http.MethodPost, srv+"/mcp", strings.NewReader(initialize))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	code, header := post("")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, "Bearer", header.Get("WWW-Authenticate"))
	code, _ = post("not-a-token")
	assert.Equal(t, http.StatusUnauthorized, code)

	tok, refresh := a.login(t, "revoked-agent@example.com", "correct-horse")
	code, _ = post(tok)
	assert.Equal(t, http.StatusOK, code)
	s, err := mcpSession(t, srv, tok)
	require.NoError(t, err)
	ok(t, callTool(t, s, "list_tasks", nil))

	// logging out revokes the session: its access token stops working at once
	a.write(t, http.StatusOK, http.MethodPost, "/api/v1/auth/logout", tok, nil, "Cookie", "refresh_token="+refresh)
	// (on every replica: the revocation reaches each through the database)
	poll(t, func() bool { code, _ := post(tok); return code == http.StatusUnauthorized }, "the revoked token is refused")
	_, err = s.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_tasks"})
	assert.Error(t, err, "a call with a revoked token")
}

// TestMCPConformance: for every tool, arguments generated from its
// operation's schemas, valid or breaking one rule, give what the route
// gives: success (or a business rule's named error), or a tool error with
// the broken rule's code and field.
func TestMCPConformance(t *testing.T) {
	fixSeed()
	_, ops := specOperations(t)
	a := newApp(t)
	tok := a.user(t, "mcp-conformance@example.com")
	srv := liveServer(t, a, time.Minute)
	s, err := mcpSession(t, srv, tok)
	require.NoError(t, err)
	for _, o := range ops {
		meta, isTool := o.op.Extensions["x-mcp-tool"].(map[string]any)
		if !isTool {
			continue
		}
		name := meta["name"].(string)
		t.Run(name+"/Valid", func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				r := genRequest(rt, o, nil)
				res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: arguments(r)})
				if err != nil {
					rt.Fatalf("%s: %v", name, err)
				}
				if res.IsError {
					var body struct{ Code string }
					_ = json.Unmarshal([]byte(text(res)), &body)
					if body.Code == "VALIDATION_ERROR" || body.Code == "INTERNAL_ERROR" || body.Code == "" {
						rt.Fatalf("%s with valid arguments: %s\nrequest: %s", name, text(res), r)
					}
				}
			})
		})
		t.Run(name+"/BreaksOneRule", func(t *testing.T) {
			if !slices.ContainsFunc(rules(o), func(rl rule) bool { return rl.in != openapi3.ParameterInHeader }) {
				return
			}
			rapid.Check(t, func(rt *rapid.T) {
				r := breakOne(rt, o, nil)
				if _, isHeader := r.header[r.field]; isHeader {
					rt.Skip("a header: the HTTP API's, not a tool argument")
				}
				res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: arguments(r)})
				if err != nil {
					rt.Fatalf("%s: %v", name, err)
				}
				var body struct{ Code, Field string }
				_ = json.Unmarshal([]byte(text(res)), &body)
				if !res.IsError || body.Code != r.code || body.Field != r.field {
					rt.Fatalf("%s breaking %s of %s: got %s, want %s field %s\nrequest: %s", name, r.broken, r.field, text(res), r.code, r.field, r)
				}
			})
		})
	}
}

// arguments are a generated request's path, query and body values as one
// tool call's arguments (headers are not tool arguments).
func arguments(r request) map[string]any {
	args := map[string]any{}
	for k, v := range r.path {
		args[k] = jsonish(v)
	}
	for k, vs := range r.query {
		args[k] = jsonish(vs[0])
	}
	for k, v := range r.body {
		args[k] = v
	}
	return args
}

// jsonish is a path or query value as an agent would send it: a number as a
// number, anything else as a string.
func jsonish(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
		return n
	}
	return v
}

// BenchmarkMCPOverhead: one task read through the get_task tool against the
// same read through GET /api/v1/tasks/{id}, both over a real loopback
// connection to the real server (the tool call adds JSON-RPC, the SDK and
// an in-process request through the router).
func BenchmarkMCPOverhead(b *testing.B) {
	a := newApp(b)
	tok := a.user(b, "bench-agent@example.com")
	task := a.createTask(b, tok, map[string]any{"title": "measured", "due_date": "2027-01-01T09:00:00Z"})
	srv := liveServer(b, a, time.Minute)
	b.Run("HTTP", func(b *testing.B) {
		client := &http.Client{Transport: bearer{tok}}
		url := fmt.Sprintf("%s/api/v1/tasks/%v", srv, task["id"])
		for b.Loop() {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatal(resp.StatusCode)
			}
		}
	})
	b.Run("MCP", func(b *testing.B) {
		s, err := mcpSession(b, srv, tok)
		if err != nil {
			b.Fatal(err)
		}
		args := map[string]any{"task_id": task["id"]}
		for b.Loop() {
			res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "get_task", Arguments: args})
			if err != nil || res.IsError {
				b.Fatal(err, text(res))
			}
		}
	})
}
