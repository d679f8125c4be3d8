package auth_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/todoapp/todo-api/internal/auth"
)

func TestRevocationsKeepEachEntryUntilItsTokensExpire(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := auth.NewRevocations(time.Minute, func() time.Time { return now })
	short, long, late := uuid.New(), uuid.New(), uuid.New()
	r.Add(short, now.Add(time.Second)) // its tokens came from a replica with a 1 s lifetime
	r.Add(long, now.Add(15*time.Minute))
	assert.True(t, r.Revoked(short))
	assert.True(t, r.Revoked(long))
	assert.False(t, r.Revoked(late))

	now = now.Add(5 * time.Minute)
	r.Add(late, now.Add(time.Hour))
	assert.False(t, r.Revoked(short), "gone a margin after its tokens expired")
	assert.True(t, r.Revoked(long), "kept while a token of it may be valid, whatever this replica's lifetime")
	r.Add(long, now.Add(-time.Hour))
	now = now.Add(11 * time.Minute) // long's tokens expired 1 min ago
	r.Add(uuid.New(), now)
	assert.True(t, r.Revoked(long), "an earlier time never shortens what is kept; the margin still runs")
	now = now.Add(time.Minute)
	r.Add(uuid.New(), now)
	assert.False(t, r.Revoked(long))
	assert.True(t, r.Revoked(late))
	now = now.Add(2 * time.Hour)
	r.Add(uuid.New(), now.Add(time.Minute))
	assert.Equal(t, 1, r.Len(), "memory goes with time")
}
