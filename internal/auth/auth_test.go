package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/auth"
)

func TestMatchesTreatsUnknownUsersAndLongPasswordsAlike(t *testing.T) {
	h, err := auth.NewHasher(4, 2)
	require.NoError(t, err)
	hash, err := h.Hash(context.Background(), "correct-horse")
	require.NoError(t, err)
	for _, c := range []struct {
		hash, pw string
		want     bool
	}{
		{hash, "correct-horse", true},
		{hash, "wrong-horse", false},
		{"", "correct-horse", false},
		{hash, "correct-horse" + string(make([]byte, 80)), false},
	} {
		ok, err := h.Matches(context.Background(), c.hash, c.pw)
		require.NoError(t, err)
		assert.Equal(t, c.want, ok)
	}
}

func TestTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	tok, err := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), 15*time.Minute, 7*24*time.Hour, clock)
	require.NoError(t, err)
	uid, accessSID := uuid.New(), uuid.New()
	access, err := tok.IssueAccess(uid, "a@example.com", accessSID)
	require.NoError(t, err)
	c, err := tok.Verify(access, auth.Access)
	require.NoError(t, err)
	got, err := c.UserID()
	require.NoError(t, err)
	assert.Equal(t, uid, got)
	gotAccessSID, ok := c.AccessSession()
	assert.True(t, ok)
	assert.Equal(t, accessSID, gotAccessSID, "access tokens carry their session")
	_, err = tok.Verify(access, auth.Refresh)
	assert.ErrorIs(t, err, auth.ErrWrongType)
	sid, jti := uuid.New(), uuid.New()
	refresh, err := tok.IssueRefresh(uid, "a@example.com", sid, jti, now.Add(time.Hour))
	require.NoError(t, err)
	rc, err := tok.Verify(refresh, auth.Refresh)
	require.NoError(t, err)
	gotSID, gotJTI := rc.Session()
	assert.Equal(t, sid, gotSID)
	assert.Equal(t, jti, gotJTI)
	// A refresh-typed token without a session (signed with our key) is invalid.
	noSession, err := jwt.NewWithClaims(jwt.SigningMethodHS256, auth.Claims{Type: auth.Refresh, RegisteredClaims: jwt.RegisteredClaims{
		Subject: uid.String(), IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).
		SignedString([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	_, err = tok.Verify(noSession, auth.Refresh)
	assert.ErrorIs(t, err, auth.ErrInvalid)
	// An access token from before sessions were named still works; one with
	// a sid that is no UUID does not.
	sign := func(c auth.Claims) string {
		c.Subject, c.IssuedAt, c.ExpiresAt = uid.String(), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(time.Hour))
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
		require.NoError(t, err)
		return s
	}
	old, err := tok.Verify(sign(auth.Claims{Type: auth.Access}), auth.Access)
	require.NoError(t, err)
	_, ok = old.AccessSession()
	assert.False(t, ok)
	_, err = tok.Verify(sign(auth.Claims{Type: auth.Access, SessionID: "not-a-uuid"}), auth.Access)
	assert.ErrorIs(t, err, auth.ErrInvalid)
	now = now.Add(15*time.Minute + time.Second)
	_, err = tok.Verify(access, auth.Access)
	assert.ErrorIs(t, err, auth.ErrExpired)
	_, err = auth.NewTokens([]byte("short"), time.Minute, time.Minute, clock)
	assert.Error(t, err)
}

// An access token's check is remembered, and the remembered answer keeps the
// expiry exactly as the first check does.
func TestVerifiedAccessTokensAreRemembered(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tok, err := auth.NewTokens(secret, 15*time.Minute, 7*24*time.Hour, func() time.Time { return now })
	require.NoError(t, err)
	uid, sid := uuid.New(), uuid.New()
	seen, err := tok.IssueAccess(uid, "a@example.com", sid)
	require.NoError(t, err)
	unseen, err := tok.IssueAccess(uid, "a@example.com", sid)
	require.NoError(t, err)
	require.NotEqual(t, seen, unseen)

	first, err := tok.Verify(seen, auth.Access)
	require.NoError(t, err)
	again, err := tok.Verify(seen, auth.Access)
	require.NoError(t, err)
	assert.Equal(t, *first, *again)
	_, err = tok.Verify(seen+"x", auth.Access)
	assert.ErrorIs(t, err, auth.ErrInvalid, "a tampered token is checked, not remembered")

	now = now.Add(15*time.Minute - time.Second)
	_, err = tok.Verify(seen, auth.Access)
	require.NoError(t, err)
	now = now.Add(time.Second) // the expiry itself
	for _, token := range []string{seen, unseen} {
		_, err = tok.Verify(token, auth.Access)
		assert.ErrorIs(t, err, auth.ErrExpired, "remembered or not")
	}
}
