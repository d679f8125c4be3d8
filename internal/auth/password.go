package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordBytes is bcrypt's input limit.
const MaxPasswordBytes = 72

// Hasher hashes and checks passwords with bcrypt, on a fixed number of
// worker goroutines; a computation waits for a free worker, so a flood of
// logins queues. Each worker runs on an OS thread of its own at the lowest
// scheduling priority the system offers (SCHED_IDLE on Linux): the hashing
// uses every cycle nothing else wants and gives the CPU up the moment a
// request's thread wakes, so logins get the idle cores and the other
// requests keep their latency. While any computation runs, GOMAXPROCS is
// raised by the number of workers, so that a worker waiting for the CPU never
// holds a processor the request handlers need; it comes back down when the
// last one ends, to the runtime's default (which follows the CPU quota)
// unless the GOMAXPROCS variable set it. More processors than cores all the
// time cost /auth/me about 8 % of its throughput.
type Hasher struct {
	cost    int
	jobs    chan *job
	dummy   []byte // a real hash at the same cost, for unknown users
	idle    bool   // the workers run at idle priority
	waiting atomic.Int64
	waited  func(time.Duration) // observes each wait for a worker; may be nil
	closed  chan struct{}
	stop    sync.Once

	mu        sync.Mutex
	workers   int
	running   int  // computations running now
	procs     int  // GOMAXPROCS when no computation runs; 0: leave it alone
	automatic bool // GOMAXPROCS is the runtime's default (no GOMAXPROCS variable)
}

type job struct {
	run  func()
	done chan struct{}
}

// Waiting is how many computations wait for a worker now.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// ObserveWaits makes f see how long each computation waited for its worker
// (metrics). Call it before the hasher is in use.
func (h *Hasher) ObserveWaits(f func(time.Duration)) { h.waited = f }

// Idle reports whether the workers run at idle priority (false where the
// system refused it; they run at normal priority then).
func (h *Hasher) Idle() bool { return h.idle }

// NewHasher returns a Hasher at bcrypt cost cost with the given number of
// workers. Close stops them.
func NewHasher(cost, workers int) (*Hasher, error) {
	if workers < 1 {
		return nil, errors.New("auth: hasher needs at least 1 worker")
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("timing-equaliser-not-a-password"), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: bcrypt cost %d: %w", cost, err)
	}
	h := &Hasher{cost: cost, jobs: make(chan *job), dummy: dummy, idle: true, closed: make(chan struct{}),
		workers: workers, procs: runtime.GOMAXPROCS(0), automatic: os.Getenv("GOMAXPROCS") == ""}
	ready := make(chan error, workers)
	for range workers {
		go h.work(ready)
	}
	for range workers {
		if err := <-ready; err != nil {
			h.idle = false
		}
	}
	if !h.idle {
		h.procs = 0 // at normal priority the workers take their turn like any goroutine
	}
	return h, nil
}

// work runs computations on a thread of its own at idle priority. The
// thread stays locked to this goroutine: it ends with it, priority and all.
func (h *Hasher) work(ready chan<- error) {
	runtime.LockOSThread()
	ready <- idlePriority()
	for {
		select {
		case j := <-h.jobs:
			h.started(+1)
			j.run()
			h.started(-1)
			close(j.done)
		case <-h.closed:
			return
		}
	}
}

// started counts a computation starting (+1) or ending (-1), and raises or
// lowers GOMAXPROCS when the first starts or the last ends.
func (h *Hasher) started(delta int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running += delta
	switch {
	case h.procs == 0:
	case delta > 0 && h.running == 1:
		runtime.GOMAXPROCS(h.procs + h.workers)
	case delta < 0 && h.running == 0 && h.automatic:
		runtime.SetDefaultGOMAXPROCS() // back to following the CPU quota, as before the raise
	case delta < 0 && h.running == 0:
		runtime.GOMAXPROCS(h.procs)
	}
}

// ErrClosed is what a computation asked of a closed Hasher returns.
var ErrClosed = errors.New("auth: hasher closed")

// Close stops the workers once they finish what they run; computations asked
// afterwards fail with ErrClosed.
func (h *Hasher) Close() { h.stop.Do(func() { close(h.closed) }) }

// Hash returns the bcrypt hash of password, which must be at most
// MaxPasswordBytes long.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var b []byte
	var err error
	if err := h.do(ctx, func() { b, err = bcrypt.GenerateFromPassword([]byte(password), h.cost) }); err != nil {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(b), nil
}

// Matches reports whether password matches hash. With an empty hash (no such
// user) or an over-long password it compares against a dummy hash, so the
// answer takes the same time whatever the reason it is false.
func (h *Hasher) Matches(ctx context.Context, hash, password string) (bool, error) {
	var ok bool
	err := h.do(ctx, func() {
		if hash == "" || len(password) > MaxPasswordBytes {
			_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(password[:min(len(password), MaxPasswordBytes)]))
			return
		}
		ok = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	})
	return ok, err
}

// do runs f on a worker once one is free, and waits for it to finish; it
// gives up only while waiting for the worker, when ctx ends.
func (h *Hasher) do(ctx context.Context, f func()) error {
	j := &job{run: f, done: make(chan struct{})}
	start := time.Now()
	h.waiting.Add(1)
	select {
	case h.jobs <- j:
		h.waiting.Add(-1)
	case <-ctx.Done():
		h.waiting.Add(-1)
		return ctx.Err()
	case <-h.closed:
		h.waiting.Add(-1)
		return ErrClosed
	}
	if h.waited != nil {
		h.waited(time.Since(start))
	}
	<-j.done
	return nil
}
