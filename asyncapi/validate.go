package asyncapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"sigs.k8s.io/yaml"

	"github.com/todoapp/todo-api/openapi"
)

// openAPIFormat is the schemaFormat of every payload in asyncapi/events.yaml;
// a payload in any other format is an error of the document.
const openAPIFormat = "application/vnd.oai.openapi;version=3.0.0"

// Where the two documents sit in the repository: events.yaml's refs to
// ../openapi/tasks-api.yaml are resolved from eventsPath to tasksPath.
var eventsPath = &url.URL{Path: "asyncapi/events.yaml"}

const tasksPath = "openapi/tasks-api.yaml"

// contract is asyncapi/events.yaml's payload schema for each event type.
type contract struct {
	schemas map[string]*openapi3.Schema // by CloudEvents type (a message's name)
	types   []string                    // sorted
}

var loadContract = sync.OnceValues(func() (*contract, error) { return parse(Events) })

// Types returns the CloudEvents types the document describes, sorted
// ("dev.todo.tag.created.v1", ...). It panics if asyncapi/events.yaml cannot be
// read: the file is embedded, so that is a build defect this package's tests catch.
func Types() []string {
	c, err := loadContract()
	if err != nil {
		panic(fmt.Sprintf("asyncapi/events.yaml: %v", err))
	}
	return slices.Clone(c.types)
}

// Validate checks one event, the JSON body published on NATS or POSTed to a
// webhook, against asyncapi/events.yaml: its `type` must name a message of the
// document, and the whole CloudEvent (envelope and data) must match that
// message's payload schema, read as a response (readOnly fields belong in it).
// The error names every mismatch.
func Validate(event []byte) error {
	c, err := loadContract()
	if err != nil {
		return fmt.Errorf("asyncapi/events.yaml: %w", err)
	}
	var v any
	if err := json.Unmarshal(event, &v); err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("event is not a JSON object")
	}
	typ, ok := obj["type"].(string)
	if !ok {
		return errors.New("event has no string type")
	}
	schema, ok := c.schemas[typ]
	if !ok {
		return fmt.Errorf("unknown event type %q", typ)
	}
	if err := schema.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.MultiErrors(),
		openapi3.WithStringFormatValidator("uuid", uuidFormat),
		openapi3.SetSchemaErrorMessageCustomizer(short)); err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	return nil
}

// short writes a mismatch as its place and reason ("/data/task: property
// \"version\" is missing"), without kin-openapi's dump of the schema and value.
func short(err *openapi3.SchemaError) string {
	return "/" + strings.Join(err.JSONPointer(), "/") + ": " + err.Reason
}

// uuidFormat checks format: uuid, which kin-openapi leaves unchecked unless told.
var uuidFormat = openapi3.NewCallbackValidator(func(s string) error {
	if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
		return errors.New("not a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6")
	}
	return nil
})

// parse reads the payload schema of every message in components.messages.
// Refs inside the document (#/...) are followed here; what remains, the refs
// into openapi/tasks-api.yaml, kin-openapi resolves from openapi.TasksAPI,
// with the OpenAPI 3.0 meaning of nullable and readOnly.
func parse(doc []byte) (*contract, error) {
	var root map[string]any
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	messages, err := pointer(root, "#/components/messages")
	if err != nil {
		return nil, err
	}
	msgs, ok := messages.(map[string]any)
	if !ok {
		return nil, errors.New("components.messages is not a map")
	}
	keys := map[string]string{}  // CloudEvents type -> the first message key
	payloads := map[string]any{} // message key -> schema, local refs followed
	for _, key := range slices.Sorted(maps.Keys(msgs)) {
		typ, schema, err := payload(root, msgs[key])
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", key, err)
		}
		if first, seen := keys[typ]; seen {
			if !reflect.DeepEqual(payloads[first], schema) {
				return nil, fmt.Errorf("messages %s and %s are both %s but their payloads differ", first, key, typ)
			}
			continue
		}
		keys[typ], payloads[key] = key, schema
	}

	// The payloads become the schemas of an OpenAPI document that sits where
	// events.yaml does, so kin-openapi resolves and checks their refs.
	wrapper, err := json.Marshal(map[string]any{
		"openapi": "3.0.3", "info": map[string]any{"title": "events", "version": "1"},
		"paths": map[string]any{}, "components": map[string]any{"schemas": payloads},
	})
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if u.Scheme == "" && u.Host == "" && path.Clean(u.Path) == tasksPath {
			return openapi.TasksAPI, nil
		}
		return nil, fmt.Errorf("%s: only refs into %s are resolved", u, tasksPath)
	}
	t, err := loader.LoadFromDataWithPath(wrapper, eventsPath)
	if err != nil {
		return nil, err
	}
	if err := t.Components.Validate(loader.Context); err != nil {
		return nil, err
	}
	c := &contract{schemas: map[string]*openapi3.Schema{}}
	for typ, key := range keys {
		c.schemas[typ] = t.Components.Schemas[key].Value
		c.types = append(c.types, typ)
	}
	slices.Sort(c.types)
	return c, nil
}

// payload returns a message's name (its CloudEvents type) and its payload
// schema, every local ref in it replaced by what it points at.
func payload(root map[string]any, message any) (string, any, error) {
	msg, err := inline(root, message, 0)
	if err != nil {
		return "", nil, err
	}
	m, _ := msg.(map[string]any)
	typ, _ := m["name"].(string)
	p, _ := m["payload"].(map[string]any)
	switch {
	case typ == "":
		return "", nil, errors.New("no name")
	case p["schemaFormat"] != openAPIFormat:
		return "", nil, fmt.Errorf("payload schemaFormat is %v, not %s", p["schemaFormat"], openAPIFormat)
	case p["schema"] == nil:
		return "", nil, errors.New("payload has no schema")
	}
	return typ, p["schema"], nil
}

// inline copies node with every ref into the document (#/...) replaced by its
// target; refs to other files are kept. depth stops a ref cycle.
func inline(root map[string]any, node any, depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("refs nested too deep (a cycle?)")
	}
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok && strings.HasPrefix(ref, "#/") {
			target, err := pointer(root, ref)
			if err != nil {
				return nil, err
			}
			return inline(root, target, depth+1)
		}
		out := make(map[string]any, len(n))
		for k, v := range n {
			var err error
			if out[k], err = inline(root, v, depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			var err error
			if out[i], err = inline(root, v, depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	default:
		return node, nil
	}
}

// pointer follows a JSON pointer ref ("#/components/schemas/UserID/schema")
// through the maps of the document.
func pointer(root map[string]any, ref string) (any, error) {
	var node any = root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := node.(map[string]any)
		if !ok || m[part] == nil {
			return nil, fmt.Errorf("%s does not exist", ref)
		}
		node = m[part]
	}
	return node, nil
}
