// Package api implements the generated strict server interfaces with the
// generated queries: one handler type per spec.
package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/todoapp/todo-api/gen/authapi"
	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/store"
)

// Cookie settings of the refresh token (openapi/auth-api.yaml, loginUser).
const (
	RefreshCookieName = "refresh_token"
	RefreshCookiePath = "/api/v1/auth"
	minPasswordChars  = 8
)

var _ authapi.StrictServerInterface = (*AuthHandler)(nil)

// AuthHandler serves the auth API: accounts, sessions and tokens.
type AuthHandler struct {
	onReuse      func() // a replayed refresh token was caught (metrics); may be nil
	db           *store.DB
	q            *db.Queries
	hasher       *auth.Hasher
	tokens       *auth.Tokens
	cookieSecure bool
	reuseGrace   time.Duration
	now          func() time.Time
}

// NewAuthHandler returns the auth API handler. reuseGrace is how long after a
// rotation the replaced refresh token is still honoured (two tabs refreshing
// at once); a replay later than that revokes the session.
func NewAuthHandler(dbtx *store.DB, hasher *auth.Hasher, tokens *auth.Tokens,
	cookieSecure bool, reuseGrace time.Duration, now func() time.Time) (*AuthHandler, error) {
	if dbtx == nil || hasher == nil || tokens == nil || now == nil {
		return nil, fmt.Errorf("api: NewAuthHandler needs a database, hasher, tokens and clock")
	}
	return &AuthHandler{db: dbtx, q: db.New(dbtx), hasher: hasher, tokens: tokens,
		cookieSecure: cookieSecure, reuseGrace: reuseGrace, now: now}, nil
}

// OnRefreshReuse makes f run each time a replayed refresh token revokes its
// session (metrics). Call it before the handler is in use.
func (h *AuthHandler) OnRefreshReuse(f func()) { h.onReuse = f }

// RegisterUser creates an account. Errors: INVALID_EMAIL, PASSWORD_TOO_SHORT,
// PASSWORD_TOO_LONG, EMAIL_ALREADY_EXISTS.
func (h *AuthHandler) RegisterUser(ctx context.Context, req authapi.RegisterUserRequestObject) (authapi.RegisterUserResponseObject, error) {
	email, ok := auth.NormaliseEmail(req.Body.Email)
	if !ok {
		return nil, apperr.InvalidEmail.WithField("email")
	}
	if err := checkPassword(req.Body.Password, "password"); err != nil {
		return nil, err
	}
	hash, err := h.hasher.Hash(ctx, req.Body.Password)
	if err != nil {
		return nil, err
	}
	row, err := h.q.CreateUser(ctx, db.CreateUserParams{Email: email, PasswordHash: hash, Name: trimName(ptr(req.Body.Name))})
	switch {
	case store.UniqueViolation(err, "users_email_key"):
		return nil, apperr.EmailAlreadyExists.WithField("email")
	case store.CheckViolation(err, "users_email_normalised"):
		// Go and PostgreSQL lower-case some exotic letters differently.
		return nil, apperr.InvalidEmail.WithField("email")
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return authapi.RegisterUser201JSONResponse(toUser(row.ID, row.Email, row.Name, row.CreatedAt)), nil
}

// LoginUser checks the credentials and starts a session. Unknown email, wrong
// password and an over-long password all answer INVALID_CREDENTIALS after the
// same bcrypt work.
func (h *AuthHandler) LoginUser(ctx context.Context, req authapi.LoginUserRequestObject) (authapi.LoginUserResponseObject, error) {
	var user db.GetUserCredentialsRow // no user: an empty hash, compared all the same
	if email, ok := auth.NormaliseEmail(req.Body.Username); ok {
		var err error
		user, err = h.q.GetUserCredentials(ctx, email)
		if err != nil && !store.IsNotFound(err) {
			return nil, fmt.Errorf("get user: %w", err)
		}
	}
	ok, err := h.hasher.Matches(ctx, user.PasswordHash, req.Body.Password) // "" hash when not found
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.InvalidCredentials
	}
	now := h.now()
	sid, jti := uuid.New(), uuid.New()
	expires := now.Add(h.tokens.RefreshTTL())
	accessExpires := h.accessExpiry(now)
	n, err := h.q.CreateSession(ctx, db.CreateSessionParams{ID: sid, UserID: user.ID, CurrentJti: jti, ExpiresAt: expires,
		AccessExpiresAt: &accessExpires, UserAgent: userAgent(req.Params.UserAgent), Now: now, PasswordHash: user.PasswordHash})
	switch {
	case err != nil:
		return nil, fmt.Errorf("create session: %w", err)
	case n == 0: // the password changed, or the account went, since it was verified
		return nil, apperr.InvalidCredentials
	}
	body, cookie, err := h.issue(user.ID, user.Email, sid, jti, expires)
	if err != nil {
		return nil, err
	}
	return authapi.LoginUser200JSONResponse{Body: body, Headers: authapi.LoginUser200ResponseHeaders{SetCookie: cookie}}, nil
}

// RefreshToken rotates the refresh cookie and returns a new access token.
func (h *AuthHandler) RefreshToken(ctx context.Context, req authapi.RefreshTokenRequestObject) (authapi.RefreshTokenResponseObject, error) {
	if req.Params.RefreshToken == nil || *req.Params.RefreshToken == "" {
		return nil, apperr.MissingRefreshToken
	}
	claims, err := h.tokens.Verify(*req.Params.RefreshToken, auth.Refresh)
	if err != nil {
		return nil, TokenError(err, auth.Refresh)
	}
	sid, jti := claims.Session()
	now := h.now()
	newJTI, expires := uuid.New(), now.Add(h.tokens.RefreshTTL())
	row, err := h.q.RotateSession(ctx, db.RotateSessionParams{NewJti: newJTI, Now: now, ExpiresAt: expires,
		AccessExpiresAt: h.accessExpiry(now), ID: sid, Jti: jti})
	switch {
	case store.IsNotFound(err):
		return h.refreshNotRotated(ctx, sid, jti, now)
	case err != nil:
		return nil, fmt.Errorf("rotate session: %w", err)
	}
	return h.refreshed(row.UserID, row.Email, sid, newJTI, expires)
}

// refreshed answers a refresh with new tokens of the session.
func (h *AuthHandler) refreshed(userID uuid.UUID, email string, sid, jti uuid.UUID, expires time.Time) (authapi.RefreshTokenResponseObject, error) {
	body, cookie, err := h.issue(userID, email, sid, jti, expires)
	if err != nil {
		return nil, err
	}
	return authapi.RefreshToken200JSONResponse{Body: body, Headers: authapi.RefreshToken200ResponseHeaders{SetCookie: cookie}}, nil
}

// refreshNotRotated handles a refresh token that is not its session's
// current one: a concurrent refresh inside the grace window gets the current
// token again; any other replay revokes the whole session.
func (h *AuthHandler) refreshNotRotated(ctx context.Context, sid, jti uuid.UUID, now time.Time) (authapi.RefreshTokenResponseObject, error) {
	s, err := h.q.GetSession(ctx, sid)
	switch {
	case store.IsNotFound(err):
		return nil, apperr.InvalidToken
	case err != nil:
		return nil, fmt.Errorf("get session: %w", err)
	case s.RevokedAt != nil:
		return nil, apperr.InvalidToken
	case !s.ExpiresAt.After(now):
		return nil, apperr.RefreshTokenExpired
	}
	if s.PreviousJti != nil && *s.PreviousJti == jti && s.RotatedAt != nil && now.Sub(*s.RotatedAt) <= h.reuseGrace {
		// A new access token: its session's revocation must outlive it.
		if err := h.q.NoteAccessIssued(ctx, db.NoteAccessIssuedParams{AccessExpiresAt: h.accessExpiry(now), ID: sid}); err != nil {
			return nil, fmt.Errorf("note access token: %w", err)
		}
		return h.refreshed(s.UserID, s.Email, sid, s.CurrentJti, s.ExpiresAt)
	}
	// A rotated-out token came back after the grace window: someone holds a
	// copy. End the session so neither copy works.
	if err := h.q.RevokeSession(ctx, db.RevokeSessionParams{Now: now, ID: sid}); err != nil {
		return nil, fmt.Errorf("revoke session: %w", err)
	}
	if h.onReuse != nil {
		h.onReuse()
	}
	return nil, apperr.InvalidToken
}

// GetCurrentUser returns the user of the access token. The auth middleware
// has verified the token; a user deleted since is INVALID_TOKEN.
func (h *AuthHandler) GetCurrentUser(ctx context.Context, _ authapi.GetCurrentUserRequestObject) (authapi.GetCurrentUserResponseObject, error) {
	id, ok := auth.UserID(ctx)
	if !ok {
		return nil, apperr.MissingToken
	}
	u, err := h.q.GetUserByID(ctx, id)
	if err != nil {
		return nil, userGone(err, "get user")
	}
	return authapi.GetCurrentUser200JSONResponse(toUser(u.ID, u.Email, u.Name, u.CreatedAt)), nil
}

// UpdateCurrentUser sets or clears the user's display name.
func (h *AuthHandler) UpdateCurrentUser(ctx context.Context, req authapi.UpdateCurrentUserRequestObject) (authapi.UpdateCurrentUserResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	u, err := h.q.UpdateUserName(ctx, db.UpdateUserNameParams{Name: trimName(ptr(req.Body.Name)), ID: uid})
	if err != nil {
		return nil, userGone(err, "update user")
	}
	return authapi.UpdateCurrentUser200JSONResponse(toUser(u.ID, u.Email, u.Name, u.CreatedAt)), nil
}

// ChangePassword checks the current password, sets the new one and ends
// every other session of the user. Errors: INVALID_CURRENT_PASSWORD,
// PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG.
func (h *AuthHandler) ChangePassword(ctx context.Context, req authapi.ChangePasswordRequestObject) (authapi.ChangePasswordResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(req.Body.NewPassword, "new_password"); err != nil {
		return nil, err
	}
	if err := h.confirmPassword(ctx, uid, req.Body.CurrentPassword, "current_password"); err != nil {
		return nil, err
	}
	hash, err := h.hasher.Hash(ctx, req.Body.NewPassword)
	if err != nil {
		return nil, err
	}
	keep, hasSession := auth.SessionID(ctx)
	others := db.RevokeUserSessionsParams{UserID: uid, Now: h.now()}
	if hasSession {
		others.Keep = &keep
	}
	// Two statements in one transaction (db/queries/users.sql:
	// SetPasswordHash says why).
	err = h.db.InTx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		n, err := q.SetPasswordHash(ctx, db.SetPasswordHashParams{PasswordHash: hash, ID: uid})
		switch {
		case err != nil:
			return fmt.Errorf("set password: %w", err)
		case n == 0:
			return apperr.InvalidToken // the user is gone
		}
		if _, err := q.RevokeUserSessions(ctx, others); err != nil {
			return fmt.Errorf("end the other sessions: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return authapi.ChangePassword200JSONResponse{Message: "Password changed"}, nil
}

// DeleteAccount checks the password, then deletes the user and everything
// it owns in one transaction. Errors: INVALID_CURRENT_PASSWORD.
func (h *AuthHandler) DeleteAccount(ctx context.Context, req authapi.DeleteAccountRequestObject) (authapi.DeleteAccountResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.confirmPassword(ctx, uid, req.Body.Password, "password"); err != nil {
		return nil, err
	}
	n, err := h.q.DeleteUser(ctx, uid)
	switch {
	case err != nil:
		return nil, fmt.Errorf("delete user: %w", err)
	case n == 0:
		return nil, apperr.InvalidToken // deleted meanwhile
	}
	return authapi.DeleteAccount204Response{Headers: authapi.DeleteAccount204ResponseHeaders{SetCookie: h.clearCookie()}}, nil
}

// confirmPassword checks the user's password through the bounded hasher:
// INVALID_CURRENT_PASSWORD (naming field) when it is wrong, INVALID_TOKEN
// when the user is gone.
func (h *AuthHandler) confirmPassword(ctx context.Context, uid uuid.UUID, password, field string) error {
	hash, err := h.q.GetPasswordHash(ctx, uid)
	if err != nil {
		return userGone(err, "get password hash")
	}
	ok, err := h.hasher.Matches(ctx, hash, password)
	switch {
	case err != nil:
		return err
	case !ok:
		return apperr.InvalidCurrentPassword.WithField(field)
	}
	return nil
}

// LogoutUser revokes the cookie's session, if any, and clears the cookie.
func (h *AuthHandler) LogoutUser(ctx context.Context, req authapi.LogoutUserRequestObject) (authapi.LogoutUserResponseObject, error) {
	if req.Params.RefreshToken != nil && *req.Params.RefreshToken != "" {
		if claims, err := h.tokens.Verify(*req.Params.RefreshToken, auth.Refresh); err == nil {
			sid, _ := claims.Session()
			if err := h.q.RevokeSession(ctx, db.RevokeSessionParams{Now: h.now(), ID: sid}); err != nil {
				return nil, fmt.Errorf("revoke session: %w", err)
			}
		}
	}
	return authapi.LogoutUser200JSONResponse{
		Body:    authapi.MessageResponse{Message: "Successfully logged out"},
		Headers: authapi.LogoutUser200ResponseHeaders{SetCookie: h.clearCookie()},
	}, nil
}

// accessExpiry bounds the expiry of an access token issued at now (a token's
// expiry is whole seconds): what its session records, so that a revocation
// is kept as long as the token could be used, on every replica.
func (h *AuthHandler) accessExpiry(now time.Time) time.Time {
	return now.Add(h.tokens.AccessTTL() + time.Second).Truncate(time.Second)
}

// issue signs an access token and the session's refresh token.
func (h *AuthHandler) issue(userID uuid.UUID, email string, sid, jti uuid.UUID, expires time.Time) (authapi.TokenResponse, string, error) {
	access, err := h.tokens.IssueAccess(userID, email, sid)
	if err != nil {
		return authapi.TokenResponse{}, "", err
	}
	refresh, err := h.tokens.IssueRefresh(userID, email, sid, jti, expires)
	if err != nil {
		return authapi.TokenResponse{}, "", err
	}
	maxAge := int(expires.Sub(h.now()).Round(time.Second) / time.Second)
	return authapi.TokenResponse{AccessToken: access, TokenType: authapi.Bearer}, h.cookie(refresh, max(maxAge, 1)), nil
}

// clearCookie is the Set-Cookie that removes the refresh cookie.
func (h *AuthHandler) clearCookie() string { return h.cookie("", -1) }

// cookie renders the refresh cookie; maxAge < 0 clears it (Max-Age=0).
func (h *AuthHandler) cookie(value string, maxAge int) string {
	// Secure is COOKIE_SECURE (default true); only development turns it off.
	return (&http.Cookie{ //nolint:gosec // G124: see above
		Name: RefreshCookieName, Value: value, Path: RefreshCookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: h.cookieSecure, SameSite: http.SameSiteStrictMode,
	}).String()
}

// TokenError is the contract's answer to a token that failed
// verification as a token of type want: an expired access token is
// TOKEN_EXPIRED, an expired refresh token REFRESH_TOKEN_EXPIRED, the other
// type INVALID_TOKEN_TYPE, anything else INVALID_TOKEN.
func TokenError(err error, want auth.TokenType) *apperr.Error {
	switch {
	case errors.Is(err, auth.ErrExpired) && want == auth.Refresh:
		return apperr.RefreshTokenExpired
	case errors.Is(err, auth.ErrExpired):
		return apperr.TokenExpired
	case errors.Is(err, auth.ErrWrongType):
		return apperr.InvalidTokenType
	}
	return apperr.InvalidToken
}

// checkPassword checks a new password's length; field names it in errors.
func checkPassword(pw, field string) error {
	if utf8.RuneCountInString(pw) < minPasswordChars {
		return apperr.PasswordTooShort.WithField(field)
	}
	if len(pw) > auth.MaxPasswordBytes {
		return apperr.PasswordTooLong.WithField(field)
	}
	return nil
}

func trimName(name *string) *string {
	if name == nil {
		return nil
	}
	n := strings.TrimSpace(*name)
	if n == "" {
		return nil
	}
	return &n
}

func toUser(id uuid.UUID, email string, name *string, createdAt time.Time) authapi.UserResponse {
	return authapi.UserResponse{Id: id, Email: openapi_types.Email(email), Name: toNullable(name), CreatedAt: createdAt.UTC()}
}
