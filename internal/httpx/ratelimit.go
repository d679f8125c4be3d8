package httpx

import (
	"context"
	"hash/maphash"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/todoapp/todo-api/internal/apperr"
)

// RateLimiter counts requests per key (a client address) in windows that
// open with a key's first request: up to limit requests pass in a window,
// and the next window opens with the first request after it ends.
//
// Every call does O(1) work, whatever the limiter holds, and memory is
// bounded:
//   - Keys live in two generations of maps. Each window the current map
//     becomes the previous one and the previous one is dropped whole (the
//     garbage collector frees it, not the request that rotates). A window
//     opened before the last rotation has ended by the next one, so a live
//     window is always in one of the two maps and nothing is ever swept.
//   - A generation holds at most maxKeys keys. A key first seen while the
//     current one is full is counted in a count-min sketch of fixed size
//     (allocated the first time it is needed, cleared each window), so
//     during a flood of new addresses each newcomer is still counted on its
//     own: the sketch overestimates only when the flood fills its cells, which
//     takes about sketchWidth × limit distinct addresses in one window (650,000
//     at the default limit of 5). Such a key's window is the sketch's: it
//     ends at the next rotation.
type RateLimiter struct {
	limit   int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	cur, prev map[string]bucket
	rotated   time.Time // when cur became the current generation
	sketch    *sketch   // nil until a key meets a full generation
}

type bucket struct {
	start time.Time
	count int
}

// RateLimitOptions are the limits of the rate-limited operations.
type RateLimitOptions struct {
	Auth    int // AUTH_RATE_LIMIT: each of register, login, password change and account deletion
	Refresh int // REFRESH_RATE_LIMIT
	Window  time.Duration
	MaxKeys int // addresses tracked per limiter and generation
}

// RateLimits are the service's rate limiters, by operationId: the one list
// of the operations that are limited, and how. Each of the auth ones costs
// a bcrypt computation (or starts a session), so each is limited per client
// address like login; refresh has a limit of its own.
func RateLimits(o RateLimitOptions, now func() time.Time) map[string]*RateLimiter {
	limit := func(n int) *RateLimiter { return NewRateLimiter(n, o.Window, o.MaxKeys, now) }
	return map[string]*RateLimiter{
		"registerUser":   limit(o.Auth),
		"loginUser":      limit(o.Auth),
		"changePassword": limit(o.Auth),
		"deleteAccount":  limit(o.Auth),
		"refreshToken":   limit(o.Refresh),
	}
}

// NewRateLimiter returns a limiter of limit requests per window per key,
// tracking at most maxKeys keys in each of its two generations (about 100
// bytes a key) plus, during floods, a 2 MiB sketch. It returns nil when limit
// is 0 (no limit).
func NewRateLimiter(limit int, window time.Duration, maxKeys int, now func() time.Time) *RateLimiter {
	if limit <= 0 {
		return nil
	}
	return &RateLimiter{limit: limit, window: window, maxKeys: max(maxKeys, 1), now: now,
		cur: make(map[string]bucket), prev: map[string]bucket{}, rotated: now()}
}

// Allow counts a request of key. When the request is over the limit it
// returns false and how long until the key's window ends.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if since := now.Sub(l.rotated); since >= l.window {
		l.rotate(now, since)
	}
	gen := l.cur
	b, ok := gen[key]
	if !ok {
		if b, ok = l.prev[key]; ok {
			gen = l.prev // updated where it is: it ends before the next rotation
		}
	}
	if ok && now.Sub(b.start) >= l.window {
		ok = false // that window has ended: a new one opens now
		delete(gen, key)
		gen = l.cur
	}
	if !ok {
		if len(l.cur) >= l.maxKeys {
			return l.allowSketched(key, now)
		}
		b = bucket{start: now}
	}
	if b.count <= l.limit { // no need to count past the first refusal
		b.count++
	}
	gen[key] = b
	if b.count > l.limit {
		return false, b.start.Add(l.window).Sub(now)
	}
	return true, 0
}

// rotate starts a new generation; since is the time since the last rotation.
func (l *RateLimiter) rotate(now time.Time, since time.Duration) {
	l.prev = l.cur
	if since >= 2*l.window { // every window in cur has ended too
		l.prev = map[string]bucket{}
	}
	l.cur = make(map[string]bucket, min(len(l.prev), l.maxKeys))
	l.rotated = now
	if l.sketch != nil {
		l.sketch.reset()
	}
}

func (l *RateLimiter) allowSketched(key string, now time.Time) (bool, time.Duration) {
	if l.sketch == nil {
		l.sketch = newSketch()
	}
	if l.sketch.add(key, l.limit+1) > uint32(l.limit) {
		return false, l.rotated.Add(l.window).Sub(now)
	}
	return true, 0
}

// Len is the number of keys tracked exactly now (both generations).
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}

// sketch is a count-min sketch with conservative update: a key's estimate is
// the least of its cells, never below its true count; an increment raises
// only the cells that are below the new estimate, which keeps the
// overestimate for light keys small when heavy ones share their cells.
type sketch struct {
	seed  maphash.Seed // per process, so collisions cannot be planned
	cells [sketchDepth][sketchWidth]uint32
}

const (
	sketchDepth = 4
	sketchWidth = 1 << 17 // 4 × 131,072 × 4 bytes = 2 MiB
)

func newSketch() *sketch { return &sketch{seed: maphash.MakeSeed()} }

// add counts one more of key, saturating at ceiling, and returns the new
// estimate (or ceiling when it is already there).
func (s *sketch) add(key string, ceiling int) uint32 {
	h := maphash.String(s.seed, key)
	h1, h2 := uint32(h), uint32(h>>32)|1
	var idx [sketchDepth]uint32
	est := uint32(math.MaxUint32)
	for i := range sketchDepth {
		idx[i] = (h1 + uint32(i)*h2) % sketchWidth
		est = min(est, s.cells[i][idx[i]])
	}
	if est >= uint32(ceiling) {
		return est
	}
	est++
	for i := range sketchDepth {
		if s.cells[i][idx[i]] < est {
			s.cells[i][idx[i]] = est
		}
	}
	return est
}

func (s *sketch) reset() { clear(s.cells[:]) }

// clientKey is the rate-limit key of a client address: an IPv4 address
// (also when written IPv4-mapped) is its own key; an IPv6 address is keyed
// by its /64, the block one subscriber usually holds whole.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// SharedCounts counts requests across every server process of a deployment
// (store.RateCounts, in PostgreSQL): Count counts one request of key and
// returns how many its window holds and when the window started.
type SharedCounts interface {
	Count(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error)
}

// rateLimit answers 429 RATE_LIMIT_EXCEEDED with Retry-After when the client
// address is over l's limit for operation op. l, this process's own count,
// is the first line: it refuses what it sees is over the limit without a
// database round trip (the shared count can only be higher). What it lets
// through is counted in shared (when not nil), which decides for all
// replicas. A nil l lets everything through.
func rateLimit(l *RateLimiter, op string, shared SharedCounts) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if l == nil {
			return next
		}
		return func(c echo.Context) error {
			key := clientKey(c.RealIP())
			ok, wait := l.Allow(key)
			if ok && shared != nil {
				now := l.now()
				n, start, err := shared.Count(c.Request().Context(), op+" "+key, now, l.window)
				if err != nil {
					return err
				}
				if n > l.limit {
					ok, wait = false, start.Add(l.window).Sub(now)
				}
			}
			if !ok {
				secs := int(math.Ceil(wait.Seconds()))
				c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(max(secs, 1)))
				return apperr.RateLimitExceeded
			}
			return next(c)
		}
	}
}
