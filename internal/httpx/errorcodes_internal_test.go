package httpx

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/openapi"
)

func TestErrorCodesOfTheSpecsAreKnown(t *testing.T) {
	for _, s := range openapi.Specs {
		spec, err := s.Parsed()
		require.NoError(t, err)
		assert.NoError(t, checkErrorCodes(spec), s.File)
	}
}

func TestErrorCodesTyposStopTheServer(t *testing.T) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData([]byte(`
openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    Thing:
      type: object
      properties:
        name: {type: string, maxLength: 5, x-error-codes: {maxLength: NO_SUCH_CODE}}
        title: {type: string, x-error-codes: {minLength: INVALID_TITLE}}
`))
	require.NoError(t, err)
	err = checkErrorCodes(spec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Thing.name: x-error-codes names an unknown code "NO_SUCH_CODE"`)
	assert.Contains(t, err.Error(), `Thing.title: x-error-codes names "minLength", which the schema does not have`)
}
