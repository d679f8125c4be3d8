// Package auth issues and verifies the service's JWTs, hashes passwords with
// bcrypt, and carries the authenticated user id in a context.Context.
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/todoapp/todo-api/internal/cache"
)

// TokenType is the `type` claim: which operation a token is good for.
type TokenType string

// The two token types.
const (
	Access  TokenType = "access"
	Refresh TokenType = "refresh"
)

// Verification failures. Callers map them to the contract's codes, which
// differ between access and refresh tokens.
var (
	ErrExpired   = errors.New("token expired")
	ErrInvalid   = errors.New("token invalid")
	ErrWrongType = errors.New("wrong token type")
)

// Claims are the claims of every token: sub, email, iat, exp, jti, type, and
// sid, the server-side session the token belongs to (always on refresh
// tokens; on access tokens issued since sessions could be ended one by one).
type Claims struct {
	Email     string    `json:"email"`
	Type      TokenType `json:"type"`
	SessionID string    `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// UserID returns the parsed `sub` claim.
func (c *Claims) UserID() (uuid.UUID, error) { return uuid.Parse(c.Subject) }

// Session returns a refresh token's session (`sid`) and token id (`jti`).
// Verify has checked that both are UUIDs.
func (c *Claims) Session() (sid, jti uuid.UUID) {
	return uuid.MustParse(c.SessionID), uuid.MustParse(c.ID)
}

// AccessSession returns an access token's session, and false for a token
// issued without one. Verify has checked that a present sid is a UUID.
func (c *Claims) AccessSession() (uuid.UUID, bool) {
	if c.SessionID == "" {
		return uuid.UUID{}, false
	}
	return uuid.MustParse(c.SessionID), true
}

// Tokens issues and verifies HS256 tokens with one secret.
type Tokens struct {
	secret     []byte
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
	parser     *jwt.Parser
	verified   *cache.Generations[string, Claims]
}

// verified remembers the access tokens whose signature was checked: a client
// sends the same one with every request for its lifetime, and the check
// (base64, HMAC, reflective JSON) was the largest cost of a request that
// reads one row. At most 2 x maxVerified entries (about 1 KB each); only
// tokens that passed every check are kept; each hit checks the expiry again.
const maxVerified = 4096

// NewTokens returns a Tokens that signs with secret (used byte for byte as the
// HMAC key). now is the clock; pass time.Now outside tests.
func NewTokens(secret []byte, accessTTL, refreshTTL time.Duration, now func() time.Time) (*Tokens, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: secret must be at least 32 bytes")
	}
	if accessTTL <= 0 || refreshTTL <= 0 || now == nil {
		return nil, errors.New("auth: token lifetimes and clock are required")
	}
	return &Tokens{
		secret:     secret,
		accessTTL:  accessTTL,
		refreshTTL: refreshTTL,
		now:        now,
		verified:   cache.New[string, Claims](maxVerified),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// RefreshTTL is how long a refresh token (and its session) lives.
func (t *Tokens) RefreshTTL() time.Duration { return t.refreshTTL }

// IssueAccess returns an access token for the user's session sid.
func (t *Tokens) IssueAccess(userID uuid.UUID, email string, sid uuid.UUID) (string, error) {
	return t.sign(Claims{Email: email, Type: Access, SessionID: sid.String()}, userID, uuid.New(), t.accessTTL)
}

// AccessTTL is how long an access token lives.
func (t *Tokens) AccessTTL() time.Duration { return t.accessTTL }

// IssueRefresh returns a refresh token of session sid with the given jti.
func (t *Tokens) IssueRefresh(userID uuid.UUID, email string, sid, jti uuid.UUID, expires time.Time) (string, error) {
	return t.sign(Claims{Email: email, Type: Refresh, SessionID: sid.String()}, userID, jti, expires.Sub(t.now()))
}

func (t *Tokens) sign(c Claims, userID, jti uuid.UUID, ttl time.Duration) (string, error) {
	now := t.now()
	c.Subject = userID.String()
	c.ID = jti.String()
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify checks the signature (HS256 only), the expiry and the type of a
// token, and that a refresh token names its session. It returns ErrExpired,
// ErrWrongType or ErrInvalid on failure.
func (t *Tokens) Verify(token string, want TokenType) (*Claims, error) {
	if want == Access {
		if c, ok := t.verified.Get(token); ok {
			if !t.now().Before(c.ExpiresAt.Time) { // as jwt's own check: expired at exp
				return nil, ErrExpired
			}
			return &c, nil
		}
	}
	var c Claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		// The signature was checked before the expiry, so this token is ours.
		return nil, ErrExpired
	case err != nil:
		return nil, ErrInvalid
	case c.Type != want:
		if c.Type == Access || c.Type == Refresh {
			return nil, ErrWrongType
		}
		return nil, ErrInvalid
	}
	if _, err := c.UserID(); err != nil {
		return nil, ErrInvalid
	}
	// Session and AccessSession may parse these without checking.
	if want == Refresh || c.SessionID != "" {
		if _, err := uuid.Parse(c.SessionID); err != nil {
			return nil, ErrInvalid
		}
	}
	if want == Refresh {
		if _, err := uuid.Parse(c.ID); err != nil {
			return nil, ErrInvalid
		}
	}
	if want == Access {
		t.verified.Put(token, c)
	}
	return &c, nil
}
