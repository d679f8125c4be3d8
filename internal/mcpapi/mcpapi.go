// Package mcpapi serves the API to AI agents over MCP (the Model Context
// Protocol). Its tools are generated from the contract (gen/mcptools, from
// the operations of openapi/*.yaml marked x-mcp-tool), and a call is a
// request to the tool's HTTP route: the same validation, handler,
// transaction and errors as any client's, as the user of the caller's
// token. So the tools cannot drift from the API.
package mcpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/todoapp/todo-api/gen/mcptools"
)

// Caller sends a tool's request (its URL a path and query, /api/v1/...) to
// the API as the user of the tool call: in the server, through its own
// router with the call's bearer token (Local); in `todo-api mcp`, over
// HTTP with the session it logged in (Remote).
type Caller interface {
	Call(ctx context.Context, call *mcp.CallToolRequest, r *http.Request) (*http.Response, error)
}

// NewServer returns an MCP server offering every generated tool, each sent
// through c.
func NewServer(c Caller, version string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "todo-api", Title: "Todo API", Version: version}, &mcp.ServerOptions{
		Instructions: "The user's todo list: tasks (with due dates, priorities, tags and recurrence) and tags. " +
			"Every tool acts as the signed-in user; there is no user argument.",
	})
	for _, t := range mcptools.Tools {
		tool := &mcp.Tool{Name: t.Name, Description: t.Description, InputSchema: json.RawMessage(t.InputSchema)}
		if t.OutputSchema != "" {
			tool.OutputSchema = json.RawMessage(t.OutputSchema)
		}
		tool.Annotations = annotations(t)
		s.AddTool(tool, handler(t, c))
	}
	return s
}

func annotations(t mcptools.Tool) *mcp.ToolAnnotations {
	a := &mcp.ToolAnnotations{ReadOnlyHint: t.Method == http.MethodGet}
	if t.Method == http.MethodDelete {
		destructive := true
		a.DestructiveHint = &destructive
	}
	a.IdempotentHint = t.Method != http.MethodPost || t.Name == "complete_task" || t.Name == "add_tag_to_task"
	return a
}

// handler turns a call of t into its HTTP request and the response into the
// call's result: a success's JSON as structured content (and as text), an
// error's contract JSON ({"detail", "code", "field"}) as a tool error.
func handler(t mcptools.Tool, c Caller) mcp.ToolHandler {
	bodyProps := bodyProperties(t)
	return func(ctx context.Context, call *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		r, problem := request(ctx, t, bodyProps, call.Params.Arguments)
		if problem != nil {
			return toolError(problem), nil
		}
		resp, err := c.Call(ctx, call, r)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("read the response of %s: %w", t.Name, err)
		}
		if resp.StatusCode >= 300 {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: string(body)}}}, nil
		}
		if t.OutputSchema == "" || len(bytes.TrimSpace(body)) == 0 {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: `{"done": true}`}}}, nil
		}
		var out any
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, fmt.Errorf("decode the response of %s: %w", t.Name, err)
		}
		if t.Wrap != "" {
			out = map[string]any{t.Wrap: out}
			if body, err = json.Marshal(out); err != nil {
				return nil, err
			}
		}
		return &mcp.CallToolResult{StructuredContent: out, Content: []mcp.Content{&mcp.TextContent{Text: string(body)}}}, nil
	}
}

// bodyProperties are the names of t's arguments that go in its body.
func bodyProperties(t mcptools.Tool) []string {
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal([]byte(t.InputSchema), &schema) // generated: valid
	var names []string
	for name := range schema.Properties {
		if !slices.ContainsFunc(t.Params, func(p mcptools.Param) bool { return p.Name == name }) {
			names = append(names, name)
		}
	}
	return names
}

// problem is an argument the route never sees: one no schema has, or a
// missing path argument. It is answered like the API's own 422.
type problem struct{ detail, field string }

func toolError(p *problem) *mcp.CallToolResult {
	b, _ := json.Marshal(map[string]string{"detail": p.detail, "code": "VALIDATION_ERROR", "field": p.field})
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}
}

// request builds t's HTTP request from the call's arguments: path and query
// parameters by name, every other argument in the JSON body. Values keep
// their JSON form, so the route's validator judges them as it judges any
// client's.
func request(ctx context.Context, t mcptools.Tool, bodyProps []string, raw json.RawMessage) (*http.Request, *problem) {
	args := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, &problem{detail: "The arguments must be a JSON object"}
		}
	}
	path, query, body := t.Path, url.Values{}, map[string]json.RawMessage{}
	for name, v := range args {
		i := slices.IndexFunc(t.Params, func(p mcptools.Param) bool { return p.Name == name })
		switch {
		case i >= 0 && t.Params[i].In == "path":
			id, ok := pathID(v)
			if !ok {
				if blank(v) {
					continue // missing: said below
				}
				return nil, &problem{detail: name + " must be an integer", field: name}
			}
			path = strings.ReplaceAll(path, "{"+name+"}", id)
		case i >= 0:
			if blank(v) {
				continue
			}
			s, ok := scalar(v)
			if !ok {
				return nil, &problem{detail: name + " must be a string, a number or a boolean", field: name}
			}
			query.Set(name, s)
		case slices.Contains(bodyProps, name):
			body[name] = v
		default:
			return nil, &problem{detail: fmt.Sprintf("%s is not an argument of %s", name, t.Name), field: name}
		}
	}
	if i := strings.Index(path, "{"); i >= 0 {
		name := path[i+1 : i+strings.Index(path[i:], "}")]
		return nil, &problem{detail: name + " is required", field: name}
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	var r *http.Request
	var err error
	if t.Body {
		b, _ := json.Marshal(body)
		r, err = http.NewRequestWithContext(ctx, t.Method, path, bytes.NewReader(b))
		if err == nil {
			r.Header.Set("Content-Type", "application/json")
		}
	} else {
		r, err = http.NewRequestWithContext(ctx, t.Method, path, nil)
	}
	if err != nil {
		return nil, &problem{detail: "The arguments make no valid request: " + err.Error()}
	}
	return r, nil
}

// blank reports an argument given as null or "": not given.
func blank(v json.RawMessage) bool {
	t := string(bytes.TrimSpace(v))
	return t == "null" || t == `""`
}

// pathID is a path argument (every one is an id) as its path segment: an
// integer, written as a JSON number (1, 1.0, 1e3) or as a string of digits.
// Nothing else goes into a path, so no value can reach another route.
func pathID(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		v = json.RawMessage(s)
	}
	var n json.Number
	if json.Unmarshal(v, &n) != nil {
		return "", false
	}
	if i, err := n.Int64(); err == nil {
		return strconv.FormatInt(i, 10), true
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return "", false
	}
	return strconv.FormatInt(int64(f), 10), true
}

// scalar is a query argument as the query's text: a string's contents, a
// number as written, true or false; an array or object has none.
func scalar(v json.RawMessage) (string, bool) {
	var x any
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if d.Decode(&x) != nil {
		return "", false
	}
	switch x := x.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// ClientHeader carries, from the router to Local, the address of the MCP
// request's client (the router sets it, replacing any a client sent).
const ClientHeader = "X-Todo-Mcp-Client"

// Local calls the server's own router (h) with the bearer token the MCP
// request carried, which the server's authentication checked already, as
// the same client (its address, its request id).
type Local struct{ Handler http.Handler }

// Call serves r in-process.
func (l Local) Call(_ context.Context, call *mcp.CallToolRequest, r *http.Request) (*http.Response, error) {
	r.RemoteAddr = "127.0.0.1:0"
	if call.Extra != nil && call.Extra.Header != nil {
		r.Header.Set("Authorization", call.Extra.Header.Get("Authorization"))
		if id := call.Extra.Header.Get("X-Request-Id"); id != "" {
			r.Header.Set("X-Request-Id", id)
		}
		if ip := call.Extra.Header.Get(ClientHeader); ip != "" {
			r.RemoteAddr = net.JoinHostPort(ip, "0")
		}
	}
	r.RequestURI = r.URL.RequestURI()
	if r.Body == nil { // as a server's request: never nil
		r.Body = http.NoBody
	}
	w := &recorder{header: http.Header{}, status: http.StatusOK}
	l.Handler.ServeHTTP(w, r)
	return &http.Response{StatusCode: w.status, Header: w.header, Body: io.NopCloser(&w.body), Request: r}, nil
}

// recorder is the response of an in-process request.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Handler serves MCP's Streamable HTTP transport for s: stateless (each
// request stands alone, so any replica answers any request) and answering
// JSON rather than an event stream. Authentication is the caller's (the
// router's bearer check in front of it).
func Handler(s *mcp.Server) http.Handler {
	// The SDK's DNS-rebinding guard refuses a non-localhost Host on a
	// loopback connection: every request behind a reverse proxy on the same
	// machine. It guards servers that trust whoever can reach them; this
	// one needs a bearer token on every request.
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, DisableLocalhostProtection: true})
}
