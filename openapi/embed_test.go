package openapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/openapi"
)

func TestMergedHoldsEveryOperation(t *testing.T) {
	merged, err := openapi.Merged()
	require.NoError(t, err)
	want := map[string]bool{}
	for _, s := range openapi.Specs {
		spec, err := s.Parsed()
		require.NoError(t, err, s.File)
		for _, item := range spec.Paths.Map() {
			for _, op := range item.Operations() {
				want[op.OperationID] = true
			}
		}
	}
	got := map[string]bool{}
	for _, item := range merged.Paths.Map() {
		for _, op := range item.Operations() {
			got[op.OperationID] = true
		}
	}
	assert.Equal(t, want, got)
	assert.Len(t, got, 34)
}
