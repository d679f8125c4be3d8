package auth

import (
	"context"

	"github.com/google/uuid"
)

type userIDKey struct{}

// WithUserID returns a context that carries the authenticated user's id.
func WithUserID(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, userIDKey{}, id)
}

// UserID returns the authenticated user's id, and false when the request was
// not authenticated.
func UserID(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(userIDKey{}).(uuid.UUID)
	return id, ok
}
