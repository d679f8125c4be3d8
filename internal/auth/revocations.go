package auth

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// Revocations is the set of sessions ended within the last access token
// lifetime, kept in each process so that checking an access token costs no
// statement. Whoever learns of an ending (a database notification, a reload
// after a lost connection) calls Add; the request path calls Revoked.
//
// Memory is bounded by time: an entry is kept for at least keep and at most
// twice that (two generations of maps; the older one is dropped whole each
// keep, so no call ever sweeps). How many sessions can end in one lifetime
// is itself bounded by how fast sessions can start: each takes a login, and
// logins are rate limited and cost a bcrypt comparison.
type Revocations struct {
	keep time.Duration
	now  func() time.Time

	mu        sync.RWMutex
	cur, prev map[uuid.UUID]struct{}
	rotated   time.Time
}

// NewRevocations returns an empty set that keeps each entry for keep (the
// access token lifetime, plus a margin for clocks that differ).
func NewRevocations(keep time.Duration, now func() time.Time) *Revocations {
	return &Revocations{keep: keep, now: now, cur: map[uuid.UUID]struct{}{}, prev: map[uuid.UUID]struct{}{}, rotated: now()}
}

// Add records that session sid has ended.
func (r *Revocations) Add(sid uuid.UUID) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if since := now.Sub(r.rotated); since >= r.keep {
		r.prev = r.cur
		if since >= 2*r.keep {
			r.prev = map[uuid.UUID]struct{}{}
		}
		r.cur = map[uuid.UUID]struct{}{}
		r.rotated = now
	}
	r.cur[sid] = struct{}{}
}

// Revoked reports whether session sid has ended (within the kept time).
func (r *Revocations) Revoked(sid uuid.UUID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.cur[sid]; ok {
		return true
	}
	_, ok := r.prev[sid]
	return ok
}

// Len is the number of sessions held.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.cur) + len(r.prev)
}
