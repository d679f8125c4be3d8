package httpx

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/todoapp/todo-api/openapi"
)

// uiAssets holds the assets of Swagger UI (/docs) and ReDoc (/redoc),
// vendored by scripts/vendor-docs-ui.sh, and our page for each, so the docs
// work offline and without a CDN.
//
//go:embed swaggerui redoc
var uiAssets embed.FS

type specLink struct {
	URL  string `json:"url"`
	Name string `json:"name"`
}

// docs is what the server publishes about itself: each spec as written, the
// whole API as one document (YAML and JSON), Swagger UI over them and ReDoc
// over the whole.
type docs struct {
	links      []specLink
	mergedJSON []byte
	mergedYAML []byte
	swaggerUI  fs.FS
	redoc      fs.FS
}

func newDocs() (*docs, error) {
	d := &docs{}
	var err error
	if d.mergedJSON, err = openapi.MergedJSON(); err != nil {
		return nil, fmt.Errorf("httpx: %w", err)
	}
	if d.mergedYAML, err = openapi.MergedYAML(); err != nil {
		return nil, fmt.Errorf("httpx: %w", err)
	}
	if d.swaggerUI, err = fs.Sub(uiAssets, "swaggerui"); err != nil {
		return nil, err
	}
	if d.redoc, err = fs.Sub(uiAssets, "redoc"); err != nil {
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

	serveUI(e, "/docs", d.swaggerUI, "")
	serveUI(e, "/redoc", d.redoc, redocCSP)
}

// redocCSP keeps ReDoc to this server: its bundle would load an attribution
// logo from cdn.redoc.ly and report telemetry to redocly.com. Styles are
// inline (styled-components), search runs in a blob worker.
const redocCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
	"worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// serveUI serves the files of assets under prefix/, index.html at prefix/,
// with the Content-Security-Policy csp when it is not empty.
func serveUI(e *echo.Echo, prefix string, assets fs.FS, csp string) {
	e.GET(prefix, func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, prefix+"/") })
	index, files := echo.StaticFileHandler("index.html", assets), echo.StaticDirectoryHandler(assets, false)
	e.GET(prefix+"/*", func(c echo.Context) error {
		if csp != "" {
			c.Response().Header().Set("Content-Security-Policy", csp)
		}
		if c.Param("*") == "" {
			return index(c)
		}
		return files(c) // a missing file is echo.ErrNotFound: our JSON 404
	})
}
