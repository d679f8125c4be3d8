package auth_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/todoapp/todo-api/internal/auth"
)

func TestRevocationsKeepEachEntryForTheTokenLifetime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := auth.NewRevocations(15*time.Minute, func() time.Time { return now })
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	r.Add(a)
	assert.True(t, r.Revoked(a))
	assert.False(t, r.Revoked(b))

	now = now.Add(14 * time.Minute)
	r.Add(b)
	now = now.Add(2 * time.Minute) // a is 16 min old, b 2 min: a rotation keeps both
	r.Add(c)
	assert.True(t, r.Revoked(a), "kept at least the lifetime, at most twice it")
	assert.True(t, r.Revoked(b))
	assert.True(t, r.Revoked(c))

	now = now.Add(16 * time.Minute) // b's access tokens have all expired
	r.Add(uuid.New())
	assert.False(t, r.Revoked(a))
	assert.False(t, r.Revoked(b))
	assert.True(t, r.Revoked(c), "c was added 16 minutes ago, in the previous generation")
	now = now.Add(31 * time.Minute)
	r.Add(uuid.New())
	assert.Equal(t, 1, r.Len(), "memory goes with time")
}
