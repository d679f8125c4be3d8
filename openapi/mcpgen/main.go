// Command mcpgen writes gen/mcptools: the MCP tools of the operations of
// openapi/*.yaml that carry `x-mcp-tool: {name, description}`. A tool's
// input schema is the operation's path and query parameters and its JSON
// body's properties merged into one object (every rule the spec's schemas
// carry: types, lengths, patterns, enums, defaults), in JSON Schema 2020-12;
// its output schema is the success response's. `make generate` runs it;
// the drift check covers its output.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/todoapp/todo-api/openapi"
)

const extension = "x-mcp-tool"

// tool is one generated tool.
type tool struct {
	Name, Description, Method, Path string
	Params                          []param
	InputSchema, OutputSchema       string
	Body                            bool // the operation takes a JSON body
	// Wrap names the one property of the structured result that holds a
	// success body which is not an object (a JSON array): MCP's structured
	// content is an object.
	Wrap string
}

type param struct{ Name, In string }

func main() {
	out := flag.String("o", "gen/mcptools/tools.gen.go", "the file to write")
	flag.Parse()
	var tools []tool
	for _, spec := range openapi.Specs {
		doc, err := spec.Parsed()
		if err != nil {
			log.Fatal(err)
		}
		prefix := "/api/v1"
		if len(doc.Servers) > 0 {
			prefix = doc.Servers[0].URL
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				raw, ok := op.Extensions[extension]
				if !ok {
					continue
				}
				t, err := toolOf(method, prefix+path, append(slices.Clone(item.Parameters), op.Parameters...), op, raw)
				if err != nil {
					log.Fatalf("%s %s: %v", method, path, err)
				}
				tools = append(tools, t)
			}
		}
	}
	sort.Slice(tools, func(i, j int) bool { return tools[i].Name < tools[j].Name })
	for i := 1; i < len(tools); i++ {
		if tools[i].Name == tools[i-1].Name {
			log.Fatalf("two operations are the tool %q", tools[i].Name)
		}
	}
	var buf bytes.Buffer
	if err := file.Execute(&buf, tools); err != nil {
		log.Fatal(err)
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		log.Fatalf("format: %v\n%s", err, buf.Bytes())
	}
	if err := os.MkdirAll(strings.TrimSuffix(*out, "/tools.gen.go"), 0o750); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil { //nolint:gosec // generated source, as readable as the rest of the tree
		log.Fatal(err)
	}
}

func toolOf(method, path string, params openapi3.Parameters, op *openapi3.Operation, raw any) (tool, error) {
	meta, _ := raw.(map[string]any)
	name, _ := meta["name"].(string)
	desc, _ := meta["description"].(string)
	if name == "" || desc == "" {
		return tool{}, fmt.Errorf("%s needs a name and a description", extension)
	}
	t := tool{Name: name, Description: strings.TrimSpace(desc), Method: method, Path: path}
	props := map[string]any{}
	var required []string
	for _, p := range params {
		v := p.Value
		if v == nil || (v.In != openapi3.ParameterInPath && v.In != openapi3.ParameterInQuery) {
			continue // headers (If-Match, ...) are the HTTP API's; a tool has its arguments only
		}
		s := schemaOf(v.Schema, false)
		if v.Description != "" {
			s["description"] = v.Description
		}
		props[v.Name] = s
		if v.Required {
			required = append(required, v.Name)
		}
		t.Params = append(t.Params, param{Name: v.Name, In: v.In})
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		mt := op.RequestBody.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			return t, fmt.Errorf("a tool's body must be JSON")
		}
		t.Body = true
		body := schemaOf(mt.Schema, false)
		bodyProps, _ := body["properties"].(map[string]any)
		for k, v := range bodyProps {
			if _, clash := props[k]; clash {
				return t, fmt.Errorf("body property %q is also a parameter", k)
			}
			props[k] = v
		}
		if r, ok := body["required"].([]string); ok {
			required = append(required, r...)
		}
	}
	sort.Strings(required)
	in := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		in["required"] = required
	}
	b, err := json.Marshal(in)
	if err != nil {
		return t, err
	}
	t.InputSchema = string(b)
	for _, code := range []int{http.StatusOK, http.StatusCreated} {
		r := op.Responses.Status(code)
		if r == nil || r.Value == nil {
			continue
		}
		mt := r.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil {
			continue
		}
		out := schemaOf(mt.Schema, true)
		if out["type"] != "object" {
			t.Wrap = strings.TrimPrefix(strings.TrimPrefix(name, "list_"), "get_")
			out = map[string]any{"type": "object", "properties": map[string]any{t.Wrap: out}, "required": []string{t.Wrap}}
		}
		b, err := json.Marshal(out)
		if err != nil {
			return t, err
		}
		t.OutputSchema = string(b)
		break
	}
	return t, nil
}

// schemaOf converts an OpenAPI 3.0 schema to JSON Schema 2020-12, inlining
// references: nullable becomes a "null" type (or an anyOf with null), an
// example becomes examples, extensions go. Read-only properties are left
// out of an input (output false), as the API ignores them there.
func schemaOf(ref *openapi3.SchemaRef, output bool) map[string]any {
	s := ref.Value
	out := map[string]any{}
	if s.Description != "" {
		out["description"] = strings.TrimSpace(s.Description)
	}
	types := s.Type.Slice()
	switch {
	case len(s.AllOf) == 1 && (len(types) == 0 || types[0] == openapi3.TypeObject) && len(s.Properties) == 0:
		inner := schemaOf(s.AllOf[0], output)
		if d, ok := out["description"]; ok {
			inner["description"] = d
		}
		if !s.Nullable {
			return inner
		}
		delete(inner, "description")
		out["anyOf"] = []any{inner, map[string]any{"type": "null"}}
		return out
	case len(types) == 1:
		if s.Nullable {
			out["type"] = []string{types[0], "null"}
		} else {
			out["type"] = types[0]
		}
	}
	if len(s.Enum) > 0 {
		enum := slices.Clone(s.Enum)
		if s.Nullable {
			enum = append(enum, nil)
		}
		out["enum"] = enum
	}
	if s.Format != "" {
		out["format"] = s.Format
	}
	if s.Pattern != "" {
		out["pattern"] = s.Pattern
	}
	if s.MinLength > 0 {
		out["minLength"] = s.MinLength
	}
	if s.MaxLength != nil {
		out["maxLength"] = *s.MaxLength
	}
	if s.Min != nil {
		out["minimum"] = *s.Min
	}
	if s.Max != nil {
		out["maximum"] = *s.Max
	}
	if s.Default != nil {
		out["default"] = s.Default
	}
	if s.Example != nil {
		out["examples"] = []any{s.Example}
	}
	if s.Items != nil {
		out["items"] = schemaOf(s.Items, output)
	}
	if len(s.Properties) > 0 {
		props := map[string]any{}
		var required []string
		for name, p := range s.Properties {
			if !output && p.Value.ReadOnly {
				continue
			}
			props[name] = schemaOf(p, output)
			if slices.Contains(s.Required, name) {
				required = append(required, name)
			}
		}
		out["properties"] = props
		if len(required) > 0 {
			sort.Strings(required)
			out["required"] = required
		}
	}
	return out
}

var file = template.Must(template.New("tools").Parse(`// Code generated by openapi/mcpgen from openapi/*.yaml; DO NOT EDIT.

// Package mcptools holds the MCP tools of the operations openapi/*.yaml
// marks with x-mcp-tool: each one's route, its arguments' places, and its
// input and output schemas (JSON Schema 2020-12).
package mcptools

// Tool is one operation of the HTTP API offered as an MCP tool.
type Tool struct {
	Name, Description string
	Method, Path      string  // the route, with {name} for each path argument
	Params            []Param // the arguments that go in the path or the query; the others are the body's
	Body              bool    // the route takes a JSON body (of the other arguments)
	InputSchema       string
	OutputSchema      string // "" when the operation answers no body
	// Wrap, when set, is the property of the structured result that holds
	// a body which is not a JSON object.
	Wrap string
}

// Param is an argument that is a path or query parameter.
type Param struct{ Name, In string }

// Tools are the tools, by name.
var Tools = []Tool{
{{- range .}}
	{
		Name:        {{printf "%q" .Name}},
		Description: {{printf "%q" .Description}},
		Method:      {{printf "%q" .Method}},
		Path:        {{printf "%q" .Path}},
		Params:      []Param{ {{- range .Params}}{Name: {{printf "%q" .Name}}, In: {{printf "%q" .In}}}, {{end -}} },
		Body:        {{.Body}},
		InputSchema:  {{printf "%q" .InputSchema}},
		OutputSchema: {{printf "%q" .OutputSchema}},
		Wrap:         {{printf "%q" .Wrap}},
	},
{{- end}}
}
`))
