package cache_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/cache"
)

func TestGenerations(t *testing.T) {
	c := cache.New[string, int](3)
	_, ok := c.Get("a")
	assert.False(t, ok, "empty")

	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("c", 3)
	c.Put("c", 33) // an update does not start a generation
	v, ok := c.Get("c")
	require.True(t, ok)
	assert.Equal(t, 33, v)

	c.Put("d", 4)      // the first generation (a, b, c) is full: d starts the next
	v, ok = c.Get("a") // found in the older one, and moved on
	require.True(t, ok)
	assert.Equal(t, 1, v)
	c.Put("e", 5)
	c.Put("f", 6) // the newer generation (d, a, e) is full: (a, b, c) is dropped
	for _, k := range []string{"b", "c"} {
		_, ok := c.Get(k)
		assert.Falsef(t, ok, "%s was not used since two generations", k)
	}
	for _, k := range []string{"a", "d", "e", "f"} {
		_, ok := c.Get(k)
		assert.Truef(t, ok, "%s is in one of the two generations", k)
	}
}

func TestGenerationsAreBounded(t *testing.T) {
	c := cache.New[int, int](100)
	for i := range 10_000 {
		c.Put(i, i)
		require.LessOrEqual(t, c.Len(), 200)
	}
	_, ok := c.Get(0)
	assert.False(t, ok, "the oldest entries are gone")
	v, ok := c.Get(9_999)
	assert.True(t, ok)
	assert.Equal(t, 9_999, v)
}

func TestGenerationsConcurrently(t *testing.T) {
	c := cache.New[string, int](64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2_000 {
				k := strconv.Itoa((g*2_000 + i) % 300)
				c.Put(k, i)
				c.Get(k)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 128)
}
