package live

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/apperr"
)

// noFeed is a feed with nothing to read: these tests never read it.
type noFeed struct{}

func (noFeed) ReadFeed(context.Context, []Read, int, int64) ([]Result, error) { return nil, nil }

// A stream that does not take its wakes (a slow client) never blocks the
// notification path or the other streams: a wake waits in a buffer of one.
func TestStreamsWakeNeverBlocks(t *testing.T) {
	e, err := NewStreams(noFeed{}, StreamOptions{PerUser: 5})
	require.NoError(t, err)
	user := uuid.New()
	slow, err := e.Add(user, uuid.New())
	require.NoError(t, err)
	fast, err := e.Add(user, uuid.New())
	require.NoError(t, err)
	other, err := e.Add(uuid.New(), uuid.New())
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
	assert.Empty(t, fast.wake, "a payload without a user wakes nobody")
	assert.Empty(t, other.wake)
}

func TestStreamsBoundsAndEnds(t *testing.T) {
	e, err := NewStreams(noFeed{}, StreamOptions{PerUser: 2})
	require.NoError(t, err)
	user, session := uuid.New(), uuid.New()
	a, err := e.Add(user, session)
	require.NoError(t, err)
	b, err := e.Add(user, uuid.New())
	require.NoError(t, err)
	_, err = e.Add(user, uuid.New())
	assert.Equal(t, apperr.TooManyStreams.Code, apperr.As(err).Code)
	assert.Equal(t, "5", apperr.As(err).Header["Retry-After"])
	c, err := e.Add(uuid.New(), uuid.New())
	require.NoError(t, err, "the bound is per user")
	assert.Equal(t, 3, e.Open())

	e.SessionEnded(session)
	assert.True(t, ended(a), "the ended session's stream")
	assert.False(t, ended(b), "another session of the user goes on")
	e.Remove(a)
	e.Remove(a) // twice is harmless
	assert.Equal(t, 2, e.Open())
	_, err = e.Add(user, uuid.New())
	require.NoError(t, err, "a removed stream frees its place")

	e.Shutdown()
	assert.True(t, ended(b))
	assert.True(t, ended(c))
	_, err = e.Add(uuid.New(), uuid.New())
	assert.Equal(t, apperr.ServiceUnavailable.Code, apperr.As(err).Code, "no new streams while shutting down")
}

func ended(s *Stream) bool {
	select {
	case <-s.end:
		return true
	default:
		return false
	}
}
