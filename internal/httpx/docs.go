package httpx

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/todoapp/todo-api/openapi"
)

// registerDocs publishes the spec the server was generated from.
func registerDocs(e *echo.Echo) {
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openapi.AuthAPI)
	})
}
