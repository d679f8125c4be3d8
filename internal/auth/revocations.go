package auth

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// Revocations is the set of ended sessions whose access tokens may still be
// valid, kept in each process so that checking an access token costs no
// statement. Whoever learns of an ending (a database notification, a reload
// after a lost connection) calls Add with the time the session's last
// access token expires, which the database records whatever replica issued
// it; the request path calls Revoked.
//
// Memory is bounded by time: an entry goes once its time (plus a margin for
// clocks that differ) has passed, swept at most once a margin. How many
// sessions can end meanwhile is bounded by how fast sessions can start: each
// takes a login, and logins are rate limited and cost a bcrypt comparison.
type Revocations struct {
	margin time.Duration
	now    func() time.Time

	mu      sync.RWMutex
	until   map[uuid.UUID]time.Time
	swept   time.Time
	sweepAt time.Duration
}

// NewRevocations returns an empty set that keeps each entry until its time
// plus margin (for the clocks of the database and the servers, which differ
// a little).
func NewRevocations(margin time.Duration, now func() time.Time) *Revocations {
	return &Revocations{margin: margin, now: now, until: map[uuid.UUID]time.Time{}, swept: now(), sweepAt: max(margin, time.Second)}
}

// Add records that session sid has ended and that its access tokens expire
// by until.
func (r *Revocations) Add(sid uuid.UUID, until time.Time) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.swept) >= r.sweepAt {
		for id, u := range r.until {
			if now.After(u.Add(r.margin)) {
				delete(r.until, id)
			}
		}
		r.swept = now
	}
	if u, ok := r.until[sid]; !ok || until.After(u) {
		r.until[sid] = until
	}
}

// Revoked reports whether session sid has ended (and is still kept).
func (r *Revocations) Revoked(sid uuid.UUID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.until[sid]
	return ok
}

// Len is the number of sessions held.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.until)
}
