package httpx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	a := newApp(t)

	t.Run("CreatedWithName", func(t *testing.T) {
		r := a.postJSON(t, "/api/v1/auth/register", map[string]any{"email": "  Ada@Example.COM ", "password": "correct-horse", "name": "Ada"})
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		body := r.JSON(t)
		assert.Equal(t, "ada@example.com", body["email"])
		assert.Equal(t, "Ada", body["name"])
		_, err := uuid.Parse(body["id"].(string))
		assert.NoError(t, err)
		created, err := time.Parse(time.RFC3339Nano, body["created_at"].(string))
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(body["created_at"].(string), "Z"), "created_at is UTC")
		assert.WithinDuration(t, time.Now(), created, time.Minute)
		assert.Len(t, body, 4, "id, email, name, created_at and nothing else: %v", body)
	})
	t.Run("CreatedWithoutName", func(t *testing.T) {
		r := a.register(t, "noname@example.com", "correct-horse")
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		body := r.JSON(t)
		v, present := body["name"]
		assert.True(t, present)
		assert.Nil(t, v)
	})
	t.Run("DuplicateEmailAnyCase", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, a.register(t, "dup@example.com", "correct-horse").Code)
		b := requireError(t, a.register(t, "DUP@example.com", "another-pass"), 400, "EMAIL_ALREADY_EXISTS", "A user with this email already exists")
		assert.Equal(t, "email", b["field"])
	})
	t.Run("PasswordTooShort", func(t *testing.T) {
		requireError(t, a.register(t, "short@example.com", "1234567"), 400, "PASSWORD_TOO_SHORT", "Password must be at least 8 characters")
		// Eight characters, counted as characters rather than bytes.
		assert.Equal(t, http.StatusCreated, a.register(t, "eight@example.com", "ééééèèèè").Code)
	})
	t.Run("PasswordTooLong", func(t *testing.T) {
		assert.Equal(t, http.StatusCreated, a.register(t, "max@example.com", strings.Repeat("p", 72)).Code)
		requireError(t, a.register(t, "long@example.com", strings.Repeat("p", 73)), 400, "PASSWORD_TOO_LONG", "Password must be at most 72 bytes")
		// 40 characters but 80 bytes.
		requireError(t, a.register(t, "long2@example.com", strings.Repeat("é", 40)), 400, "PASSWORD_TOO_LONG", "")
	})
	t.Run("InvalidEmail", func(t *testing.T) {
		for _, email := range []string{"", "plain", "a@b", "@example.com", "a@@example.com", "a b@example.com",
			"Ada <ada@example.com>", "a@example..com", strings.Repeat("a", 245) + "@example.com"} {
			b := requireError(t, a.register(t, email, "correct-horse"), 400, "INVALID_EMAIL", "Please provide a valid email address")
			assert.Equal(t, "email", b["field"], email)
		}
	})
	t.Run("MissingEmail", func(t *testing.T) {
		b := requireError(t, a.postJSON(t, "/api/v1/auth/register", map[string]any{"password": "correct-horse"}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "email", b["field"])
	})
	t.Run("MissingPassword", func(t *testing.T) {
		b := requireError(t, a.postJSON(t, "/api/v1/auth/register", map[string]any{"email": "x@example.com"}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "password", b["field"])
	})
	t.Run("WrongJSONType", func(t *testing.T) {
		b := requireError(t, a.postJSON(t, "/api/v1/auth/register", map[string]any{"email": 5, "password": "correct-horse"}), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "email", b["field"])
	})
	t.Run("UnparseableBody", func(t *testing.T) {
		requireError(t, a.do(t, "POST", "/api/v1/auth/register", "application/json", `{"email":`), 422, "VALIDATION_ERROR", "")
	})
	t.Run("ContentTypeWithCharset", func(t *testing.T) {
		r := a.do(t, "POST", "/api/v1/auth/register", "application/json; charset=utf-8", `{"email":"charset@example.com","password":"correct-horse"}`)
		assert.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		r = a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded; charset=UTF-8", "username=charset%40example.com&password=correct-horse")
		assert.Equal(t, http.StatusOK, r.Code, r.Body.String())
	})
	t.Run("WrongContentType", func(t *testing.T) {
		requireError(t, a.do(t, "POST", "/api/v1/auth/register", "text/plain", "hello"), 415, "UNSUPPORTED_MEDIA_TYPE", "")
	})
	t.Run("HashStoredNotPlaintext", func(t *testing.T) {
		const pw = "plaintext-never-stored"
		require.Equal(t, http.StatusCreated, a.register(t, "hash@example.com", pw).Code)
		var hash string
		require.NoError(t, a.pool.QueryRow(context.Background(), "SELECT password_hash FROM users WHERE email = 'hash@example.com'").Scan(&hash))
		assert.NotContains(t, hash, pw)
		assert.True(t, strings.HasPrefix(hash, "$2"), "bcrypt hash: %s", hash)
		assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)))
	})
	t.Run("SQLInjectionIsJustData", func(t *testing.T) {
		for i := range 3 { // users of its own, to be found again after the attempts
			require.Equal(t, http.StatusCreated, a.register(t, fmt.Sprintf("before-injection-%d@example.com", i), "correct-horse").Code)
		}
		requireError(t, a.register(t, "x'); DROP TABLE users;--@example.com", "correct-horse"), 400, "INVALID_EMAIL", "")
		r := a.postJSON(t, "/api/v1/auth/register", map[string]any{"email": "bobby@example.com", "password": "'; DROP TABLE users; --", "name": "Robert'); DROP TABLE users;--"})
		require.Equal(t, http.StatusCreated, r.Code, r.Body.String())
		assert.Equal(t, "Robert'); DROP TABLE users;--", r.JSON(t)["name"])
		requireError(t, a.loginRaw(t, "' OR '1'='1", "' OR '1'='1"), 401, "INVALID_CREDENTIALS", "")
		requireError(t, a.loginRaw(t, "bobby@example.com' --", "x"), 401, "INVALID_CREDENTIALS", "")
		var n int
		require.NoError(t, a.pool.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n))
		assert.Greater(t, n, 3)
	})
}

func TestRegisterConcurrentSameEmail(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	const n = 20
	codes := make([]int, n)
	errCodes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.register(t, "race@example.com", fmt.Sprintf("password-%d", i))
			codes[i] = r.Code
			var body struct{ Code string }
			if r.Code != http.StatusCreated && json.Unmarshal(r.Body.Bytes(), &body) == nil {
				errCodes[i] = body.Code // no require off the test goroutine
			}
		}()
	}
	wg.Wait()
	created := 0
	for i, c := range codes {
		if c == http.StatusCreated {
			created++
			continue
		}
		assert.Equal(t, http.StatusBadRequest, c)
		assert.Equal(t, "EMAIL_ALREADY_EXISTS", errCodes[i])
	}
	assert.Equal(t, 1, created)
	var rows int
	require.NoError(t, a.pool.QueryRow(context.Background(), "SELECT count(*) FROM users WHERE email = 'race@example.com'").Scan(&rows))
	assert.Equal(t, 1, rows)
}

func TestLogin(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	require.Equal(t, http.StatusCreated, a.register(t, "login@example.com", "correct-horse").Code)

	t.Run("SuccessSetsRefreshCookie", func(t *testing.T) {
		r := a.loginRaw(t, "LOGIN@example.com", "correct-horse")
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		body := r.JSON(t)
		assert.Equal(t, "bearer", body["token_type"])
		assert.NotEmpty(t, body["access_token"])
		assert.Len(t, body, 2)
		raw := r.Header().Get("Set-Cookie")
		assert.Regexp(t, `^refresh_token=[\w-]+\.[\w-]+\.[\w-]+; Path=/api/v1/auth; Max-Age=604800; HttpOnly; Secure; SameSite=Strict$`, raw)
		assert.Equal(t, http.StatusOK, a.me(t, body["access_token"].(string)).Code)
	})
	t.Run("WrongPassword", func(t *testing.T) {
		r := a.loginRaw(t, "login@example.com", "wrong-horse")
		requireError(t, r, 401, "INVALID_CREDENTIALS", "Invalid email or password")
		assert.Empty(t, r.Header().Get("Set-Cookie"))
	})
	t.Run("UnknownEmail", func(t *testing.T) {
		requireError(t, a.loginRaw(t, "nobody@example.com", "correct-horse"), 401, "INVALID_CREDENTIALS", "Invalid email or password")
	})
	t.Run("PasswordOver72Bytes", func(t *testing.T) {
		requireError(t, a.loginRaw(t, "login@example.com", "correct-horse"+strings.Repeat("x", 80)), 401, "INVALID_CREDENTIALS", "Invalid email or password")
	})
	t.Run("MissingPassword", func(t *testing.T) {
		b := requireError(t, a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "username=login%40example.com"), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "password", b["field"])
	})
	t.Run("MissingUsername", func(t *testing.T) {
		b := requireError(t, a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "password=x"), 422, "VALIDATION_ERROR", "")
		assert.Equal(t, "username", b["field"])
	})
	t.Run("EmptyBody", func(t *testing.T) {
		requireError(t, a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", ""), 422, "VALIDATION_ERROR", "")
	})
	t.Run("MalformedForm", func(t *testing.T) {
		requireError(t, a.do(t, "POST", "/api/v1/auth/login", "application/x-www-form-urlencoded", "username=%zz&password=x"), 422, "VALIDATION_ERROR", "")
	})
	t.Run("JSONInsteadOfForm", func(t *testing.T) {
		requireError(t, a.do(t, "POST", "/api/v1/auth/login", "application/json", `{"username":"a","password":"b"}`), 415, "UNSUPPORTED_MEDIA_TYPE", "")
	})
}

func TestAccessToken(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	access, refresh := a.login(t, "tok@example.com", "correct-horse")

	t.Run("Valid", func(t *testing.T) {
		r := a.me(t, access)
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		assert.Equal(t, "tok@example.com", r.JSON(t)["email"])
	})
	t.Run("ClaimsAnd15MinuteLifetime", func(t *testing.T) {
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(access, claims)
		require.NoError(t, err)
		for _, k := range []string{"sub", "email", "iat", "exp", "type"} {
			assert.Contains(t, claims, k)
		}
		assert.Equal(t, "access", claims["type"])
		assert.Equal(t, "tok@example.com", claims["email"])
		assert.Equal(t, 900.0, claims["exp"].(float64)-claims["iat"].(float64))
		tok, _, _ := jwt.NewParser().ParseUnverified(access, jwt.MapClaims{})
		assert.Equal(t, "HS256", tok.Header["alg"])
	})
	t.Run("MissingHeader", func(t *testing.T) {
		r := a.do(t, "GET", "/api/v1/auth/me", "", "")
		requireError(t, r, 401, "MISSING_TOKEN", "Authentication required")
		assert.Equal(t, "Bearer", r.Header().Get("WWW-Authenticate"))
	})
	t.Run("BlankHeader", func(t *testing.T) {
		requireError(t, a.do(t, "GET", "/api/v1/auth/me", "", "", "Authorization", "Bearer "), 401, "MISSING_TOKEN", "")
	})
	t.Run("Malformed", func(t *testing.T) {
		for _, tok := range []string{"garbage", "a.b.c", access + "x", access[:len(access)-4]} {
			r := a.me(t, tok)
			requireError(t, r, 401, "INVALID_TOKEN", "Invalid authentication token")
			assert.Equal(t, "Bearer", r.Header().Get("WWW-Authenticate"))
		}
	})
	t.Run("OtherScheme", func(t *testing.T) {
		requireError(t, a.do(t, "GET", "/api/v1/auth/me", "", "", "Authorization", "Basic "+access), 401, "INVALID_TOKEN", "")
	})
	t.Run("RefreshTokenAsAccess", func(t *testing.T) {
		r := a.me(t, refresh)
		requireError(t, r, 401, "INVALID_TOKEN_TYPE", "Invalid token type for this operation")
		assert.Equal(t, "Bearer", r.Header().Get("WWW-Authenticate"))
	})
	t.Run("AlgNone", func(t *testing.T) {
		claims := jwt.MapClaims{"sub": uuid.NewString(), "email": "tok@example.com", "type": "access",
			"iat": a.clock.Now().Unix(), "exp": a.clock.Now().Add(time.Hour).Unix()}
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		requireError(t, a.me(t, none), 401, "INVALID_TOKEN", "")
	})
	t.Run("ForeignSecretAndOtherAlgorithm", func(t *testing.T) {
		var sub string
		require.NoError(t, a.pool.QueryRow(context.Background(), "SELECT id::text FROM users WHERE email = 'tok@example.com'").Scan(&sub))
		claims := jwt.MapClaims{"sub": sub, "email": "tok@example.com", "type": "access",
			"iat": a.clock.Now().Unix(), "exp": a.clock.Now().Add(time.Hour).Unix()}
		foreign, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(strings.Repeat("f", 64)))
		require.NoError(t, err)
		requireError(t, a.me(t, foreign), 401, "INVALID_TOKEN", "")
		hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString([]byte(testSecret))
		require.NoError(t, err)
		requireError(t, a.me(t, hs512), 401, "INVALID_TOKEN", "")
		// The same claims signed correctly are accepted: the key is the
		// variable's bytes as given, so another service can verify them.
		ours, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, a.me(t, ours).Code)
	})
	t.Run("UnknownUser", func(t *testing.T) {
		ghost, err := a.tokens.IssueAccess(uuid.New(), "ghost@example.com", uuid.New())
		require.NoError(t, err)
		r := a.me(t, ghost)
		requireError(t, r, 401, "INVALID_TOKEN", "")
		assert.Equal(t, "Bearer", r.Header().Get("WWW-Authenticate"))
	})
	t.Run("Expired", func(t *testing.T) {
		b := newApp(t)
		access, _ := b.login(t, "exp@example.com", "correct-horse")
		b.clock.Advance(15*time.Minute + time.Second)
		r := b.me(t, access)
		requireError(t, r, 401, "TOKEN_EXPIRED", "Access token has expired")
		assert.Equal(t, "Bearer", r.Header().Get("WWW-Authenticate"))
	})
}

func TestMeCostsOneStatement(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	access, refresh := a.login(t, "count@example.com", "correct-horse")

	before := a.queries.n.Load()
	require.Equal(t, http.StatusOK, a.me(t, access).Code)
	assert.Equal(t, int64(1), a.queries.n.Load()-before, "GET /auth/me")

	before = a.queries.n.Load()
	require.Equal(t, http.StatusOK, a.refresh(t, refresh).Code)
	assert.Equal(t, int64(1), a.queries.n.Load()-before, "POST /auth/refresh with rotation")
}
