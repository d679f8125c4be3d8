package httpx

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/todoapp/todo-api/internal/apperr"
)

// overflowKey is the bucket shared by clients first seen while the limiter
// is full.
const overflowKey = "\x00overflow"

// RateLimiter counts requests per key (client IP) in fixed windows: the
// first request of a key opens a window; up to limit requests pass in it.
//
// Memory is bounded: it tracks at most maxKeys keys. Expired windows are
// swept once per window; when the table is still full, a new key shares one
// overflow bucket with every other newcomer, so a flood of distinct
// addresses is limited as a whole instead of growing the table.
type RateLimiter struct {
	limit   int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	start time.Time
	count int
}

// NewRateLimiter returns a limiter of limit requests per window per key,
// tracking at most maxKeys keys. It returns nil when limit is 0 (no limit).
func NewRateLimiter(limit int, window time.Duration, maxKeys int, now func() time.Time) *RateLimiter {
	if limit <= 0 {
		return nil
	}
	return &RateLimiter{limit: limit, window: window, maxKeys: max(maxKeys, 1), now: now,
		buckets: make(map[string]*bucket), lastSweep: now()}
}

// Allow counts a request of key. When the request is over the limit it
// returns false and how long until the key's window ends.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.window {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		if len(l.buckets) >= l.maxKeys {
			key = overflowKey
			b = l.buckets[key]
		}
	}
	if b == nil || now.Sub(b.start) >= l.window {
		b = &bucket{start: now}
		l.buckets[key] = b
	}
	b.count++
	if b.count > l.limit {
		return false, b.start.Add(l.window).Sub(now)
	}
	return true, 0
}

// Len is the number of keys tracked now.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *RateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.start) >= l.window {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// rateLimit answers 429 RATE_LIMIT_EXCEEDED with Retry-After when the client
// IP is over l's limit. A nil l lets everything through.
func rateLimit(l *RateLimiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if l == nil {
			return next
		}
		return func(c echo.Context) error {
			ok, wait := l.Allow(c.RealIP())
			if !ok {
				secs := int(math.Ceil(wait.Seconds()))
				c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(max(secs, 1)))
				return apperr.RateLimitExceeded
			}
			return next(c)
		}
	}
}
