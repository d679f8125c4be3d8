package api

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/openapi"
)

// The limits the spec states (openapi/*.yaml) are the ones the Go code
// applies where a schema cannot (after trimming, in bytes): one rule, held
// together here.
func TestSpecLimitsAreTheCodes(t *testing.T) {
	authSpec, err := openapi.Auth.Parsed()
	require.NoError(t, err)
	tasksSpec, err := openapi.Tasks.Parsed()
	require.NoError(t, err)
	prop := func(spec *openapi3.T, schema, name string) *openapi3.Schema {
		t.Helper()
		s := spec.Components.Schemas[schema]
		require.NotNil(t, s, schema)
		p := s.Value.Properties[name]
		require.NotNil(t, p, "%s.%s", schema, name)
		return p.Value
	}
	maxLen := func(s *openapi3.Schema) int {
		t.Helper()
		require.NotNil(t, s.MaxLength)
		return int(*s.MaxLength)
	}
	for _, schema := range []string{"TaskCreate", "TaskUpdate"} {
		assert.Equal(t, maxTitleChars, maxLen(prop(tasksSpec, schema, "title")), schema)
		assert.EqualValues(t, 1, prop(tasksSpec, schema, "title").MinLength, schema)
		assert.Equal(t, maxDescriptionChars, maxLen(prop(tasksSpec, schema, "description")), schema)
	}
	assert.Equal(t, maxTagNameChars, maxLen(prop(tasksSpec, "TagInput", "name")))
	for _, p := range []struct{ schema, name string }{{"UserCreate", "password"}, {"PasswordChange", "new_password"}} {
		s := prop(authSpec, p.schema, p.name)
		assert.EqualValues(t, minPasswordChars, s.MinLength, p.schema)
		assert.EqualValues(t, auth.MaxPasswordBytes, s.Extensions["x-max-bytes"], "%s: the bytes bcrypt takes", p.schema)
		assert.Equal(t, auth.MaxPasswordBytes, maxLen(s), "%s: no password of more characters than bytes", p.schema)
	}
	assert.Equal(t, maxUserAgentChars, maxLen(prop(authSpec, "Session", "user_agent")))
}
