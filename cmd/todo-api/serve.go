package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todoapp/todo-api/internal/api"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/config"
	"github.com/todoapp/todo-api/internal/events"
	"github.com/todoapp/todo-api/internal/httpx"
	"github.com/todoapp/todo-api/internal/live"
	"github.com/todoapp/todo-api/internal/metrics"
	"github.com/todoapp/todo-api/internal/store"
)

// maxRateLimitKeys bounds each rate limiter's table (about 100 bytes a key).
const maxRateLimitKeys = 100_000

// serve runs the HTTP server until ctx is cancelled, then drains in-flight
// requests. Configuration errors stop it before anything listens.
func serve(ctx context.Context, stdout io.Writer, listening chan<- string) error {
	cfg, warnings, err := config.Load()
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(stdout, cfg)
	for _, w := range warnings {
		logger.Warn(w)
	}
	tuneGC(os.Getenv)

	monitor, err := store.NewMonitor(logger, time.Now)
	if err != nil {
		return err
	}
	pool, err := store.NewPool(ctx, cfg.DatabaseURL, store.PoolOptions{
		MinConns: cfg.DBPoolMin, MaxConns: cfg.DBPoolMax,
		MaxConnLifetime: cfg.DBPoolRecycle, ConnectTimeout: cfg.DBConnectionTimeout,
		StatementTimeout: cfg.DBStatementTimeout, Tracer: monitor, TransactionPooler: cfg.TransactionPooler,
	})
	if err != nil {
		return err
	}
	defer pool.Close()
	checkSchema(ctx, logger, pool)
	if cfg.TransactionPooler {
		checkPooledTimeout(ctx, logger, pool)
	}
	database, err := store.NewDB(pool, cfg.DBConnectionTimeout)
	if err != nil {
		return err
	}

	// bcrypt runs on one worker a core, each on a thread at idle priority
	// (auth.Hasher): a flood of logins gets every cycle the other requests
	// leave, and they keep their latency. Where the system refuses idle
	// priority, bcrypt gets all cores but one at normal priority, which keeps
	// /auth/me's tail short during a flood of logins (docs/performance.md).
	cores := runtime.GOMAXPROCS(0)
	hasher, err := auth.NewHasher(cfg.BcryptCost, cores)
	if err != nil {
		return err
	}
	if !hasher.Idle() {
		logger.Warn("bcrypt workers run at normal priority: the system refused SCHED_IDLE")
		hasher.Close()
		if hasher, err = auth.NewHasher(cfg.BcryptCost, max(1, cores-1)); err != nil {
			return err
		}
	}
	defer hasher.Close()
	tokens, err := auth.NewTokens(cfg.JWTSecret, cfg.AccessTokenTTL, cfg.RefreshTokenTTL, time.Now)
	if err != nil {
		return err
	}
	authH, err := api.NewAuthHandler(database, hasher, tokens, cfg.CookieSecure, cfg.RefreshReuseGrace, time.Now)
	if err != nil {
		return err
	}
	// Ended sessions and changes, learnt from the database as they happen.
	feed, err := api.NewFeed(database)
	if err != nil {
		return err
	}
	rt, err := live.Listen(database, cfg.DatabaseDirectURL, logger, feed,
		live.StreamOptions{PerUser: cfg.EventStreamsPerUser, Max: cfg.EventStreamsMax})
	if err != nil {
		return err
	}
	lctx, stopListening := context.WithCancel(context.Background())
	defer stopListening()
	ran := make(chan struct{})
	go func() { rt.Run(lctx); close(ran) }()
	defer func() { stopListening(); <-ran }() // the last writes are announced
	waitListening(ctx, logger, rt.Listener, cfg.DBConnectionTimeout)

	tasksH, err := api.NewTasksHandler(database, rt.Streams, time.Now)
	if err != nil {
		return err
	}
	m := metrics.New(pool, hasher.Waiting)
	bg, err := newBackground(cfg, pool, logger, m)
	if err != nil {
		return err
	}
	tasksH.SetWebhooks(api.WebhookOptions{AllowHTTP: cfg.WebhookAllowHTTP, AllowPrivate: cfg.WebhookAllowPrivate, Enqueue: bg.hooks.Enqueue})
	tasksH.SetReminders(bg.reminders)
	hasher.ObserveWaits(m.BcryptWait)
	authH.OnRefreshReuse(m.RefreshReuse)
	m.ObserveStreams(rt.Streams.Open)

	var draining atomic.Bool
	rateCounts := store.NewRateCounts(database)
	e, err := httpx.NewServer(httpx.Deps{
		Logger: logger, Pool: pool, Monitor: monitor, RequestTimeout: cfg.RequestTimeout(),
		Tokens: tokens, Revocations: rt.Revocations, Metrics: m, Draining: draining.Load, Auth: authH, Tasks: tasksH, Notifier: rt.Notifier,
		SharedLimits: rateCounts,
		RateLimits: httpx.RateLimits(httpx.RateLimitOptions{Auth: cfg.AuthRateLimit, Refresh: cfg.RefreshRateLimit,
			Window: cfg.AuthRateWindow, MaxKeys: maxRateLimitKeys}, time.Now),
		CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w (set PORT to a free port)", cfg.Port, err)
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.WriteTimeout(),
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Event streams never go idle: the drain ends them, and their clients
	// reconnect to another replica.
	srv.RegisterOnShutdown(rt.Streams.Shutdown)
	logger.Info("listening", "addr", ln.Addr().String(), "docs", fmt.Sprintf("http://localhost:%d/docs", cfg.Port))
	if listening != nil {
		listening <- ln.Addr().String()
	}

	stopMetrics, err := serveMetrics(logger, cfg.MetricsAddr, m)
	if err != nil {
		return err
	}
	defer stopMetrics()

	retention, err := store.NewRetention(database, store.RetentionOptions{ChangesKept: cfg.ChangesRetention, RateWindow: cfg.AuthRateWindow}, time.Now)
	if err != nil {
		return err
	}
	go retention.Run(ctx, logger)
	m.ObserveOutbox(events.Pending(pool))
	// The relay outlives the drain: the last requests' events are published.
	rctx, stopRelay := context.WithCancel(context.Background())
	defer stopRelay()
	waitRelay := runRelay(rctx, newRelay(cfg, bg.hooks, logger, m))
	defer func() { stopRelay(); waitRelay() }()
	stopRiver := runRiver(bg.river, logger, cfg.DBConnectionTimeout)
	defer func() { // a delivery in flight finishes, or is retried by another replica
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		stopRiver(sctx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpx.Serve(srv, ln) }()

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// Readiness fails first, while requests are still served, so the load
	// balancer stops sending new ones before the listener closes; and every
	// response says Connection: close (httpx.Deps.Draining), so a proxy's
	// kept connections go one by one, each after a response. Not
	// srv.SetKeepAlivesEnabled(false): it closes the idle connections at
	// once, which is the race with a proxy reusing one that this avoids.
	draining.Store(true)
	logger.Info("shutting down: not ready, still serving", "delay", cfg.ShutdownDelay.String())
	time.Sleep(cfg.ShutdownDelay)
	logger.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// checkSchema warns when the database is behind the migrations this binary
// ships. It never migrates: that is `todo-api migrate up`.
func checkSchema(ctx context.Context, logger *slog.Logger, pool *pgxpool.Pool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	latest, err := store.LatestVersion()
	if err != nil {
		logger.Warn("cannot read the embedded migrations", "error", err)
		return
	}
	v, dirty, err := store.SchemaVersion(ctx, pool)
	switch {
	case err != nil:
		logger.Warn("database unreachable at start; serving anyway, /readyz reports 503 until it is back", "error", err)
	case dirty:
		logger.Warn("database schema is dirty: a migration failed half-way; fix it, then run todo-api migrate", "version", v)
	case v < latest:
		logger.Warn("database schema is behind this binary; run: todo-api migrate up", "version", v, "latest", latest)
	case v > latest:
		logger.Warn("database schema is newer than this binary", "version", v, "latest", latest)
	}
}

// waitListening waits (at most timeout) until the listener for ended
// sessions and changes has connected and loaded the recent endings, so that the first
// requests already refuse their tokens. A database that cannot be reached
// does not stop the start: the listener keeps trying.
func waitListening(ctx context.Context, logger *slog.Logger, l *store.Listener, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for !l.Connected() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			logger.Warn("not listening for ended sessions yet; the listener keeps trying")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveMetrics serves GET /metrics on addr ("" : not at all) until the
// returned stop is called.
func serveMetrics(logger *slog.Logger, addr string, m *metrics.Metrics) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w (set METRICS_ADDR to a free address, or empty to turn metrics off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	logger.Info("metrics", "addr", ln.Addr().String())
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// checkPooledTimeout warns when, through a transaction pooler (which refuses
// the statement_timeout the server would set at connect), the database's
// sessions have no statement timeout of their own.
func checkPooledTimeout(ctx context.Context, logger *slog.Logger, pool *pgxpool.Pool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var timeout string
	if err := pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil {
		return // unreachable now: /readyz says so
	}
	if timeout == "0" {
		logger.Warn("DB_TRANSACTION_POOLER=true: the pooler cannot carry DB_STATEMENT_TIMEOUT, and the database sets none; " +
			"set it on the role: ALTER ROLE <user> SET statement_timeout = '10s'")
	}
}

// GC defaults of the server, for what the environment does not set (GOGC,
// GOMEMLIMIT: the Go runtime's own variables). The live heap is small (about
// 10 MB; 30 KB more per open event stream), so the default GOGC=100
// collected every few megabytes; collecting less often bought throughput at
// a few MB of peak RSS (docs/performance.md). The soft limit keeps memory
// bounded where the live heap grows (many streams): near 64 MiB the
// collector runs as often as it must. Raise GOMEMLIMIT with the memory the
// server may use (the Helm chart sets it from the container's limit).
const (
	defaultGOGC       = 400
	defaultMemoryGoal = 64 << 20
)

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryGoal)
	}
}
