// Package openapi embeds the HTTP contract, the source of truth from which
// the server code in gen/ is generated, so the server can publish it and
// validate requests against it.
package openapi

import (
	_ "embed"

	"github.com/getkin/kin-openapi/openapi3"
)

// AuthAPI is openapi/auth-api.yaml as written.
//
//go:embed auth-api.yaml
var AuthAPI []byte

// Spec is one published OpenAPI document.
type Spec struct {
	Name string // shown in Swagger UI's spec selector
	File string // its file name, served under /openapi/
	Data []byte
}

// Specs lists every document of the API, in the order Swagger UI shows them.
var Specs = []Spec{
	{Name: "Authentication", File: "auth-api.yaml", Data: AuthAPI},
}

// Load parses and validates one of the embedded specs.
func Load(doc []byte) (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(openapi3.NewLoader().Context); err != nil {
		return nil, err
	}
	return spec, nil
}
