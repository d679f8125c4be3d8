package httpx

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/oasdiff/yaml"

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

// docs is what the server publishes about itself: each spec as written, the
// whole API as one document (YAML and JSON), and Swagger UI over them.
type docs struct {
	links      []specLink
	mergedJSON []byte
	mergedYAML []byte
	assets     fs.FS
}

func newDocs() (*docs, error) {
	merged, err := openapi.Merged()
	if err != nil {
		return nil, fmt.Errorf("httpx: %w", err)
	}
	d := &docs{}
	if d.mergedJSON, err = merged.MarshalJSON(); err != nil {
		return nil, err
	}
	if d.mergedYAML, err = yaml.JSONToYAML(d.mergedJSON); err != nil {
		return nil, err
	}
	if d.assets, err = fs.Sub(swaggerUI, "swaggerui"); err != nil {
		return nil, err
	}
	d.links = append(d.links, specLink{URL: "/openapi.yaml", Name: "Todo API (all operations)"})
	for _, s := range openapi.Specs {
		d.links = append(d.links, specLink{URL: "/openapi/" + s.File, Name: s.Name})
	}
	return d, nil
}

func (d *docs) register(e *echo.Echo) {
	for _, s := range openapi.Specs {
		data := s.Data
		e.GET("/openapi/"+s.File, func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", data) })
	}
	e.GET("/openapi/specs.json", func(c echo.Context) error { return c.JSON(http.StatusOK, d.links) })
	e.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", d.mergedYAML) })
	e.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, d.mergedJSON) })

	e.GET("/docs", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/docs/") })
	index, files := echo.StaticFileHandler("index.html", d.assets), echo.StaticDirectoryHandler(d.assets, false)
	e.GET("/docs/*", func(c echo.Context) error {
		if c.Param("*") == "" {
			return index(c)
		}
		return files(c) // a missing file is echo.ErrNotFound: our JSON 404
	})
}
