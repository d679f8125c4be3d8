package httpx_test

// Property-based conformance: requests generated from the merged spec go
// through the real server on a real database, and every answer is checked
// (by a.do: a declared status, a body valid against its schema; here: never
// a 5xx, a valid request never a 422, a request that breaks one schema rule
// refused with that rule's code). A stateful phase follows the spec's links.
//
// The seed is fixed unless -rapid.seed is given, so CI is repeatable; a
// failure prints the smallest failing request and how to replay it.
// `make conformance` runs many more cases with a new seed.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/todoapp/todo-api/internal/httpx"
	"github.com/todoapp/todo-api/openapi"
)

// conformanceSeed is the seed CI runs with (rapid's -rapid.seed overrides it).
const conformanceSeed = 20261126

// operation is one operation of the merged spec.
type operation struct {
	id, method, path string
	op               *openapi3.Operation
	params           []*openapi3.Parameter // the path item's and the operation's
}

func specOperations(t *testing.T) (*openapi3.T, []operation) {
	t.Helper()
	spec, err := openapi.Merged()
	if err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := operation{id: op.OperationID, method: method, path: path, op: op}
			for _, p := range append(item.Parameters, op.Parameters...) {
				o.params = append(o.params, p.Value)
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	return spec, ops
}

// fixSeed makes rapid use conformanceSeed unless the command line set one.
func fixSeed() {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.seed" })
	if !set {
		_ = flag.Set("rapid.seed", strconv.Itoa(conformanceSeed))
	}
}

// request is a generated request of an operation.
type request struct {
	path   map[string]string
	query  url.Values
	header map[string]string
	body   map[string]any // nil: no body
	// broken names the one rule the request breaks ("" for a valid one),
	// field where it is, and code the error the contract answers it with.
	broken, field, code string
}

func (r request) String() string {
	b, _ := json.Marshal(r.body)
	return fmt.Sprintf("path=%v query=%v header=%v body=%s broken=%q field=%q", r.path, r.query.Encode(), r.header, b, r.broken, r.field)
}

// send sends r as op with token (none for public operations).
func (a *app) send(t tester, o operation, r request, token string) response {
	t.Helper()
	path := o.path
	for k, v := range r.path {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
	}
	target := "/api/v1" + path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var header []string
	for k, v := range r.header {
		header = append(header, k, v)
	}
	if token != "" && !isPublic(o.op) {
		header = append(header, "Authorization", "Bearer "+token)
	}
	ct, body := "", ""
	if r.body != nil {
		switch {
		case o.op.RequestBody.Value.Content.Get("application/json") != nil:
			ct, body = "application/json", mustJSON(t, r.body)
		default: // the login form
			ct = "application/x-www-form-urlencoded"
			form := url.Values{}
			for k, v := range r.body {
				form.Set(k, fmt.Sprint(v))
			}
			body = form.Encode()
		}
	}
	req := newRequest(strings.ToUpper(o.method), target, ct, body, header...)
	if streams(o.op) { // a stream that opens stays open: read what comes at once
		ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	return a.serve(t, req)
}

// streams reports whether op answers with an event stream.
func streams(op *openapi3.Operation) bool {
	r := op.Responses.Status(http.StatusOK)
	return r != nil && r.Value.Content.Get("text/event-stream") != nil
}

func isPublic(op *openapi3.Operation) bool { return op.Security != nil && len(*op.Security) == 0 }

// --- generators of valid values -------------------------------------------

// genValue draws a value valid against s (nil for a null where allowed).
func genValue(rt *rapid.T, s *openapi3.Schema, label string) any {
	if s.Nullable && rapid.IntRange(0, 5).Draw(rt, label+".null?") == 0 {
		return nil
	}
	if len(s.Enum) > 0 {
		return rapid.SampledFrom(s.Enum).Draw(rt, label)
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		return genString(rt, s, label)
	case s.Type.Is(openapi3.TypeInteger):
		lo, hi := int64(-5), int64(1_000_000)
		if s.Min != nil {
			lo = int64(*s.Min)
			hi = max(hi, lo+1000)
		}
		if s.Format == "int64" && rapid.IntRange(0, 4).Draw(rt, label+".huge?") == 0 {
			// Near the top, where a product with a small number overflows:
			// MaxInt64/n and a little more.
			n, plus := rapid.Int64Range(1, 128).Draw(rt, label+".div"), rapid.Int64Range(0, 3).Draw(rt, label+".plus")
			if n == 1 {
				return int64(math.MaxInt64) - plus
			}
			return math.MaxInt64/n + plus
		}
		return rapid.Int64Range(lo, hi).Draw(rt, label)
	case s.Type.Is(openapi3.TypeNumber):
		return rapid.Float64().Draw(rt, label)
	case s.Type.Is(openapi3.TypeBoolean):
		return rapid.Bool().Draw(rt, label)
	case s.Type.Is(openapi3.TypeArray):
		n := rapid.IntRange(0, 3).Draw(rt, label+".len")
		out := make([]any, n)
		for i := range out {
			out[i] = genValue(rt, s.Items.Value, fmt.Sprintf("%s[%d]", label, i))
		}
		return out
	case s.Type.Is(openapi3.TypeObject):
		return genObject(rt, s, label)
	}
	return nil
}

func genObject(rt *rapid.T, s *openapi3.Schema, label string) map[string]any {
	out := map[string]any{}
	for _, name := range sortedKeys(s.Properties) {
		if slices.Contains(s.Required, name) || rapid.Bool().Draw(rt, label+"."+name+"?") {
			out[name] = genValue(rt, s.Properties[name].Value, label+"."+name)
		}
	}
	return out
}

// genString draws a string within s's lengths that matches its pattern:
// often the schema's example, else one drawn from the pattern (when there
// are no lengths to keep) or from any runes, kept when the pattern matches.
func genString(rt *rapid.T, s *openapi3.Schema, label string) string {
	if ex, ok := s.Example.(string); ok && rapid.IntRange(0, 3).Draw(rt, label+".example?") == 0 {
		return ex
	}
	switch s.Format {
	case "uuid":
		return uuid.NewSHA1(uuid.NameSpaceOID, []byte(rapid.String().Draw(rt, label))).String()
	case "email":
		return rapid.StringMatching(`[a-z0-9._-]{1,20}@[a-z]{1,10}\.(com|org|de)`).Draw(rt, label)
	}
	minLen, maxLen := int(s.MinLength), 60
	if s.MaxLength != nil {
		maxLen = int(*s.MaxLength)
	}
	var re *regexp.Regexp
	if s.Pattern != "" {
		re = regexp.MustCompile(s.Pattern)
		if s.MinLength == 0 && s.MaxLength == nil {
			return rapid.StringMatching(s.Pattern).Draw(rt, label)
		}
	}
	return rapid.StringOfN(rapid.Rune(), minLen, maxLen, -1).Filter(func(v string) bool {
		return re == nil || re.MatchString(v)
	}).Draw(rt, label)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// genRequest draws a valid request of o (a path id from ids when given).
func genRequest(rt *rapid.T, o operation, ids map[string]string) request {
	r := request{path: map[string]string{}, query: url.Values{}, header: map[string]string{}}
	for _, p := range o.params {
		if !p.Required && rapid.IntRange(0, 2).Draw(rt, p.Name+"?") == 0 {
			continue
		}
		v := fmt.Sprint(genValue(rt, p.Schema.Value, p.Name))
		if id, ok := ids[p.Name]; ok {
			v = id
		}
		switch p.In {
		case openapi3.ParameterInPath:
			r.path[p.Name] = v
		case openapi3.ParameterInQuery:
			r.query.Set(p.Name, v)
		case openapi3.ParameterInHeader:
			r.header[p.Name] = strings.Map(func(c rune) rune { // what a header can carry
				if c < 0x20 || c > 0x7e {
					return -1
				}
				return c
			}, v)
		case openapi3.ParameterInCookie:
			r.header["Cookie"] = p.Name + "=" + url.QueryEscape(v)
		}
	}
	if rb := o.op.RequestBody; rb != nil {
		for _, mt := range rb.Value.Content {
			r.body = genObject(rt, mt.Schema.Value, "body")
		}
	}
	return r
}

// --- requests that break exactly one rule ----------------------------------

// rule is one rule of a schema a request can break.
type rule struct {
	keyword string // minLength, maxLength, pattern, enum, minimum, type, required
	field   string // the property or parameter
	in      string // body, query or path
	schema  *openapi3.Schema
	parent  *openapi3.Schema // for required
}

// rules lists what the operation's schemas let a request break.
func rules(o operation) []rule {
	var out []rule
	add := func(in, field string, s *openapi3.Schema) {
		for _, k := range []string{"minLength", "maxLength", "pattern", "enum", "minimum"} {
			if httpx.HasKeyword(s, k) {
				out = append(out, rule{keyword: k, field: field, in: in, schema: s})
			}
		}
		if !s.Type.Is(openapi3.TypeString) || in == "body" { // any query text is a string
			out = append(out, rule{keyword: "type", field: field, in: in, schema: s})
		}
	}
	for _, p := range o.params {
		switch p.In {
		case openapi3.ParameterInQuery, openapi3.ParameterInPath:
			add(p.In, p.Name, p.Schema.Value)
		case openapi3.ParameterInHeader: // a header is text: every rule but the type
			add(p.In, p.Name, p.Schema.Value)
			out = slices.DeleteFunc(out, func(r rule) bool { return r.in == p.In && r.field == p.Name && r.keyword == "type" })
		}
	}
	if rb := o.op.RequestBody; rb != nil {
		if mt := rb.Value.Content.Get("application/json"); mt != nil {
			s := mt.Schema.Value
			for _, name := range sortedKeys(s.Properties) {
				add("body", name, s.Properties[name].Value)
			}
			for _, name := range s.Required {
				out = append(out, rule{keyword: "required", field: name, in: "body", parent: s})
			}
		}
	}
	return out
}

// breakValue draws a value that breaks rule k of s and keeps its others
// (as far as it can: a pattern also bounds lengths).
func breakValue(rt *rapid.T, rl rule) any {
	s := rl.schema
	switch rl.keyword {
	case "minLength":
		return rapid.StringOfN(rapid.RuneFrom([]rune("abc")), 0, int(s.MinLength)-1, -1).Draw(rt, "short")
	case "maxLength":
		n := int(*s.MaxLength) + rapid.IntRange(1, 10).Draw(rt, "over")
		return strings.Repeat("x", n)
	case "pattern":
		re := regexp.MustCompile(s.Pattern)
		candidates := []string{"a\x00b", "   ", "red", "#12345G", "tomorrow", "2026-12-01", "2026-12-01T17:00:00+0100", "a b"}
		return rapid.SampledFrom(candidates).Filter(func(v string) bool {
			n := len([]rune(v))
			if rl.in == openapi3.ParameterInHeader && (strings.ContainsRune(v, 0) || strings.TrimSpace(v) != v) {
				return false // not what a header can carry
			}
			return !re.MatchString(v) && n >= int(s.MinLength) && (s.MaxLength == nil || n <= int(*s.MaxLength))
		}).Draw(rt, "mismatch")
	case "enum":
		return rapid.StringMatching(`[a-z]{1,8}`).Filter(func(v string) bool { return !slices.Contains(s.Enum, any(v)) }).Draw(rt, "not-in-enum")
	case "minimum":
		return int64(*s.Min) - rapid.Int64Range(1, 1000).Draw(rt, "below")
	case "type":
		if s.Type.Is(openapi3.TypeString) {
			return rapid.SampledFrom([]any{float64(5), true, []any{"a"}, map[string]any{}}).Draw(rt, "not-a-string")
		}
		return rapid.SampledFrom([]any{"abc", "1.5"}).Draw(rt, "not-a-number")
	}
	panic("unknown rule " + rl.keyword)
}

// breakOne draws a valid request and breaks one rule in it.
func breakOne(rt *rapid.T, o operation, ids map[string]string) request {
	all := rules(o)
	if len(all) == 0 {
		rt.Skip("no rule to break")
	}
	rl := rapid.SampledFrom(all).Draw(rt, "rule")
	r := genRequest(rt, o, ids)
	r.broken, r.field = rl.keyword, rl.field
	r.code = "VALIDATION_ERROR"
	if rl.schema != nil {
		if codes, _ := rl.schema.Extensions["x-error-codes"].(map[string]any); codes[rl.keyword] != nil && rl.keyword != "type" {
			r.code = codes[rl.keyword].(string)
		}
	}
	switch {
	case rl.keyword == "required":
		delete(r.body, rl.field)
	case rl.in == "body":
		r.body[rl.field] = breakValue(rt, rl)
	case rl.in == "query":
		r.query.Set(rl.field, fmt.Sprint(breakValue(rt, rl)))
	case rl.in == "path":
		r.path[rl.field] = fmt.Sprint(breakValue(rt, rl))
	case rl.in == openapi3.ParameterInHeader:
		r.header[rl.field] = fmt.Sprint(breakValue(rt, rl))
	}
	return r
}

// --- the properties ---------------------------------------------------------

// keyReused reports an answer of IDEMPOTENCY_KEY_MISMATCH: drawn keys repeat,
// and a valid request whose key an earlier one used is answered so.
func keyReused(resp response) bool {
	var body struct{ Code string }
	_ = json.Unmarshal(resp.Body.Bytes(), &body)
	return body.Code == "IDEMPOTENCY_KEY_MISMATCH"
}

// sessionEnders end the caller's session, so each of their cases gets a
// user of its own.
var sessionEnders = map[string]bool{"revokeAllSessions": true, "deleteAccount": true, "changePassword": true}

func TestConformance(t *testing.T) {
	fixSeed()
	_, ops := specOperations(t)
	a := newApp(t) // every rate limit off
	token := a.user(t, "conformance@example.com")
	var users atomic.Int64
	tokenFor := func(t *testing.T, o operation) string {
		if !sessionEnders[o.id] {
			return token
		}
		return a.user(t, fmt.Sprintf("conformance-%d@example.com", users.Add(1)))
	}
	var valid, invalid atomic.Int64
	for _, o := range ops {
		t.Run(o.id+"/Valid", func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				r := genRequest(rt, o, nil)
				resp := a.send(rt, o, r, tokenFor(t, o))
				valid.Add(1)
				if resp.Code >= 500 || resp.Code == http.StatusUnprocessableEntity && !keyReused(resp) {
					rt.Fatalf("%s with a valid request: %d %s\nrequest: %s", o.id, resp.Code, resp.Body.String(), r)
				}
			})
		})
		t.Run(o.id+"/BreaksOneRule", func(t *testing.T) {
			if len(rules(o)) == 0 {
				return // nothing in its schemas to break (GET /auth/me, ...)
			}
			rapid.Check(t, func(rt *rapid.T) {
				r := breakOne(rt, o, nil)
				resp := a.send(rt, o, r, tokenFor(t, o))
				invalid.Add(1)
				want := http.StatusBadRequest
				if r.code == "VALIDATION_ERROR" {
					want = http.StatusUnprocessableEntity
				}
				var body struct{ Code, Field string }
				_ = json.Unmarshal(resp.Body.Bytes(), &body)
				if resp.Code != want || body.Code != r.code || body.Field != r.field {
					rt.Fatalf("%s breaking %s of %s: got %d %s, want %d %s field %s\nrequest: %s",
						o.id, r.broken, r.field, resp.Code, resp.Body.String(), want, r.code, r.field, r)
				}
			})
		})
	}
	t.Logf("%d operations; %d valid and %d rule-breaking requests", len(ops), valid.Load(), invalid.Load())
}

// TestConformanceStateful follows the spec's links from the operations that
// create (createTask, createTag) to those that use what they created, and
// checks the answers against a model: what was deleted is 404, what lives
// is not.
func TestConformanceStateful(t *testing.T) {
	fixSeed()
	spec, ops := specOperations(t)
	byID := map[string]operation{}
	for _, o := range ops {
		byID[o.id] = o
	}
	a := newApp(t)
	token := a.user(t, "stateful@example.com")
	var steps atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		live := map[string][]string{"task_id": nil, "tag_id": nil} // ids created, not deleted
		deleted := map[string]bool{}                               // "task_id=7"
		for range rapid.IntRange(1, 12).Draw(rt, "steps") {
			steps.Add(1)
			creators := []string{"createTask", "createTag"}
			o := byID[rapid.SampledFrom(creators).Draw(rt, "creator")]
			resp := a.send(rt, o, genRequest(rt, o, nil), token)
			if resp.Code != http.StatusCreated {
				continue // a valid body the business rules refuse (a taken tag name, a 30th of February)
			}
			created := map[string]any{}
			_ = json.Unmarshal(resp.Body.Bytes(), &created)
			links := o.op.Responses.Status(201).Value.Links
			name := rapid.SampledFrom(sortedKeys(links)).Draw(rt, "link")
			link := links[name].Value
			next := byID[link.OperationID]
			ids := map[string]string{}
			for param, expr := range link.Parameters {
				if expr == "$response.body#/id" {
					id := fmt.Sprint(created["id"])
					ids[param] = id
					live[param] = append(live[param], id)
				}
			}
			// The other id of a link (a tag for a task, a task for a tag):
			// one created earlier, maybe deleted since.
			for _, p := range next.params {
				if _, ok := ids[p.Name]; !ok && p.In == "path" {
					if known := live[p.Name]; len(known) > 0 {
						ids[p.Name] = rapid.SampledFrom(known).Draw(rt, p.Name)
					}
				}
			}
			if len(ids) < len(next.params) {
				continue // nothing yet to link with
			}
			r := genRequest(rt, next, ids)
			resp = a.send(rt, next, r, token)
			gone := false
			for k, v := range ids {
				gone = gone || deleted[k+"="+v]
			}
			switch {
			case resp.Code >= 500 || resp.Code == http.StatusUnprocessableEntity:
				rt.Fatalf("%s → %s: %d %s\nrequest: %s", o.id, next.id, resp.Code, resp.Body.String(), r)
			case gone && resp.Code != http.StatusNotFound:
				rt.Fatalf("%s on something deleted: %d %s", next.id, resp.Code, resp.Body.String())
			case !gone && resp.Code == http.StatusNotFound:
				rt.Fatalf("%s on something that lives: %d %s\nrequest: %s", next.id, resp.Code, resp.Body.String(), r)
			}
			if strings.HasPrefix(next.id, "delete") && resp.Code == http.StatusNoContent {
				for k, v := range ids {
					deleted[k+"="+v] = true
				}
			}
			// A link of the link (put on → take off), when it worked.
			if l := next.op.Responses.Status(resp.Code); l != nil && len(l.Value.Links) > 0 {
				for _, ln := range l.Value.Links {
					then := byID[ln.Value.OperationID]
					back := a.send(rt, then, genRequest(rt, then, ids), token)
					if back.Code >= 300 {
						rt.Fatalf("%s after %s: %d %s", then.id, next.id, back.Code, back.Body.String())
					}
				}
			}
		}
	})
	t.Logf("stateful: %d steps along the links of %s", steps.Load(), spec.Info.Title)
}
