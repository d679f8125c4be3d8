package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

type principalKey struct{}

// principal is who a request is authenticated as: a user and, for tokens
// that carry one, the session.
type principal struct {
	user, session uuid.UUID
	hasSession    bool
	expires       time.Time
}

// WithUser returns a context that carries the authenticated user's id, the
// session of its token (hasSession false: a token without one) and when the
// token expires.
func WithUser(ctx context.Context, user, session uuid.UUID, hasSession bool, expires time.Time) context.Context {
	return context.WithValue(ctx, principalKey{}, principal{user: user, session: session, hasSession: hasSession, expires: expires})
}

// Expires returns when the request's access token expires, and false when
// the request was not authenticated.
func Expires(ctx context.Context) (time.Time, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p.expires, ok
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
