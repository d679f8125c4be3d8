package auth

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordBytes is bcrypt's input limit.
const MaxPasswordBytes = 72

// Hasher hashes and checks passwords with bcrypt. At most a fixed number of
// bcrypt computations run at once; the rest wait their turn, so a flood of
// logins queues instead of starving every other request of CPU.
type Hasher struct {
	cost    int
	slots   chan struct{}
	dummy   []byte // a real hash at the same cost, for unknown users
	waiting atomic.Int64
	waited  func(time.Duration) // observes each wait for a slot; may be nil
}

// Waiting is how many computations wait for a slot now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// ObserveWaits makes f see how long each computation waited for its slot
// (metrics). Call it before the hasher is in use.
func (h *Hasher) ObserveWaits(f func(time.Duration)) { h.waited = f }

// NewHasher returns a Hasher at bcrypt cost cost that runs at most
// concurrency hashes at a time.
func NewHasher(cost, concurrency int) (*Hasher, error) {
	if concurrency < 1 {
		return nil, errors.New("auth: hasher concurrency must be at least 1")
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("timing-equaliser-not-a-password"), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: bcrypt cost %d: %w", cost, err)
	}
	return &Hasher{cost: cost, slots: make(chan struct{}, concurrency), dummy: dummy}, nil
}

// Hash returns the bcrypt hash of password, which must be at most
// MaxPasswordBytes long.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	b, err := bcrypt.GenerateFromPassword([]byte(password), h.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(b), nil
}

// Matches reports whether password matches hash. With an empty hash (no such
// user) or an over-long password it compares against a dummy hash, so the
// answer takes the same time whatever the reason it is false.
func (h *Hasher) Matches(ctx context.Context, hash, password string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if hash == "" || len(password) > MaxPasswordBytes {
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(password[:min(len(password), MaxPasswordBytes)]))
		return false, nil
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil, nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	start := time.Now()
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		if h.waited != nil {
			h.waited(time.Since(start))
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }
