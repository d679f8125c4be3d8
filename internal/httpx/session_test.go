package httpx_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/auth"
)

func TestRefresh(t *testing.T) {
	t.Parallel()

	t.Run("ValidRotatesAndNewTokenWorks", func(t *testing.T) {
		a := newApp(t)
		_, refresh := a.login(t, "r1@example.com", "correct-horse")
		a.clock.Advance(time.Second) // a new iat, so a new token is visibly new
		r := a.refresh(t, refresh)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		body := r.JSON(t)
		assert.Equal(t, "bearer", body["token_type"])
		c := r.Cookie("refresh_token")
		require.NotNil(t, c)
		assert.NotEqual(t, refresh, c.Value, "the refresh cookie is rotated")
		assert.Regexp(t, `; Path=/api/v1/auth; Max-Age=604800; HttpOnly; Secure; SameSite=Strict$`, r.Header().Get("Set-Cookie"))
		me := a.me(t, body["access_token"].(string))
		require.Equal(t, http.StatusOK, me.Code)
		assert.Equal(t, "r1@example.com", me.JSON(t)["email"])
		// The rotated token works in turn.
		assert.Equal(t, http.StatusOK, a.refresh(t, c.Value).Code)
	})
	t.Run("NoCookie", func(t *testing.T) {
		a := newApp(t)
		requireError(t, a.refresh(t, ""), 401, "MISSING_REFRESH_TOKEN", "Refresh token not found")
		requireError(t, a.do(t, "POST", "/api/v1/auth/refresh", "", "", "Cookie", "refresh_token="), 401, "MISSING_REFRESH_TOKEN", "Refresh token not found")
	})
	t.Run("Garbage", func(t *testing.T) {
		a := newApp(t)
		requireError(t, a.refresh(t, "not-a-jwt"), 401, "INVALID_TOKEN", "Invalid authentication token")
	})
	t.Run("AccessTokenInCookie", func(t *testing.T) {
		a := newApp(t)
		access, _ := a.login(t, "r2@example.com", "correct-horse")
		requireError(t, a.refresh(t, access), 401, "INVALID_TOKEN_TYPE", "Invalid token type for this operation")
	})
	t.Run("Expired", func(t *testing.T) {
		a := newApp(t)
		_, refresh := a.login(t, "r3@example.com", "correct-horse")
		a.clock.Advance(7*24*time.Hour + time.Second)
		requireError(t, a.refresh(t, refresh), 401, "REFRESH_TOKEN_EXPIRED", "Refresh token has expired. Please log in again")
	})
	t.Run("ReplayInsideGraceDoesNotRevoke", func(t *testing.T) {
		a := newApp(t)
		_, old := a.login(t, "r4@example.com", "correct-horse")
		first := a.refresh(t, old)
		require.Equal(t, http.StatusOK, first.Code)
		a.clock.Advance(5 * time.Second)
		// A second tab sends the same old cookie moments later.
		second := a.refresh(t, old)
		require.Equal(t, http.StatusOK, second.Code, second.Body.String())
		// It gets the session's current token: the same session and jti as
		// the first tab's, not a new rotation.
		c1, c2 := first.Cookie("refresh_token"), second.Cookie("refresh_token")
		require.NotNil(t, c1)
		require.NotNil(t, c2)
		claims1, err := a.tokens.Verify(c1.Value, auth.Refresh)
		require.NoError(t, err)
		claims2, err := a.tokens.Verify(c2.Value, auth.Refresh)
		require.NoError(t, err)
		sid1, jti1 := claims1.Session()
		sid2, jti2 := claims2.Session()
		assert.Equal(t, sid1, sid2)
		assert.Equal(t, jti1, jti2)
		// Both tabs can go on: the session was not revoked.
		assert.Equal(t, http.StatusOK, a.me(t, second.JSON(t)["access_token"].(string)).Code)
		assert.Equal(t, http.StatusOK, a.refresh(t, second.Cookie("refresh_token").Value).Code)
	})
	t.Run("ReplayAfterGraceRevokesFamily", func(t *testing.T) {
		a := newApp(t)
		_, old := a.login(t, "r5@example.com", "correct-horse")
		r := a.refresh(t, old)
		require.Equal(t, http.StatusOK, r.Code)
		current := r.Cookie("refresh_token").Value
		a.clock.Advance(11 * time.Second)
		requireError(t, a.refresh(t, old), 401, "INVALID_TOKEN", "")
		// The legitimate holder's newer token is dead too.
		requireError(t, a.refresh(t, current), 401, "INVALID_TOKEN", "")
		// Other sessions of the user are unaffected.
		r = a.loginRaw(t, "r5@example.com", "correct-horse")
		require.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, http.StatusOK, a.refresh(t, r.Cookie("refresh_token").Value).Code)
	})
	t.Run("GraceIsConfigurable", func(t *testing.T) {
		a := newApp(t, func(o *options) { o.grace = 0 })
		_, old := a.login(t, "r6@example.com", "correct-horse")
		r := a.refresh(t, old)
		require.Equal(t, http.StatusOK, r.Code)
		a.clock.Advance(time.Second)
		requireError(t, a.refresh(t, old), 401, "INVALID_TOKEN", "")
		requireError(t, a.refresh(t, r.Cookie("refresh_token").Value), 401, "INVALID_TOKEN", "")
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	const clearing = "refresh_token=; Path=/api/v1/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict"

	t.Run("WithCookieRevokesSession", func(t *testing.T) {
		a := newApp(t)
		_, refresh := a.login(t, "out@example.com", "correct-horse")
		r := a.do(t, "POST", "/api/v1/auth/logout", "", "", "Cookie", "refresh_token="+refresh)
		require.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, map[string]any{"message": "Successfully logged out"}, r.JSON(t))
		assert.Equal(t, clearing, r.Header().Get("Set-Cookie"))
		requireError(t, a.refresh(t, refresh), 401, "INVALID_TOKEN", "")
	})
	t.Run("WithoutCookie", func(t *testing.T) {
		a := newApp(t)
		for range 2 { // idempotent
			r := a.do(t, "POST", "/api/v1/auth/logout", "", "")
			require.Equal(t, http.StatusOK, r.Code)
			assert.Equal(t, "Successfully logged out", r.JSON(t)["message"])
			assert.Equal(t, clearing, r.Header().Get("Set-Cookie"))
		}
	})
	t.Run("WithGarbageCookie", func(t *testing.T) {
		a := newApp(t)
		r := a.do(t, "POST", "/api/v1/auth/logout", "", "", "Cookie", "refresh_token=garbage")
		require.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, clearing, r.Header().Get("Set-Cookie"))
	})
}

// TestRefreshAcrossReplicas: a session refreshed on one replica and replayed
// on another is the same session: a replay inside the grace window gets the
// current token, one after it ends the session on both.
func TestRefreshAcrossReplicas(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := newApp(t, func(o *options) { o.databaseURL = a.url; o.listenURL = a.url })
	_, old := a.login(t, "replicas@example.com", "correct-horse")
	first := a.refresh(t, old)
	require.Equal(t, http.StatusOK, first.Code)
	second := b.refresh(t, old) // another tab, another replica, moments later
	require.Equal(t, http.StatusOK, second.Code, second.Body.String())
	c1, err := a.tokens.Verify(first.Cookie("refresh_token").Value, auth.Refresh)
	require.NoError(t, err)
	c2, err := b.tokens.Verify(second.Cookie("refresh_token").Value, auth.Refresh)
	require.NoError(t, err)
	sid1, jti1 := c1.Session()
	sid2, jti2 := c2.Session()
	assert.Equal(t, sid1, sid2)
	assert.Equal(t, jti1, jti2, "the current token of the one session")

	b.clock.Advance(time.Minute) // past the grace window: a stolen copy
	requireError(t, b.refresh(t, old), 401, "INVALID_TOKEN", "")
	requireError(t, a.refresh(t, first.Cookie("refresh_token").Value), 401, "INVALID_TOKEN", "") // ended on every replica
}
