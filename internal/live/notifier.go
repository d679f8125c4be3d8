package live

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/store"
)

// NotifyInterval is how long a change may wait to be announced with others.
const NotifyInterval = 10 * time.Millisecond

// maxPayloadBytes keeps a notification under PostgreSQL's 8000-byte payload
// limit.
const maxPayloadBytes = 7900

// Notifier tells every server which users' tasks and tags changed, so their
// event streams read the feed: each successful write marks its user, and
// every NotifyInterval one transaction notifies ChangesChannel with all the
// users marked, comma-separated. One notifying commit per interval, not per
// write: PostgreSQL serialises notifying commits (db/migrations/
// 000007_sync.up.sql).
type Notifier struct {
	q      *db.Queries
	logger *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]struct{}
	kick    chan struct{}
}

// NewNotifier returns a Notifier that notifies through dbtx; Run sends.
func NewNotifier(dbtx *store.DB, logger *slog.Logger) *Notifier {
	return &Notifier{q: db.New(dbtx), logger: logger, pending: map[uuid.UUID]struct{}{}, kick: make(chan struct{}, 1)}
}

// Changed marks a user whose data changed (its write has committed).
func (n *Notifier) Changed(user uuid.UUID) {
	n.mu.Lock()
	n.pending[user] = struct{}{}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run sends the notifications until ctx ends, then sends what is left.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n.flush(fctx)
			cancel()
			return
		case <-n.kick:
		}
		select { // gather the writes of the next moment into the same notification
		case <-ctx.Done():
			continue // the final flush, above
		case <-time.After(NotifyInterval):
		}
		n.flush(ctx)
	}
}

// flush sends one notification transaction for the users marked so far. On
// failure it tries twice more; streams that still miss it are woken by the
// listener's reconnect or their user's next change.
func (n *Notifier) flush(ctx context.Context) {
	n.mu.Lock()
	users := n.pending
	n.pending = map[uuid.UUID]struct{}{}
	n.mu.Unlock()
	if len(users) > 0 {
		n.send(ctx, ChangesChannel, payloadsOf(users), len(users))
	}
}

// send notifies channel with payloads; on failure it tries twice more.
func (n *Notifier) send(ctx context.Context, channel string, payloads []string, items int) {
	for try := 0; ; try++ {
		err := n.q.NotifyChanges(ctx, db.NotifyChangesParams{Channel: channel, Payloads: payloads})
		if err == nil {
			return
		}
		if try == 2 || ctx.Err() != nil {
			n.logger.Warn("announcing changes failed; their streams see them at their next wake", "channel", channel, "items", items, "error", err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// payloadsOf joins user ids into payloads of at most maxPayloadBytes.
func payloadsOf(users map[uuid.UUID]struct{}) []string {
	ids := make([]string, 0, len(users))
	for u := range users {
		ids = append(ids, u.String())
	}
	return joined(ids, ",")
}

// joined joins items with sep into payloads of at most maxPayloadBytes (an
// item longer than that goes alone).
func joined(items []string, sep string) []string {
	var out []string
	var b strings.Builder
	for _, it := range items {
		if b.Len() > 0 && b.Len()+len(sep)+len(it) > maxPayloadBytes {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(it)
	}
	return append(out, b.String())
}
