package api

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/apperr"
)

// A stream that does not take its wakes (a slow client) never blocks the
// notification path or the other streams: a wake waits in a buffer of one.
func TestEventsWakeNeverBlocks(t *testing.T) {
	e, err := NewEvents(StreamOptions{PerUser: 5})
	require.NoError(t, err)
	user := uuid.New()
	slow, err := e.add(user, uuid.New())
	require.NoError(t, err)
	fast, err := e.add(user, uuid.New())
	require.NoError(t, err)
	other, err := e.add(uuid.New(), uuid.New())
	require.NoError(t, err)

	done := make(chan struct{})
	woken := 0
	go func() {
		defer close(done)
		for range 10_000 {
			e.UsersChanged(uuid.NewString() + "," + user.String())
			select {
			case <-fast.wake:
				woken++
			default:
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("notifications blocked on a stream that does not read")
	}
	assert.Equal(t, 10_000, woken, "the reading stream got every wake")
	assert.Len(t, slow.wake, 1, "the slow one has one wake waiting, not 10,000")
	assert.Empty(t, other.wake, "another user's stream was not woken")
	e.UsersChanged("not a uuid,,")
}

func TestEventsBoundsAndEnds(t *testing.T) {
	e, err := NewEvents(StreamOptions{PerUser: 2})
	require.NoError(t, err)
	user, session := uuid.New(), uuid.New()
	a, err := e.add(user, session)
	require.NoError(t, err)
	b, err := e.add(user, uuid.New())
	require.NoError(t, err)
	_, err = e.add(user, uuid.New())
	assert.Equal(t, apperr.TooManyStreams.Code, apperr.As(err).Code)
	assert.Equal(t, "5", apperr.As(err).Header["Retry-After"])
	c, err := e.add(uuid.New(), uuid.New())
	require.NoError(t, err, "the bound is per user")
	assert.Equal(t, 3, e.Open())

	e.SessionEnded(session)
	assert.True(t, ended(a), "the ended session's stream")
	assert.False(t, ended(b), "another session of the user goes on")
	e.remove(a)
	e.remove(a) // twice is harmless
	assert.Equal(t, 2, e.Open())
	_, err = e.add(user, uuid.New())
	require.NoError(t, err, "a removed stream frees its place")

	e.Shutdown()
	assert.True(t, ended(b))
	assert.True(t, ended(c))
	_, err = e.add(uuid.New(), uuid.New())
	assert.Equal(t, apperr.ServiceUnavailable.Code, apperr.As(err).Code, "no new streams while shutting down")
}

func ended(s *stream) bool {
	select {
	case <-s.end:
		return true
	default:
		return false
	}
}

func TestCursors(t *testing.T) {
	for _, s := range []string{"0", "7", "123456", "123.task.45", "9.tag.1"} {
		c, err := parseCursor(s, "since")
		require.NoError(t, err, s)
		assert.Equal(t, s, c.String())
	}
	for _, s := range []string{"", "x", "-1", "007", "1.2", "1.task", "1.task.0", "1.user.3", "1.task.3.4", "1.task.-3", " 1"} {
		_, err := parseCursor(s, "since")
		assert.Equal(t, apperr.InvalidCursor.Code, apperr.As(err).Code, s)
	}
	assert.Equal(t, cursor{}, after(0), "no change yet: the start of the feed")
	assert.Equal(t, "8", after(7).String(), "past every change of transaction 7")
}
