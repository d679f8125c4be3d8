package auth

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestHasherBoundsConcurrency(t *testing.T) {
	h, err := NewHasher(4, 1)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	busy, release := make(chan struct{}), make(chan struct{})
	go func() { _ = h.do(context.Background(), func() { close(busy); <-release }) }()
	<-busy // another computation holds the only worker

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = h.Hash(ctx, "waits-its-turn")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "queued, not run alongside")
	_, err = h.Matches(ctx, "", "waits-its-turn")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, h.Waiting(), "given up waiting")

	close(release) // the other one is done
	hash, err := h.Hash(context.Background(), "waits-its-turn")
	require.NoError(t, err)
	ok, err := h.Matches(context.Background(), hash, "waits-its-turn")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = h.Matches(context.Background(), hash, "another")
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestHasherRunsAtIdlePriority: the computations run on threads of their own
// at SCHED_IDLE; the caller's thread keeps its policy.
func TestHasherRunsAtIdlePriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SCHED_IDLE is Linux only") // this suite runs on Linux (CI)
	}
	h, err := NewHasher(4, 3)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	require.True(t, h.Idle())
	var mu sync.Mutex
	threads := map[int]bool{}
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, h.do(context.Background(), func() {
				attr, err := unix.SchedGetAttr(0, 0)
				assert.NoError(t, err)
				assert.Equal(t, uint32(unix.SCHED_IDLE), attr.Policy)
				mu.Lock()
				threads[unix.Gettid()] = true
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}))
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, len(threads), 3, "three workers, three threads")
	attr, err := unix.SchedGetAttr(0, 0)
	require.NoError(t, err)
	assert.Equal(t, uint32(unix.SCHED_NORMAL), attr.Policy, "the caller's thread is untouched")
}

func TestHasherClose(t *testing.T) {
	h, err := NewHasher(4, 2)
	require.NoError(t, err)
	h.Close()
	h.Close() // twice is fine
	_, err = h.Hash(context.Background(), "no worker left")
	assert.ErrorIs(t, err, ErrClosed)
}

// TestHasherRaisesGOMAXPROCSWhileHashing: the workers get processors of their
// own while they compute, and give them back after.
func TestHasherRaisesGOMAXPROCSWhileHashing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SCHED_IDLE is Linux only") // this suite runs on Linux (CI)
	}
	before := runtime.GOMAXPROCS(0)
	h, err := NewHasher(4, 2)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	var during int
	require.NoError(t, h.do(context.Background(), func() { during = runtime.GOMAXPROCS(0) }))
	assert.Equal(t, before+2, during)
	assert.Equal(t, before, runtime.GOMAXPROCS(0))
}

// BenchmarkMatches is one password comparison at the service's default cost
// (BCRYPT_COST=12) on one hashing worker: a login's CPU time, so cores / this
// is the bound a login flood can reach (scripts/loadtest.sh uses it).
func BenchmarkMatches(b *testing.B) {
	h, err := NewHasher(12, 1)
	require.NoError(b, err)
	b.Cleanup(h.Close)
	hash, err := h.Hash(context.Background(), "flood-password")
	require.NoError(b, err)
	for b.Loop() {
		ok, err := h.Matches(context.Background(), hash, "flood-password")
		if err != nil || !ok {
			b.Fatalf("Matches = %v, %v; want true", ok, err)
		}
	}
}
