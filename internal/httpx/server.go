// Package httpx assembles the HTTP server: middleware order, CORS, rate
// limits, authentication, request validation, error rendering and routes.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/todoapp/todo-api/gen/authapi"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/api"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/mcpapi"
	"github.com/todoapp/todo-api/internal/metrics"
	"github.com/todoapp/todo-api/internal/store"
	"github.com/todoapp/todo-api/openapi"
)

// BasePath is where the API lives.
const BasePath = "/api/v1"

// MCPPath is where AI agents reach the API's MCP tools (Streamable HTTP).
const MCPPath = "/mcp"

// mcpCaller passes what the router knows of an MCP request's client to the
// requests its tool calls make (internal/mcpapi.Local): its address and the
// request id, so their logs and limits see that client. Whatever the client
// sent in these headers is replaced.
func mcpCaller(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		h.Set(mcpapi.ClientHeader, c.RealIP())
		if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
			h.Set(echo.HeaderXRequestID, id)
		}
		return next(c)
	}
}

// contractErrors gives the errors h answers in plain text (the MCP
// transport's own: a wrong Content-Type or Accept header, a batch, malformed
// JSON) the contract's JSON body, as every error of this server has.
func contractErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&plainErrors{ResponseWriter: w}, r)
	})
}

// plainErrors rewrites a plain-text error response as the contract's JSON.
type plainErrors struct {
	http.ResponseWriter
	status  int
	rewrite bool
}

func (p *plainErrors) WriteHeader(status int) {
	if p.status != 0 {
		return
	}
	p.status = status
	ct := p.Header().Get(echo.HeaderContentType)
	if status >= 400 && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		p.rewrite = true
		p.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		p.Header().Del(echo.HeaderContentLength)
	}
	p.ResponseWriter.WriteHeader(status)
}

func (p *plainErrors) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if !p.rewrite {
		return p.ResponseWriter.Write(b)
	}
	code := map[int]string{http.StatusBadRequest: "BAD_REQUEST", http.StatusUnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
		http.StatusNotAcceptable: "NOT_ACCEPTABLE", http.StatusForbidden: "FORBIDDEN", http.StatusRequestEntityTooLarge: "PAYLOAD_TOO_LARGE",
		http.StatusMethodNotAllowed: "METHOD_NOT_ALLOWED"}[p.status]
	if code == "" {
		code = "BAD_REQUEST"
	}
	body, _ := json.Marshal(map[string]string{"detail": strings.TrimSpace(string(b)), "code": code})
	if _, err := p.ResponseWriter.Write(body); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *plainErrors) Flush() {
	if f, ok := p.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// openapiVersion is the contract's version, which the MCP server reports.
func openapiVersion(spec *openapi3.T) string {
	if spec.Info != nil && spec.Info.Version != "" {
		return spec.Info.Version
	}
	return "dev"
}

// MaxBodyBytes is the largest request body accepted (413 above).
const MaxBodyBytes = 1 << 20

// Deps is everything the server needs. RateLimits maps an operationId to its
// limiter; an operation without one (or with nil) is not limited.
// RequestTimeout bounds each request's work (waits for a connection,
// statements, the bcrypt queue): past it the request answers 503, so it must
// be shorter than the HTTP server's write timeout.
type Deps struct {
	Logger         *slog.Logger
	Pool           *pgxpool.Pool
	Monitor        *store.Monitor
	RequestTimeout time.Duration
	Tokens         *auth.Tokens
	Revocations    Revocations
	Metrics        *metrics.Metrics
	// SharedLimits, when not nil, counts the rate limits for every replica
	// (store.RateCounts); RateLimits stays each process's first line.
	SharedLimits SharedCounts
	// Draining, when it reports true, makes /readyz answer 503 while the
	// server still serves (the SHUTDOWN_DELAY before a drain), every
	// response with Connection: close. May be nil.
	Draining func() bool
	Auth     *api.AuthHandler
	Tasks    *api.TasksHandler
	// Notifier hears of every write of the tasks API that succeeded
	// (live.Notifier).
	Notifier       Notifier
	RateLimits     map[string]*RateLimiter
	CORSOrigins    []string
	TrustedProxies []*net.IPNet
}

// NewServer returns the service's Echo instance, every route registered.
func NewServer(d Deps) (*echo.Echo, error) {
	if d.Logger == nil || d.Pool == nil || d.Monitor == nil || d.Tokens == nil || d.Revocations == nil || d.Metrics == nil ||
		d.Auth == nil || d.Tasks == nil || d.Notifier == nil {
		return nil, errors.New("httpx: NewServer needs a logger, pool, monitor, tokens, revocations, metrics, both API handlers and the notifier")
	}
	if d.RequestTimeout <= 0 {
		return nil, errors.New("httpx: NewServer needs a positive request timeout")
	}
	// The specs as written, not the generator's embedded copies, whose
	// operationIds are normalised and no longer match the route options.
	authSpec, err := openapi.Auth.Parsed()
	if err != nil {
		return nil, fmt.Errorf("httpx: load auth spec: %w", err)
	}
	tasksSpec, err := openapi.Tasks.Parsed()
	if err != nil {
		return nil, fmt.Errorf("httpx: load tasks spec: %w", err)
	}
	docs, err := newDocs()
	if err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	e.Pre(headAsGet(e))

	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			d.Logger.ErrorContext(c.Request().Context(), "panic", "request_id", requestID(c), "error", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(plainRequestID, middleware.RequestID())
	ops := operationsOf(authSpec, tasksSpec)
	e.Use(observeRequests(d.Logger, d.Metrics, ops))
	e.Use(endConnections(d.Draining))
	e.Use(securityHeaders)
	e.Use(normaliseMediaType)
	e.Use(deadline(d.RequestTimeout, ops, streamingOperations(authSpec, tasksSpec)))
	e.Use(middleware.BodyLimit(fmt.Sprintf("%dB", MaxBodyBytes)))
	e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:     d.CORSOrigins,
		AllowCredentials: true,
		AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowHeaders: []string{echo.HeaderContentType, echo.HeaderAuthorization, "If-Match", "If-None-Match",
			"Idempotency-Key", "Last-Event-ID"},
		ExposeHeaders: []string{echo.HeaderRetryAfter, echo.HeaderXRequestID, echo.HeaderWWWAuthenticate, "ETag",
			"Idempotent-Replayed"},
		MaxAge: 600,
	}))

	for _, spec := range []*openapi3.T{authSpec, tasksSpec} {
		if err := checkErrorCodes(spec); err != nil {
			return nil, fmt.Errorf("httpx: %w", err)
		}
	}
	for op := range d.RateLimits {
		if !ops.has(op) {
			return nil, fmt.Errorf("httpx: rate limit for unknown operation %q", op)
		}
	}
	e.Use(noStore)
	authenticate := bearerAuth(d.Tokens, d.Revocations)
	// Not an echo.Group with middleware: that adds a catch-all route, which
	// would turn every 405 under the prefix into a 404.
	authapi.RegisterHandlersWithOptions(e, authapi.NewStrictHandler(d.Auth, nil), authapi.RegisterHandlersOptions{
		BaseURL:              BasePath,
		OperationMiddlewares: operationMiddlewares(authSpec, d.RateLimits, d.SharedLimits, authenticate),
	})
	tasksapi.RegisterHandlersWithOptions(e, tasksapi.NewStrictHandler(d.Tasks, []tasksapi.StrictMiddlewareFunc{notifyWrites(d.Notifier)}), tasksapi.RegisterHandlersOptions{
		BaseURL:              BasePath,
		OperationMiddlewares: operationMiddlewares(tasksSpec, d.RateLimits, d.SharedLimits, authenticate),
	})

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", readyz(d.Pool, d.Monitor, d.Draining, d.Revocations.Listening))
	docs.register(e)
	// MCP for AI agents: behind the same bearer check; each tool call is a
	// request to its route through this router (internal/mcpapi).
	// Stateless, it has no stream to GET nor session to DELETE: POST only,
	// so other methods get the router's 405 in the contract's shape.
	e.POST(MCPPath, echo.WrapHandler(contractErrors(mcpapi.Handler(mcpapi.NewServer(mcpapi.Local{Handler: e}, openapiVersion(tasksSpec))))),
		authenticate, mcpCaller)
	return e, nil
}

// operationMiddlewares gives each operation of spec, in order: its rate
// limit, Bearer authentication unless the operation is explicitly public
// (`security: []`), and request validation. Authentication comes before
// validation so an anonymous malformed request gets 401, not 422.
func operationMiddlewares(spec *openapi3.T, limits map[string]*RateLimiter, shared SharedCounts, authenticate echo.MiddlewareFunc) map[string][]echo.MiddlewareFunc {
	out := make(map[string][]echo.MiddlewareFunc)
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			var mws []echo.MiddlewareFunc
			if l := limits[op.OperationID]; l != nil {
				mws = append(mws, rateLimit(l, op.OperationID, shared))
			}
			if !IsPublic(op) {
				mws = append(mws, authenticate)
			}
			out[op.OperationID] = append(mws, validateRequest(spec, path, method, op))
		}
	}
	return out
}

// IsPublic reports whether an operation opts out of authentication with an
// explicit empty `security: []`. Everything else requires a Bearer token, so
// forgetting the security section fails closed.
func IsPublic(op *openapi3.Operation) bool {
	return op.Security != nil && len(*op.Security) == 0
}

// errPoolBusy: every connection of the pool is in use (and working).
var errPoolBusy = errors.New("pool busy")

// readyz answers 200 while the database answers and the process hears its
// notifications, and 503 otherwise. A pool whose every connection is in use
// is busy, not down: its connections are working, so the replica stays in
// rotation (taking it out would only move its load onto the others) and
// requests that cannot get a connection in time answer 503 themselves.
func readyz(pool *pgxpool.Pool, monitor *store.Monitor, draining, listening func() bool) echo.HandlerFunc {
	busy := func() bool {
		s := pool.Stat()
		return !monitor.Down() && s.AcquiredConns() >= s.MaxConns()
	}
	return func(c echo.Context) error {
		if draining != nil && draining() {
			return apperr.ServiceUnavailable.WithDetail("Shutting down")
		}
		if !listening() {
			// Tokens are still checked (against the database, per request),
			// but this replica's streams hear nothing of other replicas'
			// writes: a load balancer should prefer the others.
			return apperr.ServiceUnavailable.WithDetail("Not listening for the database's notifications")
		}
		err := errPoolBusy
		if !busy() { // a ping would only wait for a connection
			ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
			defer cancel()
			err = pool.Ping(ctx)
		}
		switch {
		case err == nil:
			return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
		case errors.Is(err, errPoolBusy), errors.Is(err, context.DeadlineExceeded) && busy():
			return c.JSON(http.StatusOK, map[string]string{"status": "ready", "pool": "busy"})
		}
		return apperr.ServiceUnavailable.WithDetail("Database is unreachable")
	}
}
