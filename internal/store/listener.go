package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listener is a process's one connection that LISTENs for PostgreSQL
// notifications and hands each to its channel's handler (in order, on one
// goroutine: handlers must be quick). When the connection is lost it
// reconnects with backoff; after each LISTEN and before the first
// notification it calls onConnect, so the caller can reload what it may have
// missed while it was not listening.
type Listener struct {
	cfg       *pgx.ConnConfig
	logger    *slog.Logger
	handlers  map[string]func(payload string)
	onConnect func(ctx context.Context) error
	onLost    func() // may be nil

	connected atomic.Bool
	mu        sync.Mutex
	pid       uint32
}

// NewListener returns a Listener on the database of databaseURL (a direct
// connection: LISTEN needs a session of its own).
func NewListener(databaseURL string, logger *slog.Logger, handlers map[string]func(string), onConnect func(context.Context) error) (*Listener, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("store: the database URL of the listener cannot be parsed as a PostgreSQL connection string")
	}
	if logger == nil || len(handlers) == 0 {
		return nil, errors.New("store: NewListener needs a logger and at least one channel")
	}
	return &Listener{cfg: cfg, logger: logger, handlers: handlers, onConnect: onConnect}, nil
}

// OnLost makes f run each time a listening connection is lost (before the
// reconnect). Call it before Run.
func (l *Listener) OnLost(f func()) { l.onLost = f }

// Connected reports whether the listener is listening now.
func (l *Listener) Connected() bool { return l.connected.Load() }

// BackendPID is the server process of the listening connection (0 when not
// connected).
func (l *Listener) BackendPID() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid
}

// Run listens until ctx ends.
func (l *Listener) Run(ctx context.Context) {
	const first, most = 100 * time.Millisecond, 5 * time.Second
	wait := first
	for {
		listened, err := l.session(ctx)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if listened && l.onLost != nil {
			l.onLost()
		}
		if listened {
			wait = first
			l.logger.Warn("the listening database connection was lost; reconnecting", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// session connects, listens and handles notifications until the connection
// fails; listened tells whether it got as far as listening.
func (l *Listener) session(ctx context.Context) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		l.mu.Lock()
		l.pid = 0
		l.mu.Unlock()
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	for ch := range l.handlers {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	if l.onConnect != nil {
		if err := l.onConnect(ctx); err != nil {
			return false, fmt.Errorf("after listening: %w", err)
		}
	}
	l.mu.Lock()
	l.pid = conn.PgConn().PID()
	l.mu.Unlock()
	l.connected.Store(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if h := l.handlers[n.Channel]; h != nil {
			h(n.Payload)
		}
	}
}
