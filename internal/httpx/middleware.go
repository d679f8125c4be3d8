package httpx

import (
	"context"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/api"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/metrics"
)

// Notifier hears of the users whose data changed (live.Notifier).
type Notifier interface {
	Changed(user uuid.UUID)
}

// notifyWrites is the strict-handler middleware of the tasks API that tells
// n the user of every write that succeeded (any method but GET answered
// without an error: its transaction has committed).
func notifyWrites(n Notifier) tasksapi.StrictMiddlewareFunc {
	return func(next tasksapi.StrictHandlerFunc, _ string) tasksapi.StrictHandlerFunc {
		return func(c echo.Context, request any) (any, error) {
			resp, err := next(c, request)
			if err == nil && c.Request().Method != http.MethodGet {
				if uid, ok := auth.UserID(c.Request().Context()); ok {
					n.Changed(uid)
				}
			}
			return resp, err
		}
	}
}

// Revocations tells whether a session has ended (live.RevocationCheck).
type Revocations interface {
	// Revoked reports whether session sid has ended; an error: it cannot
	// tell, and the request answers 503.
	Revoked(ctx context.Context, sid uuid.UUID) (bool, error)
	// Listening reports whether endings are heard as they happen; when not,
	// the replica is not ready.
	Listening() bool
}

// bearerAuth requires a valid access token of a session that has not ended
// and puts its user and session in the request's context, where the strict
// handlers can read them. Ended sessions are looked up in memory while the
// process hears of them (checking a token costs no statement), in the
// database while it does not.
func bearerAuth(tokens *auth.Tokens, revocations Revocations) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(bearerRouteKey, true)
			token, err := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
			if err != nil {
				return err
			}
			claims, err := tokens.Verify(token, auth.Access)
			if err != nil {
				return api.TokenError(err, auth.Access)
			}
			id, err := claims.UserID()
			if err != nil {
				return apperr.InvalidToken
			}
			sid, hasSession := claims.AccessSession()
			if hasSession {
				revoked, err := revocations.Revoked(c.Request().Context(), sid)
				switch {
				case err != nil:
					return err
				case revoked:
					return apperr.InvalidToken
				}
			}
			var expires time.Time
			if claims.ExpiresAt != nil {
				expires = claims.ExpiresAt.Time
			}
			r := c.Request()
			c.SetRequest(r.WithContext(auth.WithUser(r.Context(), id, sid, hasSession, expires)))
			return next(c)
		}
	}
}

// bearerToken extracts the token of an `Authorization: Bearer <token>` header.
func bearerToken(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", apperr.MissingToken
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", apperr.InvalidToken
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", apperr.MissingToken
	}
	return token, nil
}

// endConnections closes a request's connection after its response when the
// connection cannot go on: a request framed both by Content-Length and by
// Transfer-Encoding is refused (400) before anything reads its body, and
// what follows it is never read; one whose framing could not be followed
// (framing.go) is served, then its connection ends. A response written
// while draining reports true (the shutdown delay), whenever its request
// began, ends its connection: a proxy that keeps connections to this
// server reuses each once more at most and is then told to let it go, so
// none is left idle for the drain to close just as the proxy sends a
// request on it.
func endConnections(draining func() bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch framingOf(c.Request()) {
			case ambiguous:
				return apperr.AmbiguousLength.WithHeader(echo.HeaderConnection, "close")
			case unfollowed:
				c.Response().Header().Set(echo.HeaderConnection, "close")
			}
			if draining != nil {
				res := c.Response()
				res.Before(func() {
					if draining() {
						res.Header().Set(echo.HeaderConnection, "close")
					}
				})
			}
			return next(c)
		}
	}
}

// noStore keeps tokens and user data out of shared and browser caches.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if strings.HasPrefix(c.Request().URL.Path, BasePath+"/") {
			c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}

// normaliseMediaType rewrites a request's Content-Type in its canonical form
// (type, subtype and parameter names in lower case): media types are
// case-insensitive (RFC 9110 8.3.1), but the validator and Echo's binder
// compare them as written. One that does not parse is left for the
// validator's 415.
func normaliseMediaType(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if ct := h.Get(echo.HeaderContentType); ct != "" {
			if mt, params, err := mime.ParseMediaType(ct); err == nil {
				h.Set(echo.HeaderContentType, mime.FormatMediaType(mt, params))
			}
		}
		return next(c)
	}
}

// securityHeaders go on every response, errors and documentation included:
// browsers must not guess another content type than the one sent.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderXContentTypeOptions, "nosniff")
		return next(c)
	}
}

// deadline bounds the work of a request: when d passes, whatever it waits
// for (a connection, a statement, a bcrypt slot) returns the context's error,
// which answers 503 SERVICE_UNAVAILABLE while the server can still write.
// Streams (operations in streams) are long-lived: each statement they run
// has the database's statement timeout, and each write its own deadline.
func deadline(d time.Duration, ops operations, streams map[string]bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if streams[ops.of(c.Request().Method, c.Path())] {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// observeRequests logs one line per request and records it in the metrics.
// The line has request_id, operation (the spec's operationId), status,
// duration_ms, user_id when authenticated and trace_id when the request
// carries a W3C traceparent; never headers, bodies or query strings, so
// tokens, passwords and cookies never reach the log. What the client chose
// goes in bounded: the method as one of the standard methods or OTHER (the
// metrics' label too), the path cut at maxLoggedPath bytes.
func observeRequests(logger *slog.Logger, m *metrics.Metrics, ops operations) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogURIPath: true, LogLatency: true,
		LogRequestID: true, LogRemoteIP: true, LogResponseSize: true, LogError: true,
		HandleError: true, // the status is the one our error handler wrote
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			op := ops.of(v.Method, c.Path())
			method := methodLabel(v.Method)
			if asHead(c.Request()) { // answered as its GET, which the operation is
				method, v.ResponseSize = http.MethodHead, 0
			}
			m.Request(op, method, v.Status, v.Latency)
			if v.Status == http.StatusTooManyRequests {
				m.RateLimited(op)
			}
			if op == "loginUser" {
				m.Login(loginResult(v.Status))
			}
			attrs := []slog.Attr{
				slog.String("request_id", v.RequestID),
				slog.String("operation", op),
				slog.String("method", method),
				slog.String("path", truncate(v.URIPath, maxLoggedPath)),
				slog.Int("status", v.Status),
				slog.Float64("duration_ms", float64(v.Latency.Microseconds())/1000),
				slog.Int64("bytes", v.ResponseSize),
				slog.String("ip", v.RemoteIP),
			}
			if uid, ok := auth.UserID(c.Request().Context()); ok {
				attrs = append(attrs, slog.String("user_id", uid.String()))
			}
			if tid := traceID(c.Request().Header.Get("traceparent")); tid != "" {
				attrs = append(attrs, slog.String("trace_id", tid))
			}
			level := slog.LevelInfo
			switch {
			case v.Status == http.StatusServiceUnavailable:
				// An outage is logged once by the database monitor; each
				// request it fails is a warning here.
				level = slog.LevelWarn
			case v.Status >= 500:
				level = slog.LevelError
			}
			if v.Status >= 500 && v.Error != nil {
				// The one line of a failed request carries its cause (never
				// sent to the client).
				attrs = append(attrs, slog.String("error", truncate(v.Error.Error(), maxLoggedError)))
			}
			logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// Bounds of what a log line takes from a request: a path, the cause of a
// 5xx (which may quote the request).
const (
	maxLoggedPath  = 256
	maxLoggedError = 512
)

// methodLabel is method when it is one of HTTP's standard methods, else
// OTHER: a client may send any token as a method, and the metrics and the
// log keep one value for all of them.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// truncate cuts s to at most n bytes, at a character boundary, marking the
// cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// maxRequestIDLength bounds a request id taken from the request.
const maxRequestIDLength = 64

// plainRequestID keeps a client's or a proxy's X-Request-Id, which the log
// and the response repeat, only when it is 1-64 letters, digits and
// "-_.:"; any other is dropped and the server makes its own.
func plainRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !isPlainID(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

func isPlainID(id string) bool {
	if len(id) > maxRequestIDLength {
		return false
	}
	for _, r := range id {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune("-_.:", r):
		default:
			return false
		}
	}
	return true
}

func loginResult(status int) string {
	switch {
	case status == http.StatusOK:
		return "success"
	case status == http.StatusUnauthorized:
		return "invalid_credentials"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status >= 500:
		return "error"
	}
	return "invalid_request"
}

// traceID is the trace id of a W3C traceparent header
// (00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>), or "".
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return ""
	}
	id := parts[1]
	if strings.Trim(id, "0") == "" || strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" {
		return ""
	}
	return strings.ToLower(id)
}

// operations maps a route to its operationId.
type operations map[route]string

// route is a method and an Echo path; a struct key, so that a lookup on
// every request builds no string.
type route struct{ method, path string }

// has reports whether id is the operationId of one of the operations.
func (o operations) has(id string) bool {
	for _, op := range o {
		if op == id {
			return true
		}
	}
	return false
}

func (o operations) of(method, path string) string {
	if id, ok := o[route{method, path}]; ok {
		return id
	}
	return metrics.Unknown
}

// operationsOf lists every operation of the specs by its Echo route.
func operationsOf(specs ...*openapi3.T) operations {
	out := operations{}
	for _, spec := range specs {
		for path, item := range spec.Paths.Map() {
			echoPath := BasePath + strings.NewReplacer("{", ":", "}", "").Replace(path)
			for method, op := range item.Operations() {
				out[route{method, echoPath}] = op.OperationID
			}
		}
	}
	out[route{http.MethodPost, MCPPath}] = "mcp" // not an operation of the spec, but one label
	return out
}

// streamingOperations lists the operationIds whose success is a
// text/event-stream.
func streamingOperations(specs ...*openapi3.T) map[string]bool {
	ids := map[string]bool{}
	for _, spec := range specs {
		for _, item := range spec.Paths.Map() {
			for _, op := range item.Operations() {
				if r := op.Responses.Status(http.StatusOK); r != nil && r.Value != nil && r.Value.Content.Get("text/event-stream") != nil {
					ids[op.OperationID] = true
				}
			}
		}
	}
	return ids
}

// ipExtractor takes the client IP from the TCP peer, or from X-Forwarded-For
// when the peer is one of the trusted proxies.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
