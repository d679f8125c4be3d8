// Package openapi embeds the HTTP contract, the source of truth from which
// the server code in gen/ is generated, so the server can publish it and
// validate requests against it.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// AuthAPI is openapi/auth-api.yaml as written.
//
//go:embed auth-api.yaml
var AuthAPI []byte

// TasksAPI is openapi/tasks-api.yaml as written.
//
//go:embed tasks-api.yaml
var TasksAPI []byte

// Spec is one published OpenAPI document.
type Spec struct {
	Name   string // shown in Swagger UI's spec selector
	File   string // its file name, served under /openapi/
	Data   []byte
	parsed func() (*openapi3.T, error)
}

// Parsed returns the document parsed and validated, once per process. The
// result is shared: read it, never change it.
func (s Spec) Parsed() (*openapi3.T, error) { return s.parsed() }

func newSpec(name, file string, data []byte) Spec {
	return Spec{Name: name, File: file, Data: data, parsed: sync.OnceValues(func() (*openapi3.T, error) { return load(data) })}
}

// The two documents of the API.
var (
	Auth  = newSpec("Authentication", "auth-api.yaml", AuthAPI)
	Tasks = newSpec("Tasks and tags", "tasks-api.yaml", TasksAPI)
)

// Specs lists every document of the API, in the order Swagger UI shows them.
var Specs = []Spec{Auth, Tasks}

// load parses and validates an OpenAPI document.
func load(doc []byte) (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(openapi3.NewLoader().Context); err != nil {
		return nil, err
	}
	return spec, nil
}

// Merged returns every spec as one document: the whole API for clients that
// want a single file. Components of the same name must be identical in every
// spec that declares them; a difference is an error, not a silent choice.
// It is built once per process and shared: read it, never change it.
var Merged = sync.OnceValues(merge)

func merge() (*openapi3.T, error) {
	out := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:       "Todo API",
			Version:     "1.0.0",
			Description: "User accounts and their tasks and tags. The same API as auth-api.yaml and tasks-api.yaml, in one document.",
			License:     &openapi3.License{Name: "MIT", URL: "https://opensource.org/licenses/MIT"},
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: openapi3.Schemas{}, Parameters: openapi3.ParametersMap{}, Headers: openapi3.Headers{},
			Responses: openapi3.ResponseBodies{}, SecuritySchemes: openapi3.SecuritySchemes{},
		},
	}
	for _, s := range Specs {
		spec, err := s.Parsed()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
		if out.Servers == nil {
			out.Servers = spec.Servers
		}
		out.Tags = append(out.Tags, spec.Tags...)
		for path, item := range spec.Paths.Map() {
			if out.Paths.Value(path) != nil {
				return nil, fmt.Errorf("%s: path %s is declared twice", s.File, path)
			}
			out.Paths.Set(path, item)
		}
		c := spec.Components
		errs := []error{
			mergeInto(out.Components.Schemas, c.Schemas, s.File),
			mergeInto(out.Components.Parameters, c.Parameters, s.File),
			mergeInto(out.Components.Headers, c.Headers, s.File),
			mergeInto(out.Components.Responses, c.Responses, s.File),
			mergeInto(out.Components.SecuritySchemes, c.SecuritySchemes, s.File),
		}
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	if err := out.Validate(openapi3.NewLoader().Context); err != nil {
		return nil, fmt.Errorf("merged spec: %w", err)
	}
	return out, nil
}

func mergeInto[V any](dst, src map[string]V, file string) error {
	for name, v := range src {
		if prev, ok := dst[name]; ok {
			a, err1 := json.Marshal(prev)
			b, err2 := json.Marshal(v)
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				return fmt.Errorf("%s: component %s differs from the one of the same name in another spec", file, name)
			}
			continue
		}
		dst[name] = v
	}
	return nil
}
