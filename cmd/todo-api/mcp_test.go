package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/testdb"
)

// TestMCPOverStdio: `todo-api mcp`, as a local agent starts it, serves the
// tools over stdio against a running server, logging in with the
// credentials of its environment and renewing the access token by itself.
func TestMCPOverStdio(t *testing.T) {
	t.Parallel()
	dbURL := testdb.NewDatabase(t)
	port := freePort(t)
	env := []string{"DATABASE_URL=" + dbURL, "JWT_SECRET_KEY=" + testSecret, "PORT=" + strconv.Itoa(port), "BCRYPT_COST=4",
		"ACCESS_TOKEN_TTL=2s"}
	var logs syncBuffer
	srv := command(env, "serve")
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	testdb.Poll(t, func() bool { return command(env, "healthcheck").Run() == nil }, "healthcheck never passed; logs:\n%s", &logs)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	resp, err := http.Post(base+"/api/v1/auth/register", "application/json", strings.NewReader(`{"email":"stdio@example.com","password":"correct-horse"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	agent := command([]string{"TODO_API_URL=" + base, "TODO_EMAIL=stdio@example.com", "TODO_PASSWORD=correct-horse"}, "mcp")
	var stderr syncBuffer
	agent.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1"}, nil)
	s, err := client.Connect(context.Background(), &mcp.CommandTransport{Command: agent}, nil)
	require.NoError(t, err, "stderr: %s", &stderr)
	t.Cleanup(func() { _ = s.Close() })

	tools, err := s.ListTools(context.Background(), nil)
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 11)

	call := func(name string, args any) map[string]any {
		t.Helper()
		res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
		require.NoError(t, err)
		text := res.Content[0].(*mcp.TextContent).Text
		require.False(t, res.IsError, text)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &out))
		return out
	}
	task := call("add_task", map[string]any{"title": "From a local agent", "due_date": "2027-01-01T09:00:00Z",
		"recurrence": map[string]any{"rule": "FREQ=DAILY"}})
	time.Sleep(2500 * time.Millisecond) // the access token expires: the next call refreshes it
	done := call("complete_task", map[string]any{"task_id": task["id"]})
	assert.Equal(t, "2027-01-02T09:00:00Z", done["next"].(map[string]any)["due_date"])
	list := call("list_tasks", map[string]any{"status": "pending"})
	assert.Equal(t, float64(1), list["total"])
	assert.Contains(t, logs.String(), "/api/v1/auth/refresh", "the expired token was refreshed")

	bad := command([]string{"TODO_API_URL=localhost:8000", "TODO_EMAIL=x", "TODO_PASSWORD=y"}, "mcp")
	out, err := bad.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "TODO_API_URL", "a configuration mistake says what to fix")
}
