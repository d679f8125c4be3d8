package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Monitor watches the outcome of every statement and connection attempt of
// a pool (it is a pgx tracer) and logs a database outage twice: once at ERROR
// when it starts and once at INFO when the database answers again. Requests
// failing in between are not logged here; each has its own request line.
type Monitor struct {
	logger *slog.Logger
	now    func() time.Time

	down  atomic.Bool // read on every statement without the lock
	mu    sync.Mutex
	since time.Time
}

var (
	_ pgx.QueryTracer   = (*Monitor)(nil)
	_ pgx.ConnectTracer = (*Monitor)(nil)
)

// NewMonitor returns a Monitor that logs to logger.
func NewMonitor(logger *slog.Logger, now func() time.Time) (*Monitor, error) {
	if logger == nil || now == nil {
		return nil, errors.New("store: NewMonitor needs a logger and a clock")
	}
	return &Monitor{logger: logger, now: now}, nil
}

// Down reports whether the last attempt to reach the database failed.
func (m *Monitor) Down() bool { return m.down.Load() }

// TraceQueryStart is part of pgx.QueryTracer.
func (m *Monitor) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd is part of pgx.QueryTracer.
func (m *Monitor) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	m.observe(d.Err)
}

// TraceConnectStart is part of pgx.ConnectTracer.
func (m *Monitor) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

// TraceConnectEnd is part of pgx.ConnectTracer.
func (m *Monitor) TraceConnectEnd(_ context.Context, d pgx.TraceConnectEndData) { m.observe(d.Err) }

func (m *Monitor) observe(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // the caller gave up: this says nothing about the database
	}
	failed := connectionFailed(err)
	if failed == m.down.Load() {
		return // the common case, without the lock
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if failed == m.down.Load() {
		return
	}
	now := m.now()
	if failed {
		m.since = now
		m.logger.Error("database unavailable: requests get 503 until it answers again", "error", err)
	} else {
		m.logger.Info("database available again", "down_for", now.Sub(m.since).Round(time.Millisecond).String())
	}
	m.down.Store(failed)
}
