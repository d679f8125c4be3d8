package httpx

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/todoapp/todo-api/openapi"
)

// swaggerUI holds Swagger UI's assets (vendored by scripts/update-swagger-ui.sh)
// and our page, so /docs works offline and without a CDN.
//
//go:embed swaggerui
var swaggerUI embed.FS

type specLink struct {
	URL  string `json:"url"`
	Name string `json:"name"`
}

// registerDocs publishes the specs the server was generated from, and
// Swagger UI over them at /docs.
func registerDocs(e *echo.Echo) {
	links := make([]specLink, 0, len(openapi.Specs))
	for _, s := range openapi.Specs {
		data := s.Data
		links = append(links, specLink{URL: "/openapi/" + s.File, Name: s.Name})
		e.GET("/openapi/"+s.File, func(c echo.Context) error {
			return c.Blob(http.StatusOK, "application/yaml", data)
		})
	}
	e.GET("/openapi/specs.json", func(c echo.Context) error { return c.JSON(http.StatusOK, links) })
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openapi.Specs[0].Data)
	})

	assets, err := fs.Sub(swaggerUI, "swaggerui")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	e.GET("/docs", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/docs/") })
	index, files := echo.StaticFileHandler("index.html", assets), echo.StaticDirectoryHandler(assets, false)
	e.GET("/docs/*", func(c echo.Context) error {
		if c.Param("*") == "" {
			return index(c)
		}
		return files(c) // a missing file is echo.ErrNotFound: our JSON 404
	})
}
