package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/todoapp/todo-api/internal/webhook"
)

// jitters are rnd values from the lowest to the highest draw.
var jitters = []float64{0, 0.25, 0.5, 0.75, 0.999999, 1}

func TestBackoffFirstRetryWithinAMinute(t *testing.T) {
	t.Parallel()
	for _, j := range jitters {
		d := webhook.Backoff(1, func() float64 { return j })
		assert.Less(t, d, time.Minute, "jitter %v", j)
		assert.GreaterOrEqual(t, d, 15*time.Second, "jitter %v", j)
	}
}

func TestBackoffNeverExceedsCap(t *testing.T) {
	t.Parallel()
	for _, j := range jitters {
		prev := time.Duration(0)
		for n := -1; n <= 100; n++ {
			d := webhook.Backoff(n, func() float64 { return j })
			assert.LessOrEqual(t, d, 3*time.Hour, "attempt %d, jitter %v", n, j)
			assert.GreaterOrEqual(t, d, prev, "attempt %d, jitter %v: never shrinks", n, j)
			prev = d
		}
	}
	assert.Equal(t, 90*time.Minute, webhook.Backoff(1<<62, func() float64 { return 0 }), "no overflow")
}

// The documented bound: 25 attempts (24 retries) span MaxAge whatever the
// draws, and at the longest waits 16 retries already do.
func TestBackoffSpansMaxAge(t *testing.T) {
	t.Parallel()
	for _, j := range jitters {
		var total time.Duration
		for n := 1; n <= 24; n++ {
			total += webhook.Backoff(n, func() float64 { return j })
		}
		assert.GreaterOrEqual(t, total, webhook.MaxAge, "jitter %v", j)
	}
	retriesNeeded := func(j float64) int {
		var total time.Duration
		n := 0
		for total < webhook.MaxAge {
			n++
			total += webhook.Backoff(n, func() float64 { return j })
		}
		return n
	}
	assert.Equal(t, 24, retriesNeeded(0))
	assert.Equal(t, 16, retriesNeeded(1))
}

func TestBackoffNilRandom(t *testing.T) {
	t.Parallel()
	d := webhook.Backoff(3, nil)
	assert.GreaterOrEqual(t, d, time.Minute)
	assert.LessOrEqual(t, d, 2*time.Minute)
}
