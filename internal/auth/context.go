package auth

import (
	"context"

	"github.com/google/uuid"
)

type principalKey struct{}

// principal is who a request is authenticated as: a user and, for tokens
// that carry one, the session.
type principal struct {
	user, session uuid.UUID
	hasSession    bool
}

// WithUser returns a context that carries the authenticated user's id and
// the session of its token (hasSession false: a token without one).
func WithUser(ctx context.Context, user, session uuid.UUID, hasSession bool) context.Context {
	return context.WithValue(ctx, principalKey{}, principal{user: user, session: session, hasSession: hasSession})
}

// UserID returns the authenticated user's id, and false when the request was
// not authenticated.
func UserID(ctx context.Context) (uuid.UUID, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p.user, ok
}

// SessionID returns the session of the request's access token, and false
// when the request was not authenticated or its token names no session.
func SessionID(ctx context.Context) (uuid.UUID, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p.session, ok && p.hasSession
}
