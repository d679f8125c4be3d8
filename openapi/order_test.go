package openapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/todoapp/todo-api/openapi"
)

// The whole API in one document lists its paths as the spec files do: a
// user meets register first, not delete-account. Checked in the JSON and in
// the YAML made of it (Swagger UI and ReDoc show a document's order).
func TestMergedPathsKeepTheFilesOrder(t *testing.T) {
	doc, err := openapi.MergedJSON()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(doc, &m))
	require.Contains(t, m, "info")
	y, err := openapi.MergedYAML()
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, yaml.Unmarshal(y, &back))
	assert.Equal(t, m, back, "the YAML is the same document")
	for name, text := range map[string]string{"JSON": string(doc), "YAML": string(y)} {
		at := func(p string) int {
			i := strings.Index(text, `"`+p+`"`)
			if i < 0 {
				i = strings.Index(text, "\n  "+p+":")
			}
			require.GreaterOrEqual(t, i, 0, "%s: %s", name, p)
			return i
		}
		want := []string{"/auth/register", "/auth/login", "/auth/refresh", "/auth/me", "/auth/sessions", "/auth/password", "/auth/delete-account", "/auth/logout", "/tasks"}
		for i := 1; i < len(want); i++ {
			assert.Less(t, at(want[i-1]), at(want[i]), "%s: %s before %s", name, want[i-1], want[i])
		}
	}
}
