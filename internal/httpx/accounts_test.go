package httpx_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/auth"
)

const clearingCookie = "refresh_token=; Path=/api/v1/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict"

// loginAs logs an existing user in with a User-Agent, returning both tokens.
func (a *app) loginAs(t testing.TB, email, password, userAgent string) (access, refresh string) {
	t.Helper()
	return tokensOf(t, a.loginRaw(t, email, password, "User-Agent", userAgent))
}

// sessionOf is the sid of an access token.
func (a *app) sessionOf(t testing.TB, access string) string {
	t.Helper()
	c, err := a.tokens.Verify(access, auth.Access)
	require.NoError(t, err)
	sid, ok := c.AccessSession()
	require.True(t, ok)
	return sid.String()
}

// rejectedWithin waits until a refuses access with INVALID_TOKEN, and
// fails the test unless that took at most limit (the contract: an ended
// session's tokens stop working within a second); it returns how long it
// took. The wait itself goes on past limit (up to testdb.Patience), so a
// failure says how late the refusal came.
func rejectedWithin(t *testing.T, a *app, access string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var r response
	poll(t, func() bool {
		r = a.me(t, access)
		if r.Code == http.StatusUnauthorized {
			return true
		}
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		return false
	}, "the ended session's access token still works")
	took := time.Since(start)
	requireError(t, r, 401, "INVALID_TOKEN", "Invalid authentication token")
	t.Logf("the ended session's access token was refused after %s", took)
	require.Less(t, took, limit, "the ended session's access token still worked after %s", took)
	return took
}

func TestUpdateCurrentUser(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "rename@example.com")
	patch := func(body string) response {
		return a.do(t, http.MethodPatch, "/api/v1/auth/me", "application/json", body, "Authorization", "Bearer "+tok)
	}
	r := patch(`{"name": "  Ada King  "}`)
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	assert.Equal(t, "Ada King", r.JSON(t)["name"])
	assert.Equal(t, "Ada King", a.me(t, tok).JSON(t)["name"])
	for _, clear := range []string{`{"name": null}`, `{"name": "   "}`} {
		r = patch(clear)
		require.Equal(t, http.StatusOK, r.Code)
		assert.Nil(t, r.JSON(t)["name"])
	}
	b := requireError(t, patch(fmt.Sprintf(`{"name": %q}`, strings.Repeat("é", 256))), 422, "VALIDATION_ERROR", "")
	assert.Equal(t, "name", b["field"])
	assert.Equal(t, http.StatusOK, patch(fmt.Sprintf(`{"name": %q}`, strings.Repeat("é", 255))).Code)
	b = requireError(t, patch(`{}`), 422, "VALIDATION_ERROR", "name is required")
	assert.Equal(t, "name", b["field"])
	requireError(t, a.do(t, http.MethodPatch, "/api/v1/auth/me", "application/json", `{"name": "x"}`), 401, "MISSING_TOKEN", "")
}

func TestSessions(t *testing.T) {
	t.Parallel()
	a := newApp(t)

	// devices is a user logged in on a laptop and, a minute later, on a
	// phone, and another user; each subtest logs in its own.
	type devices struct{ laptop, laptopRefresh, phone, other string }
	login := func(t *testing.T, name string) devices {
		t.Helper()
		email := name + "@example.com"
		require.Equal(t, http.StatusCreated, a.register(t, email, "correct-horse").Code)
		var d devices
		d.laptop, d.laptopRefresh = a.loginAs(t, email, "correct-horse", "Laptop/1.0")
		a.clock.Advance(time.Minute)
		d.phone, _ = a.loginAs(t, email, "correct-horse", strings.Repeat("P", 300)+"\x00\x7f")
		d.other = a.user(t, "someone-else-"+email)
		return d
	}
	list := func(t *testing.T, tok string) []map[string]any {
		t.Helper()
		r := a.call(t, http.MethodGet, "/api/v1/auth/sessions", tok, nil)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		var out []map[string]any
		for _, s := range r.JSON2(t).([]any) {
			out = append(out, s.(map[string]any))
		}
		return out
	}

	t.Run("ListedMostRecentlyUsedFirst", func(t *testing.T) {
		d := login(t, "devices-listed")
		s := list(t, d.laptop)
		require.Len(t, s, 2)
		assert.Equal(t, a.sessionOf(t, d.phone), s[0]["id"], "the phone logged in last")
		assert.Equal(t, strings.Repeat("P", 255), s[0]["user_agent"], "the first 255 characters, controls dropped")
		assert.Equal(t, false, s[0]["current"])
		assert.Equal(t, a.sessionOf(t, d.laptop), s[1]["id"])
		assert.Equal(t, "Laptop/1.0", s[1]["user_agent"])
		assert.Equal(t, true, s[1]["current"], "the calling token's session")

		// A refresh is a use: the laptop comes first.
		a.clock.Advance(time.Minute)
		r := a.refresh(t, d.laptopRefresh)
		require.Equal(t, http.StatusOK, r.Code)
		s = list(t, d.phone)
		assert.Equal(t, a.sessionOf(t, d.laptop), s[0]["id"])
		assert.Equal(t, a.clock.Now().UTC().Format(time.RFC3339Nano), s[0]["last_used_at"])
		assert.Equal(t, true, s[1]["current"])
		assert.Len(t, list(t, d.other), 1, "another user's sessions are not listed")
	})
	t.Run("RevokeOne", func(t *testing.T) {
		d := login(t, "devices-revoke-one")
		phoneSID := a.sessionOf(t, d.phone)
		requireError(t, a.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+phoneSID, d.other, nil), 404, "SESSION_NOT_FOUND", "Session not found")
		requireError(t, a.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+uuid.NewString(), d.laptop, nil), 404, "SESSION_NOT_FOUND", "")
		b := requireError(t, a.call(t, http.MethodDelete, "/api/v1/auth/sessions/not-a-uuid", d.laptop, nil), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "session_id", b["field"])

		r := a.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+phoneSID, d.laptop, nil)
		require.Equal(t, http.StatusNoContent, r.Code, r.Body.String())
		rejectedWithin(t, a, d.phone, time.Second)
		requireError(t, a.call(t, http.MethodGet, "/api/v1/tasks", d.phone, nil), 401, "INVALID_TOKEN", "")
		requireError(t, a.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+phoneSID, d.laptop, nil), 404, "SESSION_NOT_FOUND", "") // already ended
		assert.Equal(t, http.StatusOK, a.me(t, d.laptop).Code, "the other session goes on")
		assert.Len(t, list(t, d.laptop), 1)
	})
	t.Run("RevokeAll", func(t *testing.T) {
		d := login(t, "devices-revoke-all")
		r := a.call(t, http.MethodDelete, "/api/v1/auth/sessions", d.laptop, nil)
		require.Equal(t, http.StatusNoContent, r.Code)
		assert.Equal(t, clearingCookie, r.Header().Get("Set-Cookie"))
		rejectedWithin(t, a, d.laptop, time.Second)
		requireError(t, a.refresh(t, d.laptopRefresh), 401, "INVALID_TOKEN", "")
		assert.Equal(t, http.StatusOK, a.me(t, d.other).Code, "another user is not logged out")
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(o *options) { o.authLimit = 5 })
	require.Equal(t, http.StatusCreated, a.register(t, "pw@example.com", "correct-horse").Code)
	here, hereRefresh := a.loginAs(t, "pw@example.com", "correct-horse", "here")
	there, thereRefresh := a.loginAs(t, "pw@example.com", "correct-horse", "there")
	change := func(current, next string) response {
		return a.call(t, http.MethodPost, "/api/v1/auth/password", here, map[string]any{"current_password": current, "new_password": next})
	}

	b := requireError(t, change("wrong-horse", "new-password"), 400, "INVALID_CURRENT_PASSWORD", "Current password is incorrect")
	assert.Equal(t, "current_password", b["field"])
	b = requireError(t, change("correct-horse", "short"), 400, "PASSWORD_TOO_SHORT", "Password must be at least 8 characters")
	assert.Equal(t, "new_password", b["field"])
	b = requireError(t, change("correct-horse", strings.Repeat("x", 73)), 400, "PASSWORD_TOO_LONG", "Password must be at most 72 bytes")
	assert.Equal(t, "new_password", b["field"])
	b = requireError(t, a.call(t, http.MethodPost, "/api/v1/auth/password", here, map[string]any{"current_password": "correct-horse"}), 422, "VALIDATION_ERROR", "")
	assert.Equal(t, "new_password", b["field"])

	r := change("correct-horse", "staple-battery")
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	assert.Equal(t, map[string]any{"message": "Password changed"}, r.JSON(t))
	rejectedWithin(t, a, there, time.Second)
	requireError(t, a.refresh(t, thereRefresh), 401, "INVALID_TOKEN", "")
	assert.Equal(t, http.StatusOK, a.me(t, here).Code, "the caller's session goes on")
	assert.Equal(t, http.StatusOK, a.refresh(t, hereRefresh).Code)
	requireError(t, a.loginRaw(t, "pw@example.com", "correct-horse"), 401, "INVALID_CREDENTIALS", "")
	assert.Equal(t, http.StatusOK, a.loginRaw(t, "pw@example.com", "staple-battery").Code)

	// Rate limited per client address like login: the 6th in the window.
	requireError(t, change("x", "y"), 429, "RATE_LIMIT_EXCEEDED", "")
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "leaving@example.com")
	_, otherDevice := a.loginAs(t, "leaving@example.com", "correct-horse", "other")
	task := a.createTask(t, tok, map[string]any{"title": "mine"})
	tag := a.createTag(t, tok, "t")
	require.Equal(t, http.StatusCreated, a.call(t, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tag), tok, nil).Code)
	stays := a.user(t, "staying@example.com")
	a.createTask(t, stays, map[string]any{"title": "theirs"})
	var uid string
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT id FROM users WHERE email = 'leaving@example.com'`).Scan(&uid))

	b := requireError(t, a.call(t, http.MethodPost, "/api/v1/auth/delete-account", tok, map[string]any{"password": "wrong-horse"}), 400, "INVALID_CURRENT_PASSWORD", "Current password is incorrect")
	assert.Equal(t, "password", b["field"])
	requireError(t, a.call(t, http.MethodPost, "/api/v1/auth/delete-account", tok, map[string]any{}), 422, "VALIDATION_ERROR", "password is required")

	r := a.call(t, http.MethodPost, "/api/v1/auth/delete-account", tok, map[string]any{"password": "correct-horse"})
	require.Equal(t, http.StatusNoContent, r.Code, r.Body.String())
	assert.Equal(t, clearingCookie, r.Header().Get("Set-Cookie"))
	rejectedWithin(t, a, tok, time.Second)
	requireError(t, a.refresh(t, otherDevice), 401, "INVALID_TOKEN", "")

	// No row of the user is left in any table that names users.
	rows, err := a.pool.Query(t.Context(), `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'user_id'`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	assert.Subset(t, tables, []string{"tasks", "tags", "refresh_sessions", "task_counts"})
	for _, table := range tables {
		var n int
		require.NoError(t, a.pool.QueryRow(t.Context(), fmt.Sprintf(`SELECT count(*) FROM %q WHERE user_id = $1`, table), uid).Scan(&n))
		assert.Zero(t, n, table)
	}
	var left int
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM users WHERE id = $1) + (SELECT count(*) FROM task_tag_link)`, uid).Scan(&left))
	assert.Zero(t, left, "the user and its links")
	assert.Equal(t, 1, a.list(t, stays, "/api/v1/tasks").total, "another user's data stays")

	// The email is free at once.
	assert.Equal(t, http.StatusCreated, a.register(t, "leaving@example.com", "another-horse").Code)
}

// TestRevocationReachesEveryInstance: two servers on one database; a session
// ended through one is refused by the other within a second.
func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := newApp(t, func(o *options) { o.databaseURL = a.url; o.listenURL = a.url })
	require.Equal(t, http.StatusCreated, a.register(t, "fleet@example.com", "correct-horse").Code)
	keep, _ := a.loginAs(t, "fleet@example.com", "correct-horse", "keep")
	lost, _ := a.loginAs(t, "fleet@example.com", "correct-horse", "lost")
	require.Equal(t, http.StatusOK, b.me(t, lost).Code, "b verifies a's tokens")

	start := time.Now()
	require.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+a.sessionOf(t, lost), keep, nil).Code)
	rejectedWithin(t, b, lost, time.Second)
	t.Logf("from the revoking request to a 401 on the other instance: %s", time.Since(start))
	assert.Equal(t, http.StatusOK, b.me(t, keep).Code)
}

// TestRevocationsWhileTheListenerIsDown: a session ended while an instance
// cannot hear the database's notifications is refused there all the same
// (each token is checked against the database meanwhile), the instance says
// it is not ready, and once the listener is back it needs no statement
// again.
func TestRevocationsWhileTheListenerIsDown(t *testing.T) {
	t.Parallel()
	direct, viaProxy, proxy := proxiedDatabase(t)
	a := newApp(t, func(o *options) { o.databaseURL = direct.String(); o.listenURL = viaProxy.String() })
	require.Equal(t, http.StatusCreated, a.register(t, "reload@example.com", "correct-horse").Code)
	keep, _ := a.loginAs(t, "reload@example.com", "correct-horse", "keep")
	lost, _ := a.loginAs(t, "reload@example.com", "correct-horse", "lost")

	srv := liveServer(t, a, time.Second)
	stream, resp := openEvents(t, srv, keep, "")
	require.NotNil(t, stream, "status %d", resp.StatusCode)

	// The listening connection is killed and cannot come back for now.
	proxy.Refuse()
	pid := a.listener.BackendPID()
	require.NotZero(t, pid)
	var killed bool
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, int32(pid)).Scan(&killed))
	require.True(t, killed)
	poll(t, func() bool { return !a.listener.Connected() }, "the listener notices")
	requireError(t, a.do(t, http.MethodGet, "/readyz", "", ""), 503, "SERVICE_UNAVAILABLE", "Not listening for the database's notifications")
	// Its streams would hear nothing more (wakes, endings): they end, and
	// none opens until the process listens again.
	stream.ended(t)
	r := a.call(t, http.MethodGet, "/api/v1/events", keep, nil)
	requireError(t, r, 503, "SERVICE_UNAVAILABLE", "Not listening for the database's notifications")
	assert.Equal(t, "5", r.Header().Get("Retry-After"))

	// The session ends while nobody listens: the next request is refused.
	require.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+a.sessionOf(t, lost), keep, nil).Code)
	before := a.queries.n.Load()
	requireError(t, a.me(t, lost), 401, "INVALID_TOKEN", "")
	assert.Equal(t, int64(1), a.queries.n.Load()-before, "checked in the database: one statement")
	assert.Equal(t, http.StatusOK, a.me(t, keep).Code)

	proxy.Start(t)
	poll(t, a.listener.Connected, "the listener reconnects")
	assert.Equal(t, http.StatusOK, a.do(t, http.MethodGet, "/readyz", "", "").Code)
	again, resp := openEvents(t, srv, keep, "")
	require.NotNil(t, again, "streams open again: status %d", resp.StatusCode)
	requireError(t, a.me(t, lost), 401, "INVALID_TOKEN", "")
	before = a.queries.n.Load()
	assert.Equal(t, http.StatusOK, a.me(t, keep).Code)
	assert.Equal(t, int64(1), a.queries.n.Load()-before, "listening again: the token costs no statement")
}

// TestRevocationsBeforeTheListenerConnects: an instance that starts while
// its listener cannot connect has loaded no revocations; it refuses the
// tokens of ended sessions all the same.
func TestRevocationsBeforeTheListenerConnects(t *testing.T) {
	t.Parallel()
	direct, viaProxy, proxy := proxiedDatabase(t)
	other := newApp(t, func(o *options) { o.databaseURL = direct.String(); o.listenURL = direct.String() })
	require.Equal(t, http.StatusCreated, other.register(t, "early@example.com", "correct-horse").Code)
	keep, _ := other.loginAs(t, "early@example.com", "correct-horse", "keep")
	lost, _ := other.loginAs(t, "early@example.com", "correct-horse", "lost")
	require.Equal(t, http.StatusNoContent, other.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+other.sessionOf(t, lost), keep, nil).Code)

	proxy.Refuse()
	a := newApp(t, func(o *options) {
		o.databaseURL = direct.String()
		o.listenURL = viaProxy.String()
		o.listenerDown = true
	})
	require.False(t, a.listener.Connected())
	requireError(t, a.me(t, lost), 401, "INVALID_TOKEN", "")
	assert.Equal(t, http.StatusOK, a.me(t, keep).Code)
	requireError(t, a.do(t, http.MethodGet, "/readyz", "", ""), 503, "SERVICE_UNAVAILABLE", "")
}

// TestRevocationsOutliveTheShortestTokenLifetime: a replica with a shorter
// ACCESS_TOKEN_TTL than the one that issued a token still refuses it once
// its session ended, however long ago, and its pruning keeps what the
// others need.
func TestRevocationsOutliveTheShortestTokenLifetime(t *testing.T) {
	t.Parallel()
	a := newApp(t) // 15-minute access tokens
	require.Equal(t, http.StatusCreated, a.register(t, "ttl@example.com", "correct-horse").Code)
	keep, _ := a.loginAs(t, "ttl@example.com", "correct-horse", "keep")
	lost, _ := a.loginAs(t, "ttl@example.com", "correct-horse", "lost")
	require.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, "/api/v1/auth/sessions/"+a.sessionOf(t, lost), keep, nil).Code)
	// The revocation happened 65 s ago, as the database's clock tells.
	_, err := a.pool.Exec(t.Context(), `UPDATE session_revocations SET revoked_at = revoked_at - interval '65 seconds'`)
	require.NoError(t, err)

	short := func(o *options) { o.databaseURL = a.url; o.listenURL = a.url; o.accessTTL = time.Second }
	b := newApp(t, short)
	requireError(t, b.me(t, lost), 401, "INVALID_TOKEN", "")
	_, err = b.retention.PruneSessions(t.Context())
	require.NoError(t, err)
	c := newApp(t, short) // started after b pruned
	requireError(t, c.me(t, lost), 401, "INVALID_TOKEN", "")
	assert.Equal(t, http.StatusOK, c.me(t, keep).Code)
}

func TestTokensWithoutASessionKeepWorking(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user(t, "legacy@example.com")
	var uid string
	require.NoError(t, a.pool.QueryRow(t.Context(), `SELECT id FROM users WHERE email = 'legacy@example.com'`).Scan(&uid))
	now := a.clock.Now()
	legacy, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": uid, "email": "legacy@example.com", "type": "access",
		"jti": uuid.NewString(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}).SignedString([]byte(testSecret))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, a.me(t, legacy).Code, "issued before access tokens carried sid")
	r := a.call(t, http.MethodGet, "/api/v1/auth/sessions", legacy, nil)
	require.Equal(t, http.StatusOK, r.Code)
	for _, s := range r.JSON2(t).([]any) {
		assert.Equal(t, false, s.(map[string]any)["current"])
	}
}

// TestAccountRoutesStatements: what each new route costs; a live session's
// token is checked in memory, so GET /auth/me stays one statement.
func TestAccountRoutesStatements(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "costs@example.com")
	_, spare := a.loginAs(t, "costs@example.com", "correct-horse", "spare")
	claims, err := a.tokens.Verify(spare, auth.Refresh)
	require.NoError(t, err)
	spareSID, _ := claims.Session()
	count := func(method, path string, body any, want int) {
		t.Helper()
		before := a.queries.n.Load()
		r := a.call(t, method, path, tok, body)
		require.Less(t, r.Code, 300, "%s %s: %s", method, path, r.Body.String())
		assert.Equal(t, int64(want), a.queries.n.Load()-before, "%s %s", method, path)
	}
	count(http.MethodGet, "/api/v1/auth/me", nil, 1)
	count(http.MethodPatch, "/api/v1/auth/me", map[string]any{"name": "C"}, 1)
	count(http.MethodGet, "/api/v1/auth/sessions", nil, 1)
	count(http.MethodDelete, "/api/v1/auth/sessions/"+spareSID.String(), nil, 1)
	count(http.MethodPost, "/api/v1/auth/password", map[string]any{"current_password": "correct-horse", "new_password": "correct-horse-2"},
		5) // the hash; then begin, the new hash, the other sessions ended, commit (db/queries/users.sql: SetPasswordHash)
	count(http.MethodGet, "/api/v1/tasks", nil, 1) // the counters, which also tell a user that is gone
	count(http.MethodDelete, "/api/v1/auth/sessions", nil, 1)
	tok = a.user(t, "costs2@example.com")
	count(http.MethodPost, "/api/v1/auth/delete-account", map[string]any{"password": "correct-horse"}, 2)
}
