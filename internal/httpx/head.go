package httpx

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
)

// headAsGet answers HEAD wherever GET is answered (RFC 9110 9.3.2): e serves
// the request again as a GET, through every middleware (authentication,
// validation, 405 where there is no GET), and the body is dropped, so the
// status and headers are the GET's. net/http still sees the HEAD, so it
// sends no body nor a length of its own. The GET's context ends once its
// header is written: a stream (GET /events) ends there instead of running
// for nobody.
func headAsGet(e *echo.Echo) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method != http.MethodHead {
				return next(c)
			}
			ctx, cancel := context.WithCancel(context.WithValue(r.Context(), headKey{}, true))
			defer cancel()
			get := r.WithContext(ctx)
			get.Method = http.MethodGet
			e.ServeHTTP(&headWriter{ResponseWriter: c.Response().Writer, cancel: cancel}, get)
			return nil
		}
	}
}

type headKey struct{}

// asHead reports whether r is the GET that answers a HEAD.
func asHead(r *http.Request) bool { return r.Context().Value(headKey{}) == true }

// headWriter passes a response's header on and drops its body. Flushes and
// deadlines reach the connection through Unwrap.
type headWriter struct {
	http.ResponseWriter
	cancel context.CancelFunc
}

func (w *headWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	w.cancel()
}

func (w *headWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
