// Package cache is a bounded in-memory map for values that are cheap to lose:
// two generations of at most Size entries each; when the newer fills, the
// older is dropped whole. Memory stays bounded, no call sweeps, and an entry
// in use keeps being found (a hit in the older generation moves it on).
package cache

import "sync"

// Generations is the cache. Its zero value is not usable: call New.
type Generations[K comparable, V any] struct {
	mu        sync.RWMutex
	size      int
	cur, prev map[K]V
}

// New returns an empty cache of at most 2*size entries.
func New[K comparable, V any](size int) *Generations[K, V] {
	return &Generations[K, V]{size: max(size, 1), cur: make(map[K]V)}
}

// Get returns the value stored under k.
func (g *Generations[K, V]) Get(k K) (V, bool) {
	g.mu.RLock()
	v, ok := g.cur[k]
	if ok {
		g.mu.RUnlock()
		return v, true
	}
	v, ok = g.prev[k]
	g.mu.RUnlock()
	if ok {
		g.Put(k, v)
	}
	return v, ok
}

// Put stores v under k.
func (g *Generations[K, V]) Put(k K, v V) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.cur[k]; !ok && len(g.cur) >= g.size {
		g.prev, g.cur = g.cur, make(map[K]V, g.size)
	}
	g.cur[k] = v
}

// Len is the number of entries held (both generations; a key moved on from
// the older one counts twice until that one is dropped).
func (g *Generations[K, V]) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.cur) + len(g.prev)
}
