// Package asyncapi embeds the events contract, asyncapi/events.yaml, and checks
// a published event against it. The document's payloads are OpenAPI 3.0 schemas
// that reference openapi/tasks-api.yaml for Task and Tag, so an event carries a
// task exactly as the HTTP API answers it.
package asyncapi

import _ "embed"

// Events is asyncapi/events.yaml as written.
//
//go:embed events.yaml
var Events []byte
