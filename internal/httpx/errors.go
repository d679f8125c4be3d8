package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/store"
)

// errorBody is the only error body this service sends (ErrorResponse in
// openapi/*.yaml).
type errorBody struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
}

// bearerRouteKey marks, in the echo.Context, a request to a Bearer-protected
// route, whose 401s carry WWW-Authenticate.
const bearerRouteKey = "todo-api.bearer-route"

// retryAfterUnavailable is the Retry-After of a 503, in seconds: long enough
// for a busy pool to drain, short enough to notice a database that is back.
const retryAfterUnavailable = "2"

// errorHandler renders every error: those our handlers return, Echo's own
// (404, 405, 413, binder 400s), validation failures and recovered panics.
// It does not log: the request logger writes one line per request, with the
// cause of a 5xx.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		e := toAppError(err)
		for k, v := range e.Header {
			c.Response().Header().Set(k, v)
		}
		switch {
		case e.Status == http.StatusUnauthorized && c.Get(bearerRouteKey) == true:
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, "Bearer")
		case e.Status == http.StatusServiceUnavailable && e.Header[echo.HeaderRetryAfter] == "":
			c.Response().Header().Set(echo.HeaderRetryAfter, retryAfterUnavailable)
		}
		// A HEAD's body is dropped by headAsGet: its headers stay the GET's.
		if werr := c.JSON(e.Status, errorBody{Detail: e.Detail, Code: e.Code, Field: e.Field}); werr != nil {
			logger.WarnContext(c.Request().Context(), "writing error response failed", "request_id", requestID(c), "error", werr)
		}
	}
}

// toAppError maps any error to the contract's error. Unknown errors become
// 500 INTERNAL_ERROR (never leaking their text); an unreachable database
// becomes 503 SERVICE_UNAVAILABLE.
func toAppError(err error) *apperr.Error {
	if e := apperr.As(err); e != nil {
		return e
	}
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return fromHTTPError(he)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this, but don't call it a 500.
		return &apperr.Error{Status: 499, Code: "CLIENT_CLOSED_REQUEST", Detail: "Client closed the request"}
	case errors.Is(err, context.DeadlineExceeded), store.Unavailable(err):
		// The request's time ran out waiting for the database (or a bcrypt
		// slot), the pool had no connection in time, or the database is down.
		return apperr.ServiceUnavailable
	case store.InvalidData(err):
		return apperr.Validation("The request contains a value that cannot be stored, such as a NUL character", "")
	}
	return apperr.Internal
}

func fromHTTPError(he *echo.HTTPError) *apperr.Error {
	switch he.Code {
	case http.StatusNotFound:
		return apperr.NotFound
	case http.StatusMethodNotAllowed:
		return apperr.MethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return apperr.PayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return apperr.UnsupportedMediaType
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return bindError(he)
	case http.StatusServiceUnavailable:
		return apperr.ServiceUnavailable
	}
	if he.Code >= 500 {
		return apperr.Internal
	}
	// Any other 4xx Echo may raise: its status text as a code (403 FORBIDDEN).
	return &apperr.Error{Status: he.Code, Code: machineCode(http.StatusText(he.Code)), Detail: httpErrorMessage(he)}
}

// bindError is the contract's 422 for a 400 of Echo's binder or of a
// generated wrapper: a body the strict handler cannot decode into its Go
// type (a member repeated with another type slips past the validator,
// which sees only the last), a parameter it cannot convert. It speaks of
// the request: Go's type names, offsets and conversion errors stay out.
func bindError(he *echo.HTTPError) *apperr.Error {
	var ute *json.UnmarshalTypeError
	if errors.As(he.Internal, &ute) {
		return apperr.Validation(describe(ute.Field, wantedJSON(ute)), ute.Field)
	}
	msg := httpErrorMessage(he)
	if rest, ok := strings.CutPrefix(msg, "Invalid format for parameter "); ok {
		if name, _, ok := strings.Cut(rest, ":"); ok {
			return apperr.Validation(name+": value is not valid", name)
		}
	}
	if he.Internal != nil { // a Go error's text
		return apperr.Validation("Request body does not match the operation's schema", "")
	}
	return apperr.Validation(msg, "") // the generator's own words ("Expected one value for If-Match, got 2")
}

// wantedJSON says what the JSON value should have been, from the Go type
// it was to be decoded into.
func wantedJSON(ute *json.UnmarshalTypeError) string {
	t := ute.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	number := strings.HasPrefix(ute.Value, "number")
	switch t.Kind() {
	case reflect.String:
		return "value must be a string"
	case reflect.Bool:
		return "value must be a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "value must be an integer in range"
	case reflect.Float32, reflect.Float64:
		if number {
			return "number is out of range"
		}
		return "value must be a number"
	case reflect.Slice, reflect.Array:
		return "value must be an array"
	case reflect.Struct, reflect.Map:
		return "value must be an object"
	}
	return "value is not of the expected type"
}

// machineCode turns "I'm a teapot" into IM_A_TEAPOT.
func machineCode(text string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ':
			return '_'
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return r
		}
		return -1
	}, text)
}

func httpErrorMessage(he *echo.HTTPError) string {
	if s, ok := he.Message.(string); ok && s != "" {
		return s
	}
	if he.Message != nil {
		return fmt.Sprint(he.Message)
	}
	return http.StatusText(he.Code)
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
