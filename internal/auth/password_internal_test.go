package auth

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHasherBoundsConcurrency(t *testing.T) {
	h, err := NewHasher(4, 1)
	require.NoError(t, err)
	h.slots <- struct{}{} // another bcrypt holds the only slot

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = h.Hash(ctx, "waits-its-turn")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "queued, not run alongside")
	_, err = h.Matches(ctx, "", "waits-its-turn")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	<-h.slots // the other one is done
	hash, err := h.Hash(context.Background(), "waits-its-turn")
	require.NoError(t, err)
	ok, err := h.Matches(context.Background(), hash, "waits-its-turn")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Empty(t, h.slots, "every slot is given back")
}
