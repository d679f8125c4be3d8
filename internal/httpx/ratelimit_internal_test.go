package httpx

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// addr is the i-th of many distinct IPv4 addresses.
func addr(i int) string {
	return "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
}

func allowed(l *RateLimiter, key string, n int) int {
	ok := 0
	for range n {
		if a, _ := l.Allow(key); a {
			ok++
		}
	}
	return ok
}

func TestRateLimiterWindowOpensWithTheFirstRequest(t *testing.T) {
	clk := newFakeClock()
	l := NewRateLimiter(5, time.Minute, 100, clk.Now)
	clk.Advance(40 * time.Second) // the key's window starts here, not at the limiter's rotation
	assert.Equal(t, 5, allowed(l, "a", 6))
	ok, wait := l.Allow("a")
	assert.False(t, ok)
	assert.Equal(t, time.Minute, wait)
	clk.Advance(30 * time.Second) // the limiter rotates; the key's window has 30 s to go
	ok, wait = l.Allow("a")
	assert.False(t, ok, "a rotation does not forget a live window")
	assert.Equal(t, 30*time.Second, wait)
	clk.Advance(30 * time.Second)
	assert.Equal(t, 5, allowed(l, "a", 6), "a new window after the old one ends")
}

func TestRateLimiterMemoryIsBounded(t *testing.T) {
	clk := newFakeClock()
	const maxKeys = 100
	l := NewRateLimiter(2, time.Minute, maxKeys, clk.Now)
	for i := range 10_000 {
		l.Allow(addr(i))
		if i%1000 == 0 {
			clk.Advance(20 * time.Second)
		}
		require.LessOrEqual(t, l.Len(), 2*maxKeys, "two generations of at most maxKeys")
	}
	// Once every window has ended, nothing old is kept.
	clk.Advance(2 * time.Minute)
	l.Allow("198.51.100.1")
	assert.Equal(t, 1, l.Len())
}

func TestRateLimiterNewcomerDuringAFloodIsLimitedByItsOwnAddress(t *testing.T) {
	clk := newFakeClock()
	l := NewRateLimiter(5, time.Minute, 1000, clk.Now)
	// A flood of 100,000 distinct addresses in one window: the table is full
	// after the first 1,000, the rest are counted in the sketch.
	for i := range 100_000 {
		l.Allow(addr(i))
	}
	assert.Equal(t, 4, allowed(l, addr(7), 10), "an address the table holds is limited exactly")
	// The sketch never underestimates; with this flood in it a newcomer may
	// start at 1 where cells collide, rarely more (the seed is random).
	for _, newcomer := range []string{"198.51.100.1", "198.51.100.2", "2001:db8::/64"} {
		n := allowed(l, newcomer, 5)
		assert.GreaterOrEqual(t, n, 3, "%s is limited by its own count, not the flood's", newcomer)
		assert.Equal(t, 0, allowed(l, newcomer, 3), "and then refused")
	}
	n := allowed(l, addr(50_000), 10) // counted once already
	assert.LessOrEqual(t, n, 4)
	assert.GreaterOrEqual(t, n, 2)
	ok, wait := l.Allow(addr(50_000))
	assert.False(t, ok)
	assert.Equal(t, time.Minute, wait, "a sketched key's window ends with the generation")

	clk.Advance(time.Minute) // the rotation clears the sketch
	assert.Equal(t, 5, allowed(l, "198.51.100.1", 6))
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                     "192.0.2.7",
		"::ffff:192.0.2.7":              "192.0.2.7",
		"2001:db8:1:2:aaaa:bbbb:cccc:1": "2001:db8:1:2::/64",
		"2001:db8:1:2::ffff":            "2001:db8:1:2::/64",
		"2001:db8:1:3::1":               "2001:db8:1:3::/64",
		"fe80::1%eth0":                  "fe80::/64",
		"not-an-ip":                     "not-an-ip",
	} {
		assert.Equal(t, want, clientKey(in), in)
	}
}

// BenchmarkAllow measures one Allow on an empty table, a full one (a new key
// each time: the flood case) and a full one for a key it holds.
func BenchmarkAllow(b *testing.B) {
	const maxKeys = 100_000
	full := func() (*RateLimiter, *fakeClock) {
		clk := newFakeClock()
		l := NewRateLimiter(5, time.Minute, maxKeys, clk.Now)
		for i := range maxKeys {
			l.Allow(addr(i))
		}
		return l, clk
	}
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = addr(maxKeys + i)
	}
	b.Run("Empty", func(b *testing.B) {
		l := NewRateLimiter(5, time.Minute, maxKeys, newFakeClock().Now)
		i := 0
		for b.Loop() {
			l.Allow(keys[i%1000])
			i++
		}
	})
	b.Run("FullNewKey", func(b *testing.B) {
		l, _ := full()
		i := 0
		for b.Loop() {
			l.Allow(keys[i&(len(keys)-1)])
			i++
		}
	})
	b.Run("FullKnownKey", func(b *testing.B) {
		l, _ := full()
		known := make([]string, maxKeys)
		for i := range known {
			known[i] = addr(i)
		}
		i := 0
		for b.Loop() {
			l.Allow(known[i%maxKeys])
			i++
		}
	})
}
