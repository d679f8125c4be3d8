package httpx_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestNastyInputsNeverGive500: odd bodies, parameters and paths sent to every
// operation get an answer of the contract (2xx or a 4xx in the error shape),
// never a 500.
func TestNastyInputsNeverGive500(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "nasty@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "target"})
	tag := a.createTag(t, tok, "target")
	bodies := []string{``, `null`, `[]`, `"text"`, `42`, `{}`, `{"title":{}}`, `{"title":["x"]}`, `{"title":1e309}`,
		`{"title":"x","due_date":"9999-12-31T23:59:59Z"}`, `{"title":"x","due_date":"0001-01-01T00:00:00Z"}`,
		`{"title":"x","priority":null}`, `{"title":"\ud800"}`, `{"name":"` + strings.Repeat("é", 60) + `"}`,
		`{"email":"a@b.c","password":"` + strings.Repeat("x", 100000) + `"}`, strings.Repeat(`[`, 10000),
		`{"title":"x"}{"title":"y"}`, `{"completed":1}`, `{"color":"#12345G","name":"n"}`}
	paths := []struct{ method, path string }{
		{http.MethodPost, "/api/v1/auth/register"}, {http.MethodPost, "/api/v1/auth/login"},
		{http.MethodPost, "/api/v1/tasks"}, {http.MethodPut, fmt.Sprintf("/api/v1/tasks/%v", task["id"])},
		{http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", task["id"])}, {http.MethodPost, "/api/v1/tags"},
		{http.MethodPut, fmt.Sprintf("/api/v1/tags/%d", tag)},
	}
	for _, p := range paths {
		for _, b := range bodies {
			for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "text/plain"} {
				r := a.do(t, p.method, p.path, ct, b, "Authorization", "Bearer "+tok)
				assert.Less(t, r.Code, 500, "%s %s %s %.60q: %s", p.method, p.path, ct, b, r.Body.String())
			}
		}
	}
	for _, q := range []string{"page=99999999999999999999", "limit=1e2", "page=%00", "q=%FF%FE", "tag=%00", "sort=%E2%80%AE",
		"status=ALL", "priority=", "tag=99999999999", "q=" + strings.Repeat("%25", 3000), "page=1&page=2"} {
		r := a.call(t, http.MethodGet, "/api/v1/tasks?"+q, tok, nil)
		assert.Less(t, r.Code, 500, "%s: %s", q, r.Body.String())
	}
	for _, path := range []string{"/api/v1/tasks/-1", "/api/v1/tasks/0", "/api/v1/tasks/1.5", "/api/v1/tasks/%00",
		"/api/v1/tasks/9223372036854775808", "/api/v1/tags/%2e%2e", "/api/v1/tasks/1/tags/-7"} {
		r := a.call(t, http.MethodGet, path, tok, nil)
		assert.Less(t, r.Code, 500, "%s: %s", path, r.Body.String())
		r = a.call(t, http.MethodDelete, path, tok, nil)
		assert.Less(t, r.Code, 500, "DELETE %s: %s", path, r.Body.String())
	}
}
