package live

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/store"
)

// RevocationCheck tells whether a session has ended. While the listener
// listens (and has reloaded what it missed), the set in memory knows every
// ending and a check costs no statement; while it does not (lost, or not yet
// connected at start), each check asks the database, so that a replica that
// cannot hear revocations never accepts a token as if it had.
type RevocationCheck struct {
	set       *auth.Revocations
	listening func() bool
	q         *db.Queries
}

// Revoked reports whether session sid has ended; an error means it cannot
// tell (the database is unreachable).
func (c *RevocationCheck) Revoked(ctx context.Context, sid uuid.UUID) (bool, error) {
	if c.set.Revoked(sid) {
		return true, nil
	}
	if c.listening() {
		return false, nil
	}
	revoked, err := c.q.SessionRevoked(ctx, sid)
	if err != nil {
		return false, fmt.Errorf("check the session: %w", err)
	}
	return revoked, nil
}

// Listening reports whether revocations are heard as they happen (readiness).
func (c *RevocationCheck) Listening() bool { return c.listening() }

// revocationFeed fills a set of ended sessions from the database, and ends
// their event streams.
type revocationFeed struct {
	q       *db.Queries
	set     *auth.Revocations
	streams *Streams
}

// notify records the session of a SessionEndedChannel payload.
func (s *revocationFeed) notify(payload string) {
	id, secs, _ := strings.Cut(payload, " ")
	sid, err := uuid.Parse(id)
	if err != nil {
		return
	}
	until, err := strconv.ParseInt(secs, 10, 64)
	if err != nil { // not this version's payload: keep it a day, to be safe
		until = time.Now().Add(24 * time.Hour).Unix()
	}
	s.set.Add(sid, time.Unix(until, 0))
	s.streams.SessionEnded(sid)
}

// reload adds every ended session whose access tokens may still be valid.
func (s *revocationFeed) reload(ctx context.Context) error {
	rows, err := s.q.ListRevocations(ctx, time.Now().Add(-store.RevocationMargin))
	if err != nil {
		return fmt.Errorf("reload revocations: %w", err)
	}
	for _, r := range rows {
		s.set.Add(r.SessionID, r.KeepUntil)
		s.streams.SessionEnded(r.SessionID)
	}
	return nil
}
