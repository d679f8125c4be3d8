package webhook

import (
	"math/rand/v2"
	"time"
)

// MaxAge is how long a message is retried: once its first attempt is this
// old and it has still not been delivered, the endpoint is disabled.
const MaxAge = 24 * time.Hour

const (
	firstDelay = 30 * time.Second
	maxDelay   = 3 * time.Hour
)

// Backoff is the wait before retry number attempt (1 after the first failed
// delivery). The nominal delay doubles from 30 s up to a cap of 3 h, and
// the wait is drawn from its upper half ("equal jitter"):
//
//	attempt  nominal  wait
//	1        30 s     15 s - 30 s
//	2        1 m      30 s - 1 m
//	3        2 m      1 m - 2 m
//	4        4 m      2 m - 4 m
//	5        8 m      4 m - 8 m
//	6        16 m     8 m - 16 m
//	7        32 m     16 m - 32 m
//	8        64 m     32 m - 64 m
//	9        128 m    64 m - 128 m
//	10+      3 h      1 h 30 m - 3 h
//
// The first nine waits add up to 2 h 8 m - 4 h 15 m, so MaxAge is reached
// after 16 retries at the longest waits and 24 at the shortest: a job
// allowed 25 attempts (the first and 24 retries) always reaches MaxAge.
//
// Equal rather than full jitter (a wait anywhere in 0 - nominal): full
// jitter can retry a failing receiver almost at once, and it would leave
// the number of retries needed to span MaxAge unbounded. Half the nominal
// delay is still enough spread to keep the retries of many messages that
// failed together (a receiver's outage) from arriving together.
//
// rnd returns a number in [0, 1), like math/rand/v2.Float64, which a nil
// rnd stands for.
func Backoff(attempt int, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	d := maxDelay
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 10 {
		d = min(firstDelay<<(attempt-1), maxDelay)
	}
	j := min(max(rnd(), 0), 1)
	return d/2 + time.Duration(j*float64(d/2))
}
