package testdb

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Patience bounds a test's wait for what normally takes milliseconds (a
// notification heard, the change feed's horizon passing, a process ready):
// generous, because on a loaded machine every other test's open
// transactions hold the horizon back, and each wait that only guards
// against a hang uses it rather than a tight bound of its own.
const Patience = 30 * time.Second

// Poll calls cond on the test's goroutine until it holds, and fails the
// test if it never does within Patience. cond may use require: it runs on
// the test's goroutine, never on another.
func Poll(tb testing.TB, cond func() bool, msgAndArgs ...any) {
	tb.Helper()
	for deadline := time.Now().Add(Patience); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			require.Fail(tb, "the condition never held within "+Patience.String(), msgAndArgs...)
		}
	}
}
