// Package live is what a server process learns from the database as it
// happens, and what it does about it: one listening connection (LISTEN)
// that hears of ended sessions and of changed users; the revocations it
// keeps, so that checking a token costs no statement; the open event
// streams, which it wakes and whose reads of the change feed it batches; and
// the notifier that announces this process's writes to every server.
//
// The handlers (internal/api) answer operations; this package is the
// machinery that outlives a request. It reads the feed only through Feed,
// a port the handlers implement.
package live

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/store"
)

// The notification channels. ChangesChannel's payload is comma-separated
// user ids whose tasks or tags changed (Notifier sends it).
// SessionEndedChannel's is "<session uuid> <unix seconds>", the session and
// when its last access token expires; the database sends it in the
// transaction that ends the session (the trigger note_session_end,
// db/migrations/000010_revocations_kept.up.sql).
// RemindersChannel's is a reminder that fired (the data of the `reminder`
// event, JSON), which the firing sends (db/queries/tasks.sql: FireReminder).
const (
	ChangesChannel      = "changes"
	SessionEndedChannel = "session_ended"
	RemindersChannel    = "reminders"
)

// Live is a process's runtime: its revocations, its event streams, the
// listener that keeps both, and the notifier of its writes.
type Live struct {
	// Revocations answers whether a session has ended: from memory while
	// the listener listens, from the database while it does not.
	Revocations *RevocationCheck
	Streams     *Streams
	Listener    *store.Listener
	// Notifier announces this process's writes to every server.
	Notifier *Notifier
}

// Listen returns this process's runtime: the listener LISTENs on
// SessionEndedChannel and ChangesChannel at directURL (a session of its own,
// never through a transaction pooler) and, after each (re)connect, reloads
// the endings whose tokens may still be valid and wakes every stream, for
// what was missed meanwhile. Streams read the feed through feed. The caller
// runs it (Run).
func Listen(dbtx *store.DB, directURL string, logger *slog.Logger, feed Feed, o StreamOptions) (*Live, error) {
	if dbtx == nil || logger == nil || feed == nil {
		return nil, errors.New("live: Listen needs a database, a logger and the feed")
	}
	streams, err := NewStreams(feed, o)
	if err != nil {
		return nil, err
	}
	q := db.New(dbtx)
	revs := &revocationFeed{q: q, set: auth.NewRevocations(store.RevocationMargin, time.Now), streams: streams}
	l, err := store.NewListener(directURL, logger, map[string]func(string){
		SessionEndedChannel: revs.notify,
		ChangesChannel:      streams.UsersChanged,
		RemindersChannel:    streams.Reminded,
	}, func(ctx context.Context) error {
		defer streams.WakeAll()
		return revs.reload(ctx)
	})
	if err != nil {
		return nil, err
	}
	// A process that cannot hear notifications cannot keep its streams
	// (their wakes, their sessions' endings): it ends them, so their
	// clients reconnect, to a replica that listens when there is one, and
	// opens no new one until it listens again.
	streams.listening = l.Connected
	l.OnLost(streams.EndAll)
	check := &RevocationCheck{set: revs.set, listening: l.Connected, q: q}
	return &Live{Revocations: check, Streams: streams, Listener: l, Notifier: NewNotifier(dbtx, logger)}, nil
}

// Run listens and notifies until ctx ends; the notifier's last writes are
// announced before it returns.
func (l *Live) Run(ctx context.Context) {
	listened := make(chan struct{})
	go func() { l.Listener.Run(ctx); close(listened) }()
	l.Notifier.Run(ctx)
	<-listened
}
